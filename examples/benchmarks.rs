//! The end-to-end benchmarks of BENCHMARKS.md, in one run:
//!
//! 1. throughput: N `AuditEntry`s through `emit_detached` vs raw rdkafka sending the same events
//!    pre-serialized, both until every record is acknowledged, on the embedded broker and (with
//!    `KAFKA_EVENTS_TANSU` set) on Tansu;
//! 2. latency of `emit(..).await` at a fixed rate;
//! 3. the seed's design for comparison: awaiting each send before the next, as a request
//!    handler that sends synchronously does;
//! 4. peak RSS of a process making a million detached emits while the broker is down.
//!
//! ```text
//! cargo run --release --example benchmarks              # N = 500 000
//! cargo run --release --example benchmarks -- --quick   # N = 50 000, shorter runs (CI smoke)
//! cargo run --release --example benchmarks -- --settings  # also other linger.ms, compression, batch.size
//! cargo run --release --example benchmarks -- --throughput-only   # row 1 alone, for a profiler
//! ```

#[path = "../tests/support/matrix.rs"]
mod matrix;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuditEntry, Durability, FsyncPolicy, KafkaConfig, KafkaEvent, KafkaProducer, OverflowPolicy,
    Partitioner, SpoolConfig,
};
use rdkafka::ClientConfig;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};

const TOPIC: &str = "audit";

fn events(n: usize) -> Vec<AuditEntry> {
    let base = matrix::new_base();
    (0..n).map(|i| matrix::event(base, i)).collect()
}

/// Counts acknowledgements for the raw producer.
#[derive(Clone, Default)]
struct Acks(Arc<AtomicU64>);

impl rdkafka::ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_ok() {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a hand-written rdkafka producer looks like with the same settings as `KafkaProducer`.
fn raw_producer(bootstrap: &str, acks: Acks, extra: &[(&str, &str)]) -> ThreadedProducer<Acks> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000");
    config.set("partitioner", Partitioner::default().librdkafka_name());
    for (k, v) in KafkaConfig::DEFAULT_PROPERTIES.iter().chain(extra) {
        config.set(*k, *v);
    }
    ThreadedProducer::from_config_and_context(&config, acks).unwrap()
}

struct Throughput {
    seconds: f64,
    messages: usize,
    bytes: usize,
}

impl Throughput {
    fn msgs(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
    fn mb(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }
}

fn raw_run(bootstrap: &str, events: &[AuditEntry], extra: &[(&str, &str)]) -> Throughput {
    let acks = Acks::default();
    let producer = raw_producer(bootstrap, acks.clone(), extra);
    // Serialized before the clock starts: the baseline is the transport alone.
    let payloads: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.id.to_string(), serde_json::to_vec(e).unwrap()))
        .collect();
    let bytes = payloads.iter().map(|(_, p)| p.len()).sum();
    let started = Instant::now();
    for (key, payload) in &payloads {
        let headers = OwnedHeaders::new_with_capacity(2)
            .insert(Header {
                key: "content-type",
                value: Some("application/json"),
            })
            .insert(Header {
                key: "event-type",
                value: Some("audit.log"),
            });
        let mut record = BaseRecord::to(TOPIC)
            .key(key)
            .payload(payload)
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    // Queue full: let deliveries make room, as hand-written code does.
                    producer.poll(Duration::from_millis(1));
                    record = back;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(300)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        acks.0.load(Ordering::Relaxed),
        events.len() as u64,
        "raw: not all acknowledged"
    );
    Throughput {
        seconds,
        messages: events.len(),
        bytes,
    }
}

fn ours_run(bootstrap: &str, events: &[AuditEntry], extra: &[(&str, &str)]) -> Throughput {
    ours_run_with(KafkaConfig::new([bootstrap]), events, extra)
}

fn ours_run_with(config: KafkaConfig, events: &[AuditEntry], extra: &[(&str, &str)]) -> Throughput {
    // Off any async runtime `block` waits for room, as the raw side's loop does.
    let mut config =
        config
            .delivery_timeout(Duration::from_secs(30))
            .overflow(OverflowPolicy::Block {
                timeout_ms: 300_000,
            });
    for (k, v) in extra {
        config = config.property(*k, *v);
    }
    let producer = KafkaProducer::new(&config).unwrap();
    let bytes = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .sum();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    for event in events {
        event.emit_detached(&producer).unwrap();
    }
    assert!(runtime.block_on(producer.wait_delivered(Duration::from_secs(300))));
    let seconds = started.elapsed().as_secs_f64();
    let stats = producer.stats();
    assert_eq!(stats.delivered, events.len() as u64, "ours: {stats:?}");
    Throughput {
        seconds,
        messages: events.len(),
        bytes,
    }
}

