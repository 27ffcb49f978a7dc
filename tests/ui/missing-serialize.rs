use kafka_events::KafkaEvent;

#[derive(KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
}

fn main() {}
