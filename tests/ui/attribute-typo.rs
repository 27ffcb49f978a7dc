use kafka_events::KafkaEvent;
use serde::Serialize;

// One mistake, one error: the typo, with the likely name; not also "missing topic".
#[derive(Serialize, KafkaEvent)]
#[event(topik = "audit", key = "id")]
struct Login {
    id: u64,
}

// An unknown key that is no typo of a missing one hides nothing.
#[derive(Serialize, KafkaEvent)]
#[event(partitions = 3, key = "id")]
struct Logout {
    id: u64,
}

fn main() {}
