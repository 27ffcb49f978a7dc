use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "accounts", key = "id")]
struct AccountCreated {
    id: u64,
    user: String,
    #[serde(rename = "api_key")]
    key: String,
    password: String,
}

fn main() {}
