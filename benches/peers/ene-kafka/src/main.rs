//! ene_kafka 0.2 sending AuditEntry-shaped events with 64 concurrent tasks, each awaiting its
//! send (ene_kafka's only way to send), as `examples/benchmarks.rs` runs our awaited `emit`.
//! Prints the throughput.
//!
//! ```text
//! ene-kafka-peer BOOTSTRAP N CONCURRENCY
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ene_kafka::kafka_producer;
use ene_kafka::producers::producer::KafkaProducerInterface;
use ene_kafka_derive::{CloudEvent, KafkaMessage};
use serde::Serialize;

#[derive(KafkaMessage, Serialize, CloudEvent, Debug, Clone)]
#[kafka(topic = "audit", serde = Json, key = id, headers = CloudEvent)]
#[cloud_event(
    content_type = "application/json",
    version = "1.0",
    event_type = "audit.log",
    event_source = "https://kafka-events.example/benchmarks",
    id = id
)]
struct AuditEntry {
    id: String,
    tenant_id: String,
    subject: String,
    http_method: String,
    resource: String,
    source_ip: String,
    user_agent: String,
    timestamp: String,
    service: String,
    endpoint: String,
    full_url: String,
    status_code: u16,
    duration_ms: f64,
}

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        id: format!("00000000-0000-4000-8000-{i:012}"),
        tenant_id: "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f".into(),
        subject: format!("user-{}", i % 97),
        http_method: "POST".into(),
        resource: "orders".into(),
        source_ip: "203.0.113.7".into(),
        user_agent: "benchmarks/1".into(),
        timestamp: "2026-11-27T05:00:00.000000Z".into(),
        service: "benchmarks".into(),
        endpoint: "/orders/{id}".into(),
        full_url: format!("http://127.0.0.1/orders/{i}"),
        status_code: 201,
        duration_ms: 1.25,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, n, concurrency] = &args[..] else {
        eprintln!("usage: ene-kafka-peer BOOTSTRAP N CONCURRENCY");
        std::process::exit(2);
    };
    let (n, concurrency): (usize, usize) = (n.parse().unwrap(), concurrency.parse().unwrap());
    let producer = Arc::new(kafka_producer!(bootstrap_servers = bootstrap.clone()));
    // Connected before the clock starts.
    producer.send(entry(usize::MAX / 2)).await.unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (producer, next) = (producer.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    producer.send(entry(i)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    println!("{:.0}", n as f64 / started.elapsed().as_secs_f64());
}
