use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id", type = "login")]
struct Login {
    id: u64,
    #[event(type)]
    kind: String,
}

fn main() {}
