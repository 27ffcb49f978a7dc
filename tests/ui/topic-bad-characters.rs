use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit events", key = "id")]
struct Login {
    id: u64,
}

fn main() {}
