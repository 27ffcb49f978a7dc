use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(partitions = 3, topic = "audit", key = "id")]
struct Login {
    id: u64,
}

fn main() {}
