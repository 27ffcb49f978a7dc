use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize)]
struct Ids {
    request_id: u64,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "ids")]
struct Login {
    #[serde(flatten)]
    ids: Ids,
    subject: String,
}

fn main() {}
