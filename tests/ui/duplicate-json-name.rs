use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    subject: String,
    #[serde(rename = "subject")]
    user: String,
}

fn main() {}
