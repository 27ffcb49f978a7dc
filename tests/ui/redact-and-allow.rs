use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "accounts", key = "id")]
struct AccountCreated {
    id: u64,
    #[event(redact, allow_sensitive)]
    password: String,
}

fn main() {}
