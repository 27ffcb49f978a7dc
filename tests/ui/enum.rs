use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
enum Login {
    Success { id: u64 },
    Failure { id: u64 },
}

fn main() {}
