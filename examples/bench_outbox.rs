//! The transactional outbox's benchmarks: what `stage` adds to a transaction, the relay's
//! throughput against `emit_detached` of the same events, and the time from a commit to the
//! broker's acknowledgement. `examples/benchmarks.rs` includes this file for BENCHMARKS.md;
//! alone it prints its section:
//!
//! ```text
//! KAFKA_EVENTS_TANSU=$(scripts/tansu.sh bin) cargo run --release --features outbox-postgres --example bench_outbox [-- --quick]
//! ```
//!
//! It needs PostgreSQL's binaries (a throwaway cluster, `tests/support/postgres.rs`).

#[path = "../tests/support/postgres.rs"]
mod postgres;
// `benchmarks.rs`, which includes this file, has it through `matrix.rs` too.
#[allow(clippy::duplicate_mod)]
#[path = "../tests/support/tansu.rs"]
mod tansu;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_events::outbox::sqlx::{self, PgPool, postgres::PgPoolOptions};
use kafka_events::outbox::{self, ID_HEADER, OutboxRelay, Stage};
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuditEntry, CloseFuture, EmitError, KafkaEvent, KafkaProducer, Message, MessageRef, Producer,
    SendFuture,
};

const TOPIC: &str = "audit";

#[allow(dead_code)]
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    print!("{}", section(quick));
}

