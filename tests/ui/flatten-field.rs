use kafka_events::KafkaEvent;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    #[serde(flatten)]
    extra: BTreeMap<String, String>,
}

fn main() {}
