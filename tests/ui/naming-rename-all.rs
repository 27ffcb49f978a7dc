use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[serde(rename_all = "camelCase")]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    tenant_id: String,
}

fn main() {}
