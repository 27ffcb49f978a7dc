//! Detached delivery on the embedded broker: the bounded queue, the overflow policies, the
//! spool, replay, and close.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{
    AuditEntry, CloseError, EmitError, KafkaConfig, KafkaEvent, KafkaProducer, OverflowPolicy,
    Producer, SpoolConfig,
};

const READ_TIMEOUT: Duration = Duration::from_secs(30);

fn start() -> EmbeddedKafka {
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    kafka.create_topic("audit", 3).unwrap();
    kafka
}

/// A config that notices the broker coming back quickly.
fn config(kafka: &EmbeddedKafka) -> KafkaConfig {
    kafka
        .producer_config()
        .delivery_timeout(Duration::from_secs(2))
        .property("reconnect.backoff.max.ms", "200")
}

/// A producer spooling to `dir` with every broker down, and the ids of the `records` events it
/// took meanwhile.
fn outage_backlog(
    kafka: &EmbeddedKafka,
    dir: &Path,
    records: usize,
) -> (KafkaProducer, BTreeSet<String>) {
    let producer = KafkaProducer::new(&config(kafka).spool(SpoolConfig::new(dir))).unwrap();
    kafka.all_down().unwrap();
    let sent = (0..records)
        .map(|_| {
            let entry = AuditEntry::new();
            entry.emit_detached(&producer).unwrap();
            entry.id.to_string()
        })
        .collect();
    (producer, sent)
}

fn ids_read(kafka: &EmbeddedKafka, expected: usize) -> (BTreeSet<String>, usize) {
    let records = read_topic(kafka.bootstrap_servers(), "audit", expected, READ_TIMEOUT).unwrap();
    let total = records.len();
    (
        records
            .iter()
            .map(|r| r.key_str().unwrap().to_owned())
            .collect(),
        total,
    )
}

#[tokio::test]
async fn detached_events_are_delivered_and_counted() {
    let kafka = start();
    let producer = KafkaProducer::new(&config(&kafka)).unwrap();
    let entries: Vec<AuditEntry> = (0..500).map(|_| AuditEntry::new()).collect();
    for entry in &entries {
        entry.emit_detached(&producer).unwrap();
    }
    assert!(producer.wait_delivered(Duration::from_secs(20)).await);
    let stats = producer.stats();
    assert_eq!(
        (stats.enqueued, stats.delivered, stats.dropped),
        (500, 500, 0),
        "{stats:?}"
    );
    assert_eq!(stats.queue_depth, 0);
    assert!(
        stats.latency_samples == 500 && stats.latency_max_ms >= stats.latency_mean_ms,
        "{stats:?}"
    );

    let (ids, total) = ids_read(&kafka, 500);
    assert_eq!(total, 500);
    let sent: BTreeSet<String> = entries.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(ids, sent);
}

#[tokio::test]
async fn broker_outage_spools_then_replays_everything() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let producer =
        KafkaProducer::new(&config(&kafka).spool(SpoolConfig::new(spool.path()))).unwrap();
    let mut sent = BTreeSet::new();
    for _ in 0..200 {
        let entry = AuditEntry::new();
        entry.emit_detached(&producer).unwrap();
        sent.insert(entry.id.to_string());
    }
    kafka.all_down().unwrap();
    for _ in 0..3000 {
        let entry = AuditEntry::new();
        entry.emit_detached(&producer).unwrap();
        sent.insert(entry.id.to_string());
    }
    // An outage long enough for librdkafka to notice it (on the records it tries to send).
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.brokers_down)
            .await
    );
    kafka.all_up().unwrap();
    assert!(
        producer.wait_delivered(Duration::from_secs(60)).await,
        "{:?}",
        producer.stats()
    );
    let stats = producer.stats();
    assert!(stats.spooled > 0 && stats.replayed > 0, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.spool_depth, 0);

    let (ids, _) = ids_read(&kafka, sent.len());
    assert_eq!(
        ids.len(),
        sent.len(),
        "lost {}",
        sent.difference(&ids).count()
    );
}

#[tokio::test]
async fn drop_newest_and_block_refuse_when_the_queue_is_full() {
    let kafka = start();
    kafka.all_down().unwrap();
    let small = |policy| {
        KafkaProducer::new(&config(&kafka).max_queued(10, 1 << 20).overflow(policy)).unwrap()
    };

    let dropping = small(OverflowPolicy::DropNewest);
    let results: Vec<_> = (0..25)
        .map(|_| AuditEntry::new().emit_detached(&dropping))
        .collect();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(EmitError::QueueFull)))
        .count();
    assert_eq!(refused, 15);
    assert_eq!(dropping.stats().dropped, 15);

    // Off any async runtime, `block` waits for room up to its timeout.
    let blocking = std::sync::Arc::new(small(OverflowPolicy::Block { timeout_ms: 50 }));
    for _ in 0..10 {
        AuditEntry::new().emit_detached(&blocking).unwrap();
    }
    let thread = {
        let blocking = blocking.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let err = AuditEntry::new().emit_detached(&blocking).unwrap_err();
            (err, started.elapsed())
        })
    };
    let (err, waited) = thread.join().unwrap();
    assert!(matches!(err, EmitError::QueueFull), "{err:?}");
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert_eq!(blocking.stats().dropped, 1);

    // On an async runtime's thread it never waits: it refuses at once, like drop_newest.
    let started = std::time::Instant::now();
    let err = AuditEntry::new().emit_detached(&blocking).unwrap_err();
    assert!(matches!(err, EmitError::QueueFull), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(blocking.stats().dropped, 2);
}