fn throughput_rows(
    broker: &str,
    n: usize,
    start: &mut dyn FnMut() -> (String, Box<dyn std::any::Any>),
    extra: &[(&str, &str)],
) {
    let events = events(n);
    // Each run gets a fresh broker, so neither pays for the other's data.
    let (bootstrap, guard) = start();
    let raw = raw_run(&bootstrap, &events, extra);
    drop(guard);
    let (bootstrap, guard) = start();
    let ours = ours_run(&bootstrap, &events, extra);
    drop(guard);
    println!(
        "| throughput, {broker}, N = {n} | raw rdkafka (pre-serialized) | {:.0} msg/s, {:.1} MB/s |",
        raw.msgs(),
        raw.mb()
    );
    println!(
        "| throughput, {broker}, N = {n} | kafka-events `emit_detached` | {:.0} msg/s, {:.1} MB/s: **{:.3}×** raw |",
        ours.msgs(),
        ours.mb(),
        ours.msgs() / raw.msgs()
    );
}

/// What write-ahead durability costs: `emit_detached` end to end with the spool used only on
/// failure, and with every record written ahead to it.
fn write_ahead_rows(n: usize, fsync: FsyncPolicy) {
    let events = events(n);
    let run = |durability: Durability| {
        let (bootstrap, _kafka) = embedded();
        let spool = tempfile::tempdir().unwrap();
        let config = KafkaConfig::new([bootstrap]).spool(
            SpoolConfig::new(spool.path())
                .fsync(fsync)
                .durability(durability),
        );
        ours_run_with(config, &events, &[])
    };
    let on_failure = run(Durability::OnFailure);
    let write_ahead = run(Durability::WriteAhead);
    println!(
        "| write-ahead cost, embedded, N = {n}, fsync {fsync:?} | `emit_detached`, spool on failure vs written ahead | {:.0} vs {:.0} msg/s: **{:.3}×** |",
        on_failure.msgs(),
        write_ahead.msgs(),
        write_ahead.msgs() / on_failure.msgs()
    );
}

