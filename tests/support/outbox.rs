//! What the outbox tests share: the event they stage, and reading a topic back whole.

#![allow(dead_code)]

use std::time::Duration;

use kafka_events::testing::read_topic_idle;
use kafka_events::{KafkaEvent, Record};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(topic = "orders", key = "order_id", type = "order.placed")]
pub struct OrderPlaced {
    pub order_id: i64,
    pub seq: i64,
    pub note: String,
}

pub fn order(order_id: i64, seq: i64) -> OrderPlaced {
    OrderPlaced {
        order_id,
        seq,
        note: String::new(),
    }
}

/// Everything topic `orders` holds, duplicates included (read off the async worker).
pub async fn read_orders(bootstrap: &str) -> Vec<Record> {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || {
        read_topic_idle(
            &bootstrap,
            "orders",
            Duration::from_secs(2),
            Duration::from_secs(60),
        )
        .unwrap()
    })
    .await
    .unwrap()
}
