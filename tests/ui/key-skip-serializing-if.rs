use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    subject: String,
}

fn main() {}
