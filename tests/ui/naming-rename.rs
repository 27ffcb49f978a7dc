use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    #[serde(rename = "userAgent")]
    user_agent: String,
}

fn main() {}
