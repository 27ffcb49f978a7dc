use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(key = "id")]
struct Login {
    id: u64,
}

fn main() {}
