use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id", naming = "camel")]
struct Login {
    id: u64,
}

fn main() {}
