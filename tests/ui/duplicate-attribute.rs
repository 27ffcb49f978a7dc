use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
#[event(topic = "usage")]
struct Login {
    id: u64,
}

fn main() {}