/// The time `emit_detached` takes on the caller's thread while every broker is down (each
/// record goes to the spool), for each fsync policy.
fn outage_latency(n: usize) {
    for fsync in [
        FsyncPolicy::Always,
        FsyncPolicy::IntervalMs(100),
        FsyncPolicy::Never,
    ] {
        let kafka = EmbeddedKafka::start().unwrap();
        kafka.create_topic(TOPIC, 3).unwrap();
        let spool = tempfile::tempdir().unwrap();
        let producer = KafkaProducer::new(
            &KafkaConfig::new([kafka.bootstrap_servers()])
                .spool(SpoolConfig::new(spool.path()).fsync(fsync)),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        kafka.all_down().unwrap();
        // librdkafka notices the outage when it tries to send.
        let events = events(n + 100);
        for event in &events[..100] {
            event.emit_detached(&producer).unwrap();
            if runtime.block_on(producer.wait_for(Duration::from_millis(100), |s| s.brokers_down)) {
                break;
            }
        }
        assert!(producer.stats().brokers_down, "{:?}", producer.stats());
        let mut took: Vec<Duration> = events[100..]
            .iter()
            .map(|event| {
                let started = Instant::now();
                event.emit_detached(&producer).unwrap();
                started.elapsed()
            })
            .collect();
        took.sort_unstable();
        let us = |p: f64| percentile(&took, p) * 1e3;
        println!(
            "| `emit_detached` while every broker is down, fsync {fsync:?}, N = {n} | p50 / p99 / p999 / max on the caller's thread | {:.1} / {:.1} / {:.1} / {:.1} µs |",
            us(0.5),
            us(0.99),
            us(0.999),
            took.last().unwrap().as_secs_f64() * 1e6
        );
    }
}

fn embedded() -> (String, Box<dyn std::any::Any>) {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    (kafka.bootstrap_servers().to_owned(), Box::new(kafka))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

/// `emit(..).await` at `rate` per second for `seconds`: p50/p99/p999 in ms.
fn latency(rate: u32, seconds: u32, linger: &str) {
    let (bootstrap, _kafka) = embedded();
    let producer =
        KafkaProducer::new(&KafkaConfig::new([bootstrap]).property("linger.ms", linger)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = (rate * seconds) as usize;
    let events = events(n);
    let mut latencies: Vec<Duration> = runtime.block_on(async {
        // Connected and warm before the clock starts.
        for event in self::events(10) {
            event.emit(&producer).await.unwrap();
        }
        let producer = Arc::new(producer);
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
        let mut tasks = Vec::with_capacity(n);
        for event in events {
            ticker.tick().await;
            let producer = producer.clone();
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                event.emit(&*producer).await.unwrap();
                started.elapsed()
            }));
        }
        let mut out = Vec::with_capacity(n);
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    latencies.sort_unstable();
    println!(
        "| `emit(..).await` latency, embedded, {rate}/s for {seconds} s, linger.ms={linger} | p50 / p99 / p999 | {:.2} / {:.2} / {:.2} ms |",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999)
    );
}

/// The seed's design: each event's send awaited before the next (Go: `producer.Send` in the
/// request path).
fn peer(n: usize) {
    let (bootstrap, _kafka) = embedded();
    let producer = KafkaProducer::new(&KafkaConfig::new([bootstrap])).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let events = events(n);
    let started = Instant::now();
    runtime.block_on(async {
        for event in &events {
            event.emit(&producer).await.unwrap();
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "| seed's design: await each send, embedded, N = {n} | one at a time | {:.0} msg/s ({:.2} ms per request waiting on the broker) |",
        n as f64 / seconds,
        seconds * 1e3 / n as f64
    );
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args
        .iter()
        .position(|a| a == "--memory-child")
        .map(|i| args[i + 1].parse::<usize>().unwrap())
    {
        let (_, after, spooled) = matrix::memory_with_broker_down(n);
        println!("{} {} {}", peak_rss_kib(), after / 1024, spooled);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, seconds, peer_n, memory_n) = if quick {
        (50_000, 1, 1_000, 100_000)
    } else {
        (500_000, 5, 5_000, 1_000_000)
    };

    println!("| benchmark | what | result |");
    println!("| --- | --- | --- |");
    throughput_rows("embedded broker", n, &mut embedded, &[]);
    let throughput_only = args.iter().any(|a| a == "--throughput-only");
    if args.iter().any(|a| a == "--settings") {
        let settings: [(&str, &str); 6] = [
            ("linger.ms", "0"),
            ("linger.ms", "1"),
            ("linger.ms", "20"),
            ("compression.type", "none"),
            ("compression.type", "gzip"),
            ("batch.size", "16384"),
        ];
        for (name, value) in settings {
            let label = format!("embedded broker, {name}={value}");
            throughput_rows(&label, n, &mut embedded, &[(name, value)]);
        }
    }
    if throughput_only {
        return; // for profiling this phase alone
    }
    outage_latency(if quick { 20_000 } else { 200_000 });
    for fsync in [FsyncPolicy::IntervalMs(100), FsyncPolicy::Always] {
        write_ahead_rows(n, fsync);
    }
    if let Some(bin) = matrix::Tansu::binary() {
        let mut start = || {
            let dir = tempfile::tempdir().unwrap();
            let tansu = matrix::Tansu::start(bin.clone(), dir.path(), "memory://tansu/".into());
            tansu.create_topic(TOPIC, 3);
            (
                tansu.bootstrap(),
                Box::new((tansu, dir)) as Box<dyn std::any::Any>,
            )
        };
        throughput_rows("Tansu (memory)", n, &mut start, &[]);
    } else {
        println!("| throughput, Tansu | skipped | set KAFKA_EVENTS_TANSU (scripts/tansu.sh bin) |");
    }
    for linger in ["5", "1", "0"] {
        latency(1_000, seconds, linger);
    }
    peer(peer_n);

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--memory-child", &memory_n.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<u64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if let [peak_kib, _, spooled] = fields[..] {
        println!(
            "| memory, {memory_n} detached emits with the broker down | peak RSS of the process | {:.1} MiB ({spooled} records went to the spool) |",
            peak_kib as f64 / 1024.0,
        );
    } else {
        println!(
            "| memory | failed | {text} {} |",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
