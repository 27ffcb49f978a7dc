use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "metrics", key = "value")]
struct Reading {
    value: f64,
}

fn main() {}