#[tokio::test]
async fn spool_overflow_keeps_what_does_not_fit_in_memory() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let producer = KafkaProducer::new(
        &config(&kafka)
            .max_queued(10, 1 << 20)
            .spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    // Fill faster than librdkafka can drain: what does not fit goes to disk.
    let mut sent = BTreeSet::new();
    for _ in 0..2000 {
        let entry = AuditEntry::new();
        entry.emit_detached(&producer).unwrap();
        sent.insert(entry.id.to_string());
    }
    assert!(producer.wait_delivered(Duration::from_secs(60)).await);
    // Those past librdkafka's queue waited (behind its records, for order) and went to disk.
    let stats = producer.stats();
    assert!(
        stats.spooled > 0 && stats.replayed == stats.spooled,
        "{stats:?}"
    );
    let (ids, _) = ids_read(&kafka, sent.len());
    assert_eq!(ids, sent);
}

#[tokio::test]
async fn close_spools_the_rest_and_the_next_producer_replays_it() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let sent;
    {
        let producer;
        (producer, sent) = outage_backlog(&kafka, spool.path(), 300);
        let report = producer.close(Duration::from_millis(200)).await.unwrap();
        let stats = producer.stats();
        assert_eq!(stats.spooled, 300, "{stats:?} {report:?}");
        assert!(matches!(
            AuditEntry::new().emit_detached(&producer),
            Err(EmitError::Closed)
        ));
    }
    kafka.all_up().unwrap();
    let producer =
        KafkaProducer::new(&config(&kafka).spool(SpoolConfig::new(spool.path()))).unwrap();
    assert_eq!(producer.spool_recovery().await.unwrap().records, 300);
    assert!(producer.wait_delivered(Duration::from_secs(60)).await);
    assert_eq!(producer.stats().replayed, 300);
    let (ids, _) = ids_read(&kafka, sent.len());
    assert_eq!(ids, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_keeps_a_quarter_of_librdkafkas_queue_whatever_the_backlog() {
    const BACKLOG: usize = 3000;
    // librdkafka's queue, in records: the backlog is larger than all of it.
    const QUEUE: u32 = 2000;
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let sent;
    {
        let producer;
        (producer, sent) = outage_backlog(&kafka, spool.path(), BACKLOG);
        producer.close(Duration::from_millis(200)).await.unwrap();
        assert_eq!(producer.stats().spooled, BACKLOG as u64);
    }
    // Each acknowledgement comes late: what replay hands over stays with librdkafka meanwhile.
    kafka.set_latency(Duration::from_millis(300)).unwrap();
    kafka.all_up().unwrap();
    let producer = KafkaProducer::new(
        &config(&kafka)
            .delivery_timeout(Duration::from_secs(30))
            .spool(SpoolConfig::new(spool.path()))
            .max_queued(QUEUE, 64 << 20),
    )
    .unwrap();
    // The most records with librdkafka at once, looked at every millisecond until all are in.
    let mut most = 0;
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = producer.stats();
        most = most.max(
            stats
                .enqueued
                .saturating_sub(stats.delivered + stats.failed),
        );
        if stats.replayed == BACKLOG as u64 || tokio::time::Instant::now() >= deadline {
            break;
        }
        ticks.tick().await;
    }
    assert_eq!(
        producer.stats().replayed,
        BACKLOG as u64,
        "{:?}",
        producer.stats()
    );
    // A quarter of the queue, give or take the reports counted while the stats were read.
    let window = u64::from(QUEUE / 4);
    assert!(
        (window..window + 50).contains(&most),
        "at most {most} records with librdkafka; replay keeps to {window}"
    );
    let (ids, _) = ids_read(&kafka, sent.len());
    assert_eq!(ids, sent);
}

#[tokio::test]
async fn close_without_a_spool_hands_back_what_it_could_not_deliver() {
    let kafka = start();
    let producer = KafkaProducer::new(&config(&kafka)).unwrap();
    kafka.all_down().unwrap();
    let entries: Vec<AuditEntry> = (0..20).map(|_| AuditEntry::new()).collect();
    for entry in &entries {
        entry.emit_detached(&producer).unwrap();
    }
    match producer.close(Duration::from_millis(200)).await {
        Err(CloseError::Undelivered { messages, .. }) => {
            let keys: BTreeSet<Vec<u8>> = messages.iter().map(|m| m.key.clone()).collect();
            let sent: BTreeSet<Vec<u8>> =
                entries.iter().map(|e| e.key().as_ref().to_vec()).collect();
            assert_eq!(keys, sent);
        }
        other => panic!("expected the undelivered records back, got {other:?}"),
    }
}

