use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    #[serde(skip_serializing)]
    id: u64,
    subject: String,
}

fn main() {}
