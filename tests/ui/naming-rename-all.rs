use kafka_events::KafkaEvent;
use serde::Serialize;

// One error for the attribute, listing every field it breaks.
#[derive(Serialize, KafkaEvent)]
#[serde(rename_all = "camelCase")]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    tenant_id: String,
    user_name: String,
}

fn main() {}
