use kafka_events::KafkaEvent;
use serde::Serialize;

// `types` lists the values of a type field: not for a fixed type.
#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id", type = "login", types = ["login"])]
struct Fixed {
    id: u64,
}

// Nor without a type field.
#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id", types = ["login"])]
struct Untyped {
    id: u64,
}

// Each value once, none empty, string literals only.
#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id", types = ["login", "", "login", 7])]
struct Listed {
    id: u64,
    #[event(type)]
    kind: String,
}

fn main() {}
