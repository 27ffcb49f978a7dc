//! CPU cost of handing one ~400-byte `AuditEntry` to librdkafka: `emit_detached` against the
//! hand-written equivalent (`serde_json::to_vec` + `BaseProducer::send` with the same key and
//! headers). Both producers point at a closed port, so only the enqueue is measured; the queue
//! is purged between batches, outside the timing.
//!
//! ```text
//! cargo bench --bench emit
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kafka_events::{AuditEntry, KafkaConfig, KafkaEvent, KafkaProducer};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, PurgeConfig};
use uuid::Uuid;

/// Nothing listens here: records stay queued.
const NOWHERE: &str = "127.0.0.1:1";
const BATCH: u64 = 50_000;

fn entry() -> AuditEntry {
    AuditEntry {
        tenant_id: Some(Uuid::new_v4()),
        subject: "auth0|5f7c8ec7c33c6c004bbafe82".into(),
        jti: Some(Uuid::from_u128(0xb7d1c0e2_4c1a_4b8e_9d55_1d2f0e5a9c31)),
        http_method: "POST".into(),
        resource: "orders".into(),
        source_ip: "203.0.113.7".into(),
        user_agent: "curl/8.5.0".into(),
        service: "orders-api".into(),
        endpoint: "/orders/{id}".into(),
        full_url: "/orders/1029".into(),
        request_id: "4bf92f3577b34da6".into(),
        status_code: 201,
        duration_ms: 1.25,
        ..AuditEntry::new()
    }
}

fn queue_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", NOWHERE)
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "4000000")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("partitioner", "fnv1a_random");
    config
}

/// Times `iters` calls of `send` in batches; `drain` runs between batches, untimed, so no
/// background work from one batch (purged records' reports) overlaps the next.
fn in_batches(iters: u64, mut send: impl FnMut(), mut drain: impl FnMut()) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let started = Instant::now();
        for _ in 0..n {
            send();
        }
        elapsed += started.elapsed();
        drain();
        left -= n;
    }
    elapsed
}

fn emit(c: &mut Criterion) {
    let entry = entry();
    println!(
        "entry: {} bytes of JSON",
        serde_json::to_vec(&entry).unwrap().len()
    );
    let ours =
        KafkaProducer::new(&KafkaConfig::new([NOWHERE]).max_queued(2_000_000, 4_000_000_000))
            .unwrap();
    let raw: BaseProducer = queue_config().create().unwrap();
    let mut group = c.benchmark_group("enqueue one AuditEntry");
    group.bench_function("kafka-events emit_detached", |b| {
        b.iter_custom(|iters| {
            in_batches(
                iters,
                || black_box(&entry).emit_detached(&ours).unwrap(),
                || {
                    ours.rdkafka().purge(PurgeConfig::default().queue());
                    ours.rdkafka().flush(Duration::from_secs(30)).unwrap();
                },
            )
        })
    });
    group.bench_function("hand-written to_vec + BaseProducer::send", |b| {
        b.iter_custom(|iters| {
            in_batches(
                iters,
                || {
                    let entry = black_box(&entry);
                    let payload = serde_json::to_vec(entry).unwrap();
                    let key = entry.id.to_string();
                    let headers = OwnedHeaders::new_with_capacity(2)
                        .insert(Header {
                            key: "content-type",
                            value: Some("application/json"),
                        })
                        .insert(Header {
                            key: "event-type",
                            value: Some("audit.log"),
                        });
                    raw.send(
                        BaseRecord::<_, _, ()>::to("audit")
                            .key(&key)
                            .payload(&payload)
                            .headers(headers),
                    )
                    .unwrap();
                },
                || {
                    raw.purge(PurgeConfig::default().queue());
                    raw.flush(Duration::from_secs(30)).unwrap();
                },
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = emit
}
criterion_main!(benches);
