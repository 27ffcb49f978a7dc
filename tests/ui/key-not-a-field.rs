use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "event_id")]
struct Login {
    id: u64,
    subject: String,
}

fn main() {}
