use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "sessions", key = "session_id")]
struct SessionOpened {
    #[event(redact)]
    session_id: String,
}

fn main() {}