/// The "Transactional outbox" section of BENCHMARKS.md.
pub fn section(quick: bool) -> String {
    let mut w = String::new();
    writeln!(w, "## Transactional outbox\n").unwrap();
    let Some(pg) = postgres::Postgres::start() else {
        writeln!(w, "Not run: install PostgreSQL (Debian: `postgresql`).\n").unwrap();
        return w;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (n_stage, n_relay, latency_seconds) = if quick {
        (500, 5_000, 2)
    } else {
        (3_000, 50_000, 10)
    };
    runtime.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&pg.url())
            .await
            .unwrap();
        outbox::postgres::migrate(&pool).await.unwrap();
        sqlx::query("CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();

        eprintln!("benchmarks: outbox stage cost");
        let (plain, staged) = stage_cost(&pool, n_stage).await;
        writeln!(w, "A throwaway PostgreSQL cluster on 127.0.0.1 (`fsync=off`, so commits cost CPU, not disk), the same machine.\n").unwrap();
        writeln!(w, "| benchmark | measured |").unwrap();
        writeln!(w, "| --- | --- |").unwrap();
        writeln!(w, "| a transaction inserting one business row, without and with `stage` of one AuditEntry ({} transactions each, one connection, median of 3 alternated rounds) | {plain:.0} µs vs {staged:.0} µs: {:.2}×, +{:.0} µs |", n_stage, staged / plain, staged - plain).unwrap();

        eprintln!("benchmarks: outbox relay throughput");
        let tansu_bin = tansu::Tansu::binary();
        let broker = if tansu_bin.is_some() { "Tansu 0.6.0 `memory://`" } else { "embedded broker (no `KAFKA_EVENTS_TANSU`)" };
        let (relay_rate, detached_rate) = relay_throughput(&pool, n_relay, tansu_bin.as_deref()).await;
        writeln!(w, "| relay throughput, {} committed AuditEntry rows, batches of 500, {broker}, vs `emit_detached` of the same events until all acknowledged | {:.0} vs {:.0} msg/s: {:.2}× |", n_relay, relay_rate, detached_rate, relay_rate / detached_rate).unwrap();

        eprintln!("benchmarks: outbox commit to acknowledgement");
        let (p50, p99, count) = commit_to_ack(&pool, latency_seconds).await;
        writeln!(w, "| commit → broker acknowledgement with `LISTEN/NOTIFY`, one event per transaction at 200/s for {latency_seconds} s, embedded broker ({count} events) | p50 {p50:.2} ms, p99 {p99:.2} ms |\n").unwrap();
    });
    w
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Mean µs per transaction: (business row alone, business row + `stage`).
async fn stage_cost(pool: &PgPool, n: usize) -> (f64, f64) {
    let mut connection = pool.acquire().await.unwrap();
    let event = AuditEntry {
        service: "orders-api".into(),
        ..AuditEntry::new()
    };
    let (mut plain, mut staged) = (Vec::new(), Vec::new());
    for round in 0..4 {
        for with_stage in [false, true] {
            let start = Instant::now();
            for _ in 0..n {
                let mut tx = sqlx::Connection::begin(&mut *connection).await.unwrap();
                sqlx::query("INSERT INTO orders (note) VALUES ('placed')")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                if with_stage {
                    event.stage(&mut tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            let micros = start.elapsed().as_secs_f64() * 1e6 / n as f64;
            // Round 0 warms up.
            if round > 0 {
                if with_stage {
                    staged.push(micros)
                } else {
                    plain.push(micros)
                }
            }
        }
        sqlx::query("TRUNCATE kafka_outbox, kafka_outbox_commits")
            .execute(&mut *connection)
            .await
            .unwrap();
    }
    (median(plain), median(staged))
}

fn broker(tansu_bin: Option<&std::path::Path>) -> (String, Box<dyn std::any::Any>) {
    match tansu_bin {
        Some(bin) => {
            let dir = tempfile::tempdir().unwrap();
            let tansu = tansu::Tansu::start(bin.to_owned(), dir.path(), "memory://tansu/".into());
            tansu.create_topic(TOPIC, 3);
            (tansu.bootstrap(), Box::new((tansu, dir)))
        }
        None => {
            let kafka = EmbeddedKafka::start().unwrap();
            kafka.create_topic(TOPIC, 3).unwrap();
            (kafka.bootstrap_servers().to_owned(), Box::new(kafka))
        }
    }
}

fn kafka_producer(bootstrap: &str) -> Arc<KafkaProducer> {
    Arc::new(KafkaProducer::new(&kafka_events::KafkaConfig::new([bootstrap.to_owned()])).unwrap())
}

/// msg/s: (the relay publishing `n` committed rows, `emit_detached` of the same events).
async fn relay_throughput(
    pool: &PgPool,
    n: usize,
    tansu_bin: Option<&std::path::Path>,
) -> (f64, f64) {
    let events: Vec<AuditEntry> = (0..n)
        .map(|i| AuditEntry {
            service: format!("orders-api-{}", i % 10),
            ..AuditEntry::new()
        })
        .collect();
    for chunk in events.chunks(500) {
        let mut tx = pool.begin().await.unwrap();
        for event in chunk {
            event.stage(&mut tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    let (bootstrap, guard) = broker(tansu_bin);
    let producer = kafka_producer(&bootstrap);
    warm_up(&producer).await;
    let start = Instant::now();
    let relay = OutboxRelay::postgres(pool.clone(), producer).spawn();
    assert!(
        relay
            .wait_until(Duration::from_secs(600), |s| s.published as usize >= n)
            .await
    );
    let relay_rate = n as f64 / start.elapsed().as_secs_f64();
    relay.shutdown().await;
    drop(guard);

    let (bootstrap, guard) = broker(tansu_bin);
    let producer = kafka_producer(&bootstrap);
    warm_up(&producer).await;
    let start = Instant::now();
    for event in &events {
        event.emit_detached(&*producer).unwrap();
    }
    let delivered_before = producer.stats().delivered;
    assert!(
        producer
            .wait_until(Duration::from_secs(600), |s| s.delivered
                >= delivered_before.max(n as u64))
            .await
    );
    let detached_rate = n as f64 / start.elapsed().as_secs_f64();
    drop(guard);
    (relay_rate, detached_rate)
}

/// The first send of a producer fetches its producer id: not part of either measurement.
async fn warm_up(producer: &KafkaProducer) {
    AuditEntry::new().emit(producer).await.unwrap();
}

/// Records when the broker acknowledged each row, by its `id` header.
struct Timed {
    inner: Arc<KafkaProducer>,
    acks: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Producer for Timed {
    fn send(&self, message: Message) -> SendFuture<'_> {
        let id = message
            .header(ID_HEADER)
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let send = self.inner.send(message);
        let acks = self.acks.clone();
        Box::pin(async move {
            let result = send.await;
            if let (Ok(_), Some(id)) = (&result, id) {
                acks.lock().unwrap().insert(id, Instant::now());
            }
            result
        })
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        self.inner.send_detached(message)
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        self.inner.close(timeout)
    }
}

/// (p50 ms, p99 ms, events): from `commit` returning to the broker's acknowledgement.
async fn commit_to_ack(pool: &PgPool, seconds: u64) -> (f64, f64, usize) {
    let (bootstrap, _guard) = broker(None);
    let inner = kafka_producer(&bootstrap);
    warm_up(&inner).await;
    let acks = Arc::new(Mutex::new(HashMap::new()));
    let relay = OutboxRelay::postgres(
        pool.clone(),
        Arc::new(Timed {
            inner,
            acks: acks.clone(),
        }),
    )
    .spawn();
    assert!(
        relay
            .wait_until(Duration::from_secs(10), |s| s.leader)
            .await
    );
    let mut commits = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        tick.tick().await;
        let mut tx = pool.begin().await.unwrap();
        let id = AuditEntry::new().stage(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        commits.insert(id.to_string(), Instant::now());
    }
    let n = commits.len() as u64;
    assert!(
        relay
            .wait_until(Duration::from_secs(30), |s| s.published >= n)
            .await
    );
    relay.shutdown().await;
    let acks = acks.lock().unwrap();
    let mut latencies: Vec<Duration> = commits
        .iter()
        .map(|(id, committed)| acks[id].saturating_duration_since(*committed))
        .collect();
    latencies.sort();
    let at =
        |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99), latencies.len())
}