#[tokio::test]
async fn emit_is_bounded_by_the_delivery_timeout() {
    let kafka = start();
    let producer = KafkaProducer::new(&config(&kafka)).unwrap();
    kafka.all_down().unwrap();
    let started = std::time::Instant::now();
    let err = AuditEntry::new().emit(&producer).await.unwrap_err();
    assert!(
        matches!(err, EmitError::Timeout(_) | EmitError::Unreachable),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A `close` future dropped without being awaited still stops the spool's replay thread, so the
/// spool directory is let go and the next producer can open it.
#[tokio::test]
async fn a_close_never_awaited_still_lets_go_of_the_spool() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let config = config(&kafka).spool(SpoolConfig::new(spool.path()));
    let producer = KafkaProducer::new(&config).unwrap();
    drop(producer.close(Duration::from_secs(1)));
    drop(producer);
    let reopened = KafkaProducer::new(&config);
    assert!(reopened.is_ok(), "{:?}", reopened.err());
}

/// Records librdkafka took before the outage was noticed hold the spool's next ones behind
/// them (for order); a burst from a caller right then must not find that memory full while
/// the producer's watch thread is busy probing for brokers: callers move what waits to the
/// spool themselves once librdkafka's records are reported.
#[test]
fn a_burst_right_after_an_outage_is_noticed_is_not_refused() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let producer =
        KafkaProducer::new(&config(&kafka).spool(SpoolConfig::new(spool.path()))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    kafka.all_down().unwrap();
    let mut sent = BTreeSet::new();
    // librdkafka notices the outage when it tries to send.
    for _ in 0..100 {
        let entry = AuditEntry::new();
        entry.emit_detached(&producer).unwrap();
        sent.insert(entry.id.to_string());
        if runtime.block_on(producer.wait_until(Duration::from_millis(100), |s| s.brokers_down)) {
            break;
        }
    }
    assert!(producer.stats().brokers_down, "{:?}", producer.stats());
    // More than the 64 MiB that may wait in memory.
    for i in 0..150_000 {
        let entry = AuditEntry {
            service: "x".repeat(600),
            ..AuditEntry::new()
        };
        if let Err(error) = entry.emit_detached(&producer) {
            panic!("record {i} refused: {error}; {:?}", producer.stats());
        }
        sent.insert(entry.id.to_string());
    }
    assert_eq!(producer.stats().dropped, 0, "{:?}", producer.stats());
    kafka.all_up().unwrap();
    assert!(runtime.block_on(producer.wait_delivered(Duration::from_secs(120))));
    let (ids, _) = ids_read(&kafka, sent.len());
    assert_eq!(ids, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_spooled_bytes_are_counted_and_return_to_zero() {
    let kafka = start();
    let entries: Vec<AuditEntry> = (0..50).map(|_| AuditEntry::new()).collect();
    let size = |e: &AuditEntry| kafka_events::Message::from_event(e).unwrap().payload.len() as u64;
    let payloads: u64 = entries.iter().map(size).sum();

    // In memory: a broker that answers late holds the records in librdkafka's queue.
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();
    kafka.set_latency(Duration::from_millis(500)).unwrap();
    for entry in &entries {
        entry.emit_detached(&producer).unwrap();
    }
    let queued = producer.stats();
    assert!(queued.queue_depth > 0, "{queued:?}");
    // Keys and payloads: at least the payloads of the records still queued.
    assert!(
        queued.queue_bytes >= payloads / 50 * queued.queue_depth.min(50) / 2,
        "{queued:?}"
    );
    kafka.set_latency(Duration::ZERO).unwrap();
    assert!(producer.wait_delivered(READ_TIMEOUT).await);
    let delivered = producer.stats();
    assert_eq!(
        (delivered.queue_depth, delivered.queue_bytes),
        (0, 0),
        "{delivered:?}"
    );

    // On disk: records spooled while no broker answers, then replayed by the next run.
    let spool = tempfile::tempdir().unwrap();
    let down = KafkaProducer::new(
        &KafkaConfig::new(["127.0.0.1:1"]).spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    assert!(down.wait_until(READ_TIMEOUT, |s| s.brokers_down).await);
    for entry in &entries {
        entry.emit_detached(&down).unwrap();
    }
    assert!(down.wait_until(READ_TIMEOUT, |s| s.spooled == 50).await);
    let spooled = down.stats();
    assert!(spooled.spool_bytes >= payloads, "{spooled:?}");
    let _ = down.close(Duration::from_secs(1)).await;
    drop(down);
    let up = KafkaProducer::new(
        &kafka
            .producer_config()
            .spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    assert!(
        up.wait_until(READ_TIMEOUT, |s| s.replayed == 50 && s.spool_depth == 0)
            .await,
        "{:?}",
        up.stats()
    );
    assert_eq!(up.stats().spool_bytes, 0, "{:?}", up.stats());
}
