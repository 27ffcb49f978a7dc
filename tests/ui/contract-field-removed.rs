use kafka_events::KafkaEvent;
use serde::Serialize;

// The committed contract promises `total_cents`; the struct no longer writes it.
#[derive(Serialize, KafkaEvent)]
#[event(
    topic = "orders",
    key = "order_id",
    type = "order.placed",
    contract = "tests/ui/contracts/orders/order.placed.json"
)]
struct OrderPlaced {
    order_id: u64,
    customer: String,
}

fn main() {}
