//! Emits an `AuditEntry`, an `AuthEvent` and an event of its own, reads them back with an
//! independent consumer and prints them as JSON lines.
//!
//! ```text
//! cargo run --example quickstart                          # on the embedded broker
//! KAFKA_BROKERS=127.0.0.1:9092 cargo run --example quickstart   # on a real one
//! ```
//!
//! On a real broker the topics `audit` and `quickstart.orders` must exist (or be auto-created).

use std::time::Duration;

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
    for (key, delivery) in [
        (entry.key().as_ref().to_vec(), entry.emit(&producer).await?),
        (login.key().as_ref().to_vec(), login.emit(&producer).await?),
        (order.key().as_ref().to_vec(), order.emit(&producer).await?),
    ] {
        eprintln!(
            "delivered {} to {}[{}] at offset {}",
            String::from_utf8_lossy(&key),
            delivery.topic,
            delivery.partition,
            delivery.offset
        );
        sent.push((delivery.topic, key));
    }
    producer.close(Duration::from_secs(10)).await?;

    let bootstrap = config.brokers.join(",");
    let mut found = 0;
    for topic in ["audit", "quickstart.orders"] {
        let ours: Vec<&[u8]> = sent
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, k)| k.as_slice())
            .collect();
        let is_ours = |r: &Record| ours.contains(&r.key.as_slice());
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
    let headers: serde_json::Map<String, serde_json::Value> = record
        .headers
        .iter()
        .map(|h| (h.name.to_string(), String::from_utf8_lossy(&h.value).into()))
        .collect();
    serde_json::to_string(&serde_json::json!({
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": String::from_utf8_lossy(&record.key),
        "headers": headers,
        "value": record.json()?,
    }))
}

/// Distinct per run, so reading a real broker's topic finds this run's order.
fn rand_order_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 >> 12
}
