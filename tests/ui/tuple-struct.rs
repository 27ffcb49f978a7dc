use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "0")]
struct Login(u64, String);

fn main() {}
