use kafka_events::KafkaEvent;
use serde::Serialize;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", envelope_with = "order_envelope")]
struct Order {
    id: u64,
}

// `fields` is here; `write_payload` is not.
mod order_envelope {
    use kafka_events::envelope::EnvelopeFields;

    pub fn fields(_: &super::Order) -> EnvelopeFields<'_> {
        EnvelopeFields::default()
    }
}

fn main() {}
