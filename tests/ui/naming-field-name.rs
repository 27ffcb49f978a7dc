use kafka_events::KafkaEvent;
use serde::Serialize;

#[allow(non_snake_case)]
#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    tenantId: String,
}

fn main() {}
