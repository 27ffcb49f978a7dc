use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", envelope_with = "order envelope")]
struct Order {
    id: u64,
}

fn main() {}
