use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[serde(rename_all = "snakecase")]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
}

fn main() {}
