use kafka_events::KafkaEvent;
use serde::Serialize;

// Three mistakes, three errors, and no follow-on error where the type is used.
#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit!", key = "uuid")]
struct Login {
    id: u64,
    #[serde(rename = "Subject")]
    subject: String,
}

fn topic_of<E: KafkaEvent>() -> &'static str {
    E::TOPIC
}

fn main() {
    let _ = topic_of::<Login>();
}
