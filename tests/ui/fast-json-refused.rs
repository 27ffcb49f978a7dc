// What `fast_json` can't write the way serde's derive does is refused, each at its token.
use kafka_events::KafkaEvent;
use serde::Serialize;

mod elsewhere {
    pub struct Order {
        pub id: u64,
    }
}

#[derive(Serialize, KafkaEvent)]
#[serde(remote = "elsewhere::Order")]
#[event(topic = "orders", key = "id", fast_json)]
struct Remote {
    id: u64,
}

impl Serialize for Remote {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.id)
    }
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json)]
struct Generic<T: Serialize> {
    id: u64,
    value: T,
}

#[derive(Clone, Serialize)]
struct Wire {
    id: u64,
}

impl From<Into> for Wire {
    fn from(value: Into) -> Wire {
        Wire { id: value.id }
    }
}

#[derive(Clone, Serialize, KafkaEvent)]
#[serde(into = "Wire")]
#[event(topic = "orders", key = "id", fast_json)]
struct Into {
    id: u64,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json = "yes")]
struct WithValue {
    id: u64,
}

fn main() {}
