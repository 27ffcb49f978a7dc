//! Emits an `AuditEntry`, an `AuthEvent` and an event of its own, reads them back with an
//! independent consumer and prints them as JSON lines.
//!
//! ```text
//! cargo run --example quickstart                          # on the embedded broker
//! KAFKA_BROKERS=127.0.0.1:9092 cargo run --example quickstart   # on a real one
//! cargo run --example quickstart -- --envelope           # in the EventJson envelope
//! ```
//!
//! `--envelope` writes every event in the `EventJson` envelope that today's Go services read
//! (README "Wire formats"), as `KAFKA_WIRE_FORMAT=envelope` would.
//!
//! On a real broker the topics `audit` and `quickstart.orders` must exist (or be auto-created).

use std::time::Duration;

use kafka_events::envelope::EnvelopeConfig;
use kafka_events::testing::{EmbeddedKafka, read_topic_until};
use kafka_events::{
    AuditEntry, AuthEvent, KafkaConfig, KafkaEvent, KafkaProducer, Producer, Record,
};
use serde::Serialize;

/// An event of our own: the derive checks its topic, key and JSON names at compile time.
#[derive(Serialize, KafkaEvent)]
#[event(topic = "quickstart.orders", key = "order_id", type = "order.placed")]
struct OrderPlaced {
    order_id: u64,
    customer: String,
    total_cents: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The library reports what needs an operator's eye (an outage, a refused record, a fatal
    // librdkafka error it recovered from) through `tracing`: a service installs a subscriber.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    // Keep the embedded broker alive until the end; None when KAFKA_BROKERS points elsewhere.
    let (_embedded, config) = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => (None, KafkaConfig::new([brokers])),
        Err(_) => {
            let kafka = EmbeddedKafka::start()?;
            kafka.create_topic("audit", 3)?;
            kafka.create_topic("quickstart.orders", 3)?;
            let config = kafka.producer_config();
            (Some(kafka), config)
        }
    };
    let config = if std::env::args().any(|a| a == "--envelope") {
        config.envelope(EnvelopeConfig::new(
            "quickstart.orders.api.v1",
            "quickstart",
        ))
    } else {
        config
    };
    let producer = KafkaProducer::new(&config)?;

    let entry = AuditEntry {
        http_method: "POST".into(),
        endpoint: "/orders".into(),
        resource: "orders".into(),
        service: "quickstart".into(),
        subject: "alice".into(),
        ..AuditEntry::new()
    };
    let login = AuthEvent::login_success("quickstart", "alice");
    let order = OrderPlaced {
        order_id: rand_order_id(),
        customer: "alice".into(),
        total_cents: 1999,
    };

    let mut sent = Vec::new();
    for (what, delivery) in [
        ("audit entry", entry.emit(&producer).await?),
        ("login event", login.emit(&producer).await?),
        ("order", order.emit(&producer).await?),
    ] {
        eprintln!(
            "delivered the {what} to {}[{}] at offset {}",
            delivery.topic, delivery.partition, delivery.offset
        );
        sent.push(delivery);
    }
    producer.close(Duration::from_secs(10)).await?;

    let bootstrap = config.brokers.join(",");
    let mut found = 0;
    for topic in ["audit", "quickstart.orders"] {
        // Where the broker stored ours (a real broker's topics may hold others).
        let ours: Vec<(i32, i64)> = sent
            .iter()
            .filter(|d| d.topic == topic)
            .map(|d| (d.partition, d.offset))
            .collect();
        let is_ours = |r: &Record| ours.contains(&(r.partition, r.offset));
        let records = read_topic_until(&bootstrap, topic, Duration::from_secs(20), |records| {
            records.iter().filter(|r| is_ours(r)).count() == ours.len()
        })?;
        for record in records.iter().filter(|r| is_ours(r)) {
            println!("{}", json_line(record)?);
            found += 1;
        }
    }
    if found != sent.len() {
        return Err(format!("read back {found} of {} events", sent.len()).into());
    }
    Ok(())
}

fn json_line(record: &Record) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Line<'a> {
        headers: std::collections::BTreeMap<&'a str, std::borrow::Cow<'a, str>>,
        key: std::borrow::Cow<'a, str>,
        offset: i64,
        partition: i32,
        topic: &'a str,
        /// The value byte for byte (an envelope's `md5_hash` is of its payload's text).
        value: &'a serde_json::value::RawValue,
    }
    serde_json::to_string(&Line {
        headers: record
            .headers
            .iter()
            .map(|h| (h.name.as_ref(), String::from_utf8_lossy(&h.value)))
            .collect(),
        key: String::from_utf8_lossy(&record.key),
        offset: record.offset,
        partition: record.partition,
        topic: &record.topic,
        value: serde_json::from_slice(&record.payload)?,
    })
}

/// Distinct per run, so reading a real broker's topic finds this run's order.
fn rand_order_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 >> 12
}
