//! The fault matrix: each scenario emits events while something fails, then an independent
//! consumer reads the topic and the row says how many came through.
//!
//! Shared by `tests/fault_matrix.rs` (which asserts `lost == 0` and each row's typed outcome)
//! and `examples/fault_matrix.rs` (which prints the table). Scenarios that need a process of
//! their own (to be killed, or to measure its memory) run [`child_main`] in a child process.

#![allow(dead_code)]

#[path = "edges.rs"]
mod edges;
#[path = "http_load.rs"]
mod http_load;
#[path = "tansu.rs"]
mod tansu;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use kafka_events::middleware::AuditLayer;
use kafka_events::testing::{EmbeddedKafka, ProduceFault, read_topic_idle};
use kafka_events::{
    AuditEntry, Durability, EmitError, FsyncPolicy, KafkaConfig, KafkaEvent, KafkaProducer,
    OverflowPolicy, Producer, SpoolConfig, SpoolError,
};
use uuid::Uuid;

#[allow(unused_imports)] // Each user of this module runs some of the rows.
pub use edges::{
    fatal_error_mid_load, memory_with_broker_down, order_through_an_outage,
    records_the_spool_cannot_hold, spool_segments_removed_or_unreadable, tansu_stalled_under_load,
};
#[allow(unused_imports)]
pub use http_load::http_load_through_a_stall;
pub use tansu::Tansu;

pub const TOPIC: &str = "audit";

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub scenario: String,
    /// Events the producer accepted (`Ok`).
    pub sent: usize,
    /// Of those, how many a consumer read back.
    pub unique: usize,
    /// Accepted events neither read back nor in the quarantine.
    pub lost: usize,
    /// Extra copies read back.
    pub duplicates: usize,
    /// What else the scenario checked (typed refusals, quarantined records, timings).
    pub note: String,
    /// Whether a consumer read the topic back (false for scenarios about the caller's side).
    pub read_back: bool,
}

impl Row {
    pub fn header() -> String {
        format!(
            "{:<62} | {:>6} | {:>8} | {:>4} | {:>5} | {}",
            "scenario", "sent", "received", "lost", "dupes", "also"
        )
    }

    pub fn line(&self) -> String {
        let or_dash = |n: usize| {
            if self.read_back {
                n.to_string()
            } else {
                "-".into()
            }
        };
        format!(
            "{:<62} | {:>6} | {:>8} | {:>4} | {:>5} | {}",
            self.scenario,
            or_dash(self.sent),
            or_dash(self.unique),
            or_dash(self.lost),
            or_dash(self.duplicates),
            self.note
        )
    }

    /// A row for a scenario about the caller's side, where nothing is read back.
    fn caller_side(scenario: &str, note: String) -> Row {
        Row {
            scenario: scenario.to_owned(),
            sent: 0,
            unique: 0,
            lost: 0,
            duplicates: 0,
            note,
            read_back: false,
        }
    }

    fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// Counts what the consumer saw against what was accepted; `quarantined` ids are accounted for.
pub fn tally(
    scenario: &str,
    sent: &BTreeSet<String>,
    keys: &[String],
    quarantined: &BTreeSet<String>,
) -> Row {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for key in keys {
        *seen.entry(key.as_str()).or_default() += 1;
    }
    let unique = sent
        .iter()
        .filter(|id| seen.contains_key(id.as_str()))
        .count();
    let lost = sent
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()) && !quarantined.contains(*id))
        .count();
    Row {
        scenario: scenario.to_owned(),
        sent: sent.len(),
        unique,
        lost,
        duplicates: seen.values().map(|n| n - 1).sum(),
        note: String::new(),
        read_back: true,
    }
}

/// Reads every record of the topic and returns their keys.
pub fn keys_on(bootstrap: &str, idle: Duration) -> Vec<String> {
    read_topic_idle(bootstrap, TOPIC, idle, Duration::from_secs(600))
        .expect("reading the topic back")
        .into_iter()
        .map(|r| r.key_str().unwrap_or_default().to_owned())
        .collect()
}

/// The event with a predictable id: `base + i`.
pub fn event(base: u128, i: usize) -> AuditEntry {
    AuditEntry {
        id: Uuid::from_u128(base + i as u128),
        http_method: "POST".into(),
        endpoint: "/orders/{id}".into(),
        resource: "orders".into(),
        service: "fault-matrix".into(),
        subject: format!("user-{}", i % 97),
        user_agent: "fault-matrix/1".into(),
        full_url: format!("http://127.0.0.1/orders/{i}"),
        payload: Some(serde_json::json!({ "sku": i % 13, "quantity": 1 }).into()),
        ..AuditEntry::new()
    }
}

pub fn new_base() -> u128 {
    Uuid::new_v4().as_u128() & !0xffff_ffff
}

/// Emits detached events `base + i` for `i` in `range` at `rate` per second, calling `at(i)`
/// before event `i` so a scenario can break something mid-load. Returns the ids accepted.
pub fn steady_load(
    producer: &dyn Producer,
    base: u128,
    range: std::ops::Range<usize>,
    rate: u32,
    mut at: impl FnMut(usize),
) -> BTreeSet<String> {
    let started = Instant::now();
    let first = range.start;
    let mut sent = BTreeSet::new();
    for i in range {
        at(i);
        let entry = event(base, i);
        entry
            .emit_detached(producer)
            .unwrap_or_else(|e| panic!("event {i} was refused: {e}"));
        sent.insert(entry.id.to_string());
        pace(started, i - first + 1, rate);
    }
    sent
}

/// Pacing, not synchronisation: the load is meant to be spread over time.
fn pace(started: Instant, done: usize, rate: u32) {
    let due = started + Duration::from_secs_f64(done as f64 / f64::from(rate));
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

fn spooled_config(bootstrap: &str, spool: &Path) -> KafkaConfig {
    KafkaConfig::new([bootstrap])
        .delivery_timeout(Duration::from_secs(3))
        .property("reconnect.backoff.max.ms", "500")
        .spool(SpoolConfig::new(spool))
}

/// An embedded broker with the topic, and a spool directory for the producers of a scenario.
fn embedded_with_spool() -> (EmbeddedKafka, tempfile::TempDir) {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    (kafka, tempfile::tempdir().unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until the producers dropped on `spool` have let go of it: a spool's threads finish
/// after `close` returns (sealing segments, deleting spare ones) and hold the directory's lock
/// until then. What a scenario does to the files at rest comes after.
fn let_go(spool: &Path) {
    let lock = std::fs::File::open(spool.join("spool.lock")).unwrap();
    lock.lock().unwrap();
}

fn wait_delivered(producer: &KafkaProducer) {
    let done = runtime().block_on(producer.wait_delivered(Duration::from_secs(300)));
    assert!(done, "not delivered in time: {:?}", producer.stats());
}

/// Takes every broker down and emits probe events until the producer reports the outage:
/// librdkafka notices an outage only when it tries to send. Returns the probes' ids (accepted
/// events like any other).
fn outage(kafka: &EmbeddedKafka, producer: &KafkaProducer) -> BTreeSet<String> {
    kafka.all_down().unwrap();
    let mut probes = BTreeSet::new();
    let base = new_base();
    for i in 0..30 {
        let probe = event(base, i);
        probe.emit_detached(producer).unwrap();
        probes.insert(probe.id.to_string());
        // Known, and settled: what librdkafka held went to the spool.
        if runtime().block_on(producer.wait_until(Duration::from_secs(1), |s| {
            s.brokers_down && s.queue_depth == 0
        })) {
            return probes;
        }
    }
    panic!(
        "the producer did not notice the outage: {:?}",
        producer.stats()
    );
}

/// Emits detached events until `n` are accepted or refused; returns the accepted ids and the
/// refusals.
fn emit_counting(
    producer: &KafkaProducer,
    base: u128,
    range: std::ops::Range<usize>,
) -> (BTreeSet<String>, Vec<EmitError>) {
    let mut sent = BTreeSet::new();
    let mut refused = Vec::new();
    for i in range {
        let entry = event(base, i);
        match entry.emit_detached(producer) {
            Ok(()) => {
                sent.insert(entry.id.to_string());
            }
            Err(error) => refused.push(error),
        }
    }
    (sent, refused)
}

/// Row 1: The embedded broker goes down for 3 s in the middle of the load, then comes back.
pub fn embedded_broker_down(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    let rate = (n / 5).max(1) as u32; // five seconds of load
    let (down, up) = (n / 5, n / 5 + (3 * rate) as usize);
    let sent = steady_load(&producer, new_base(), 0..n, rate, |i| {
        if i == down {
            kafka.all_down().unwrap();
        }
        if i == up {
            kafka.all_up().unwrap();
        }
    });
    wait_delivered(&producer);
    tally(
        "1. embedded broker down 3 s mid-load, then up",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
}

/// Row 2: Produce requests fail with retriable errors, over and over, during the load.
pub fn injected_produce_errors(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    // One request in flight: the embedded broker writes a batch that follows a failed one, where
    // a real broker refuses it as out of sequence, and librdkafka then reports the failed batch
    // delivered (see `EmbeddedKafka::fail_produce_requests`).
    let config = spooled_config(kafka.bootstrap_servers(), spool.path())
        .property("max.in.flight.requests.per.connection", "1");
    let producer = KafkaProducer::new(&config).unwrap();
    let faults = [
        ProduceFault::LeaderNotAvailable,
        ProduceFault::RequestTimedOut,
        ProduceFault::Disconnect,
        ProduceFault::NotEnoughReplicas,
    ];
    let rate = (n / 3).max(1) as u32;
    let sent = steady_load(&producer, new_base(), 0..n, rate, |i| {
        if i % (n / 10).max(1) == n / 20 {
            kafka.fail_produce_requests(&faults).unwrap();
        }
    });
    wait_delivered(&producer);
    tally(
        "2. injected retriable Produce errors (leader, timeout, drop)",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
}

/// Row 3: Tansu on SQLite is killed with SIGKILL mid-load and restarted on the same file.
pub fn tansu_killed(bin: PathBuf, n: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let mut tansu = Tansu::start(bin, dir.path(), "sqlite://tansu.db".into());
    tansu.create_topic(TOPIC, 3);
    let spool = tempfile::tempdir().unwrap();
    // Tansu 0.6.0's SQLite engine panics ("more or less than one row", lite.rs:503) on the
    // idempotent producer's requests after a restart, and then fails every Produce; without
    // idempotence, retries may duplicate, which the tally counts.
    let config =
        spooled_config(&tansu.bootstrap(), spool.path()).property("enable.idempotence", "false");
    let producer = KafkaProducer::new(&config).unwrap();
    let rate = (n / 5).max(1) as u32;
    let (kill, restart) = (n / 3, 2 * n / 3);
    let sent = steady_load(&producer, new_base(), 0..n, rate, |i| {
        if i == kill {
            tansu.kill();
        }
        if i == restart {
            tansu.restart();
        }
    });
    wait_delivered(&producer);
    // SQLite storage reads back slowly: wait longer for the next record.
    tally(
        "3. Tansu (sqlite) SIGKILLed mid-load, restarted on its file",
        &sent,
        &keys_on(&tansu.bootstrap(), Duration::from_secs(20)),
        &BTreeSet::new(),
    )
}

/// The bound `close` must keep: its deadline, plus the time its delivery reports, its replay
/// thread and its last `fsync` are given (a second each), plus slack for a loaded machine.
pub const CLOSE_BOUND: Duration = Duration::from_secs(5);

/// Row 4: `close(1 ms)` mid-load against a slow broker, with `fsync` after every record; a new
/// producer on the same spool sends the rest of the load and replays what the first one left.
pub fn close_mid_load(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let mut config = spooled_config(kafka.bootstrap_servers(), spool.path());
    config.spool.as_mut().unwrap().fsync = FsyncPolicy::Always;
    let base = new_base();
    let rate = (n / 2).max(1) as u32;
    let first = KafkaProducer::new(&config).unwrap();
    // A slow broker, so that records are in flight when the deadline comes.
    let slow_from = n / 4;
    let mut sent = steady_load(&first, base, 0..n / 2, rate, |i| {
        if i == slow_from {
            kafka.set_latency(Duration::from_millis(300)).unwrap();
        }
    });
    let started = Instant::now();
    let report = runtime()
        .block_on(first.close(Duration::from_millis(1)))
        .expect("with a spool, close keeps what it could not deliver");
    let took = started.elapsed();
    assert!(took < CLOSE_BOUND, "close(1 ms) took {took:?}");
    drop(first);
    kafka.set_latency(Duration::ZERO).unwrap();
    let second = KafkaProducer::new(&config).unwrap();
    let recovered = runtime().block_on(second.spool_recovery()).unwrap().records;
    assert_eq!(recovered, report.spooled);
    sent.extend(steady_load(&second, base, n / 2..n, rate, |_| {}));
    wait_delivered(&second);
    tally(
        "4. close(1 ms) mid-load, fsync=always, new producer",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
    .note(format!(
        "close took {} ms, left {} in the spool",
        took.as_millis(),
        report.spooled
    ))
}

/// Row 5: The emitting process is killed with SIGKILL while the broker is down; a new process
/// (here: this one) opens the spool once the broker is back and replays it.
///
/// `child` runs [`child_main`] with the arguments appended.
pub fn process_killed_while_broker_down(n: usize, child: Command) -> Row {
    let (kafka, spool) = embedded_with_spool();
    kafka.all_down().unwrap();
    let base = new_base();
    let accepted = run_child_until_killed(
        child,
        &["spool-while-down", kafka.bootstrap_servers()],
        spool.path(),
        base,
        n,
        |said| said.starts_with("spooled "),
    );
    assert_eq!(accepted.len(), n, "the child accepted every event");
    kafka.all_up().unwrap();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    wait_delivered(&producer);
    tally(
        "5. emitting process SIGKILLed while broker down, restarted",
        &accepted,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
}

/// Row 6: a poison record. A 1.5 MB event during an outage is refused (`MessageTooLarge`, as
/// with the broker up); one already in the spool that the broker refuses for good (spooled
/// under a larger `message.max.bytes`) is quarantined while the records behind it are
/// delivered; after a second short outage new events are delivered again.
pub fn poison_record(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let base = new_base();
    let large = spooled_config(kafka.bootstrap_servers(), spool.path());
    let first = KafkaProducer::new(&large).unwrap();
    let mut sent = outage(&kafka, &first);
    let huge = AuditEntry {
        payload: Some(serde_json::json!({ "blob": "x".repeat(1_500_000) }).into()),
        ..event(base, n + 1)
    };
    let refused = huge.emit_detached(&first);
    assert!(
        matches!(refused, Err(EmitError::MessageTooLarge { .. })),
        "{refused:?}"
    );
    let poison = AuditEntry {
        payload: Some(serde_json::json!({ "blob": "x".repeat(700_000) }).into()),
        ..event(base, n)
    };
    poison.emit_detached(&first).unwrap();
    sent.insert(poison.id.to_string());
    let (behind, refused) = emit_counting(&first, base, 0..n / 2);
    assert!(refused.is_empty(), "{refused:?}");
    sent.extend(behind);
    runtime()
        .block_on(first.close(Duration::from_millis(100)))
        .unwrap();
    drop(first);

    // The next run accepts at most 500 000 bytes: the spooled 700 kB record is poison now.
    kafka.all_up().unwrap();
    let small = spooled_config(kafka.bootstrap_servers(), spool.path())
        .property("message.max.bytes", "500000");
    let second = KafkaProducer::new(&small).unwrap();
    wait_delivered(&second);
    let quarantined = runtime().block_on(second.quarantined()).unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].message.key, poison.id.to_string().as_bytes());
    assert!(
        quarantined[0].reason.contains("size"),
        "{}",
        quarantined[0].reason
    );
    assert_eq!(second.stats().quarantined, 1);

    // A second outage; the producer follows the brokers back up without a replay to tell it.
    sent.extend(outage(&kafka, &second));
    kafka.all_up().unwrap();
    let up = runtime().block_on(second.wait_until(Duration::from_secs(30), |s| !s.brokers_down));
    assert!(up, "{:?}", second.stats());
    let (after, refused) = emit_counting(&second, base, n / 2..n);
    assert!(refused.is_empty(), "{refused:?}");
    sent.extend(after);
    wait_delivered(&second);
    let drained = runtime().block_on(second.drain_quarantine()).unwrap();
    assert_eq!(drained.len(), 1);
    assert!(runtime().block_on(second.quarantined()).unwrap().is_empty());
    tally(
        "6. poison record in an outage, recovery, second outage",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::from([poison.id.to_string()]),
    )
    .note("1.5 MB refused as too large; 1 quarantined")
}

/// Makes a directory immutable (`chattr +i`) until dropped: nothing in it can be created or
/// deleted, as on a filesystem remounted read-only.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(dir.to_owned()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Whether a scenario that needs privileges (`chattr`, `mount`) must run rather than be
/// skipped: CI sets `KAFKA_EVENTS_REQUIRE_PRIVILEGED=1`.
pub fn privileged_required() -> bool {
    std::env::var_os("KAFKA_EVENTS_REQUIRE_PRIVILEGED").is_some()
}

/// Row 7: the spool's directory becomes immutable before its records are replayed: the replayed
/// segment can't be deleted. Every record is delivered once; nothing is sent again.
pub fn undeletable_segment(n: usize) -> Option<Row> {
    let (kafka, spool) = embedded_with_spool();
    let config = spooled_config(kafka.bootstrap_servers(), spool.path());
    let base = new_base();
    let first = KafkaProducer::new(&config).unwrap();
    let mut sent = outage(&kafka, &first);
    let (more, refused) = emit_counting(&first, base, 0..n);
    assert!(refused.is_empty(), "{refused:?}");
    sent.extend(more);
    let report = runtime()
        .block_on(first.close(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(report.spooled, sent.len() as u64);
    drop(first);
    let_go(spool.path());
    let Some(_immutable) = Immutable::set(spool.path()) else {
        assert!(!privileged_required(), "chattr +i failed");
        return None;
    };
    kafka.all_up().unwrap();
    let second = KafkaProducer::new(&config).unwrap();
    wait_delivered(&second);
    // Every record was replayed once, and the segment that can't go is not replayed again.
    let keys = keys_on(kafka.bootstrap_servers(), Duration::from_secs(3));
    let segments = std::fs::read_dir(spool.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert!(
        segments > 0,
        "the segment was deleted from an immutable directory"
    );
    Some(
        tally(
            "7. replayed segment can't be deleted (immutable directory)",
            &sent,
            &keys,
            &BTreeSet::new(),
        )
        .note(format!("{} replayed", second.stats().replayed)),
    )
}

/// Row 8: the spool directory is removed while records wait in it during an outage, and a file
/// takes its place for a while, so it can't be recreated. Events that need the spool then get a
/// typed error; once the path is free, the spool recreates the directory with the records it
/// holds, and every accepted event is delivered.
pub fn spool_directory_removed(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let dir = spool.path().join("spool");
    let producer = KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), &dir)).unwrap();
    let base = new_base();
    let mut sent = outage(&kafka, &producer);
    let (more, refused) = emit_counting(&producer, base, 0..n / 2);
    assert!(refused.is_empty(), "{refused:?}");
    sent.extend(more);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"in the way").unwrap();
    // A steady load until the spool notices (it looks every second) and refuses.
    let mut refused = Vec::new();
    let started = Instant::now();
    let mut i = n / 2;
    while refused.is_empty() && started.elapsed() < Duration::from_secs(10) {
        let (more, now_refused) = emit_counting(&producer, base, i..i + 10);
        sent.extend(more);
        refused.extend(now_refused);
        i += 10;
        pace(started, i - n / 2, 1_000);
    }
    assert!(
        !refused.is_empty(),
        "the spool took records into a directory that is gone"
    );
    for error in &refused {
        assert!(
            matches!(error, EmitError::Spool(SpoolError::Unavailable { .. })),
            "{error}"
        );
    }
    assert_eq!(producer.stats().dropped, refused.len() as u64);
    std::fs::remove_file(&dir).unwrap();
    kafka.all_up().unwrap();
    wait_delivered(&producer);
    tally(
        "8. spool directory removed during an outage",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
    .note(format!(
        "{} refused with SpoolError::Unavailable while it could not be recreated",
        refused.len()
    ))
}

/// A small tmpfs mounted on a directory until dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Row 9: the spool's disk fills up during an outage. Events that need the spool then are
/// refused with `SpoolError::Full` and counted as dropped; every accepted one is delivered.
pub fn full_disk(n: usize) -> Option<Row> {
    let Some(disk) = SmallDisk::mount(4 << 20) else {
        assert!(!privileged_required(), "mounting a tmpfs failed");
        return None;
    };
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    let mut config = spooled_config(kafka.bootstrap_servers(), disk.dir.path());
    config.spool.as_mut().unwrap().segment_bytes = 1 << 20;
    let producer = KafkaProducer::new(&config).unwrap();
    let base = new_base();
    let mut sent = outage(&kafka, &producer);
    // Until the disk is full and the records the spool keeps in memory meanwhile (up to 16 MiB,
    // when its thread has not yet found the disk full) are used up too.
    let mut refused = Vec::new();
    let mut next = 0;
    while refused.len() < 1_000 && next < 20 * n {
        let (more, no) = emit_counting(&producer, base, next..next + n);
        sent.extend(more);
        refused.extend(no);
        next += n;
    }
    assert!(!refused.is_empty(), "the disk did not fill up");
    for error in &refused {
        assert!(
            matches!(error, EmitError::Spool(SpoolError::Full { .. })),
            "{error}"
        );
    }
    assert_eq!(
        producer.stats().dropped,
        refused.len() as u64,
        "{:?}, {} accepted",
        producer.stats(),
        sent.len()
    );
    kafka.all_up().unwrap();
    wait_delivered(&producer);
    Some(
        tally(
            "9. spool disk full during an outage (4 MiB tmpfs)",
            &sent,
            &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
            &BTreeSet::new(),
        )
        .note(format!("{} refused: SpoolError::Full", refused.len())),
    )
}

/// Row 10: the producer is dropped without `close`, on an async worker, with records in
/// flight to a broker that answers in 3 s and `fsync` after every record. `drop` returns at
/// once; nothing accepted is lost.
pub fn drop_without_close(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let mut config = spooled_config(kafka.bootstrap_servers(), spool.path());
    config.spool.as_mut().unwrap().fsync = FsyncPolicy::Always;
    config.delivery_timeout_ms = 30_000;
    let base = new_base();
    kafka.set_latency(Duration::from_secs(3)).unwrap();
    let took = runtime().block_on(async {
        let producer = KafkaProducer::new(&config).unwrap();
        let (sent, refused) = emit_counting(&producer, base, 0..n);
        assert!(refused.is_empty(), "{refused:?}");
        let started = Instant::now();
        drop(producer);
        (sent, started.elapsed())
    });
    let (sent, took) = took;
    kafka.set_latency(Duration::ZERO).unwrap();
    let second = KafkaProducer::new(&config).unwrap();
    wait_delivered(&second);
    tally(
        "10. dropped without close on an async worker, slow broker",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
    .note(format!("drop returned in {} µs", took.as_micros()))
}

/// Row 11: librdkafka's queue is full and there is no spool, with `block` as the overflow
/// policy; requests go through `AuditLayer` on a current-thread runtime where another task must
/// keep running. No request waits for room: the refused entries are counted as dropped.
pub fn full_queue_on_a_current_thread_runtime(requests: usize) -> Row {
    use tower::{Service, ServiceExt};
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    kafka.all_down().unwrap();
    let block = Duration::from_secs(5);
    let producer = Arc::new(
        KafkaProducer::new(
            &KafkaConfig::new([kafka.bootstrap_servers()])
                .delivery_timeout(Duration::from_secs(30))
                .max_queued(10, 1 << 20)
                .overflow(OverflowPolicy::Block {
                    timeout_ms: block.as_millis() as u64,
                }),
        )
        .unwrap(),
    );
    let ticks = Arc::new(AtomicU64::new(0));
    let (took, ran) = runtime().block_on(async {
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut service = tower::ServiceBuilder::new()
            .layer(AuditLayer::new(producer.clone()).service_name("matrix"))
            .service_fn(|_request: http::Request<_>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
            });
        let started = Instant::now();
        let mut ran = 0;
        for _ in 0..requests {
            let before = ticks.load(Ordering::Relaxed);
            let request = http::Request::get("/orders/1")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            let response = service.ready().await.unwrap().call(request).await.unwrap();
            http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap();
            // Let the other task run; a blocked thread would have starved it until now.
            tokio::task::yield_now().await;
            if ticks.load(Ordering::Relaxed) > before {
                ran += 1;
            }
        }
        ticker.abort();
        (started.elapsed(), ran)
    });
    assert_eq!(
        ran, requests,
        "the other task did not run after every request"
    );
    let stats = producer.stats();
    assert_eq!(stats.enqueued + stats.dropped, requests as u64, "{stats:?}");
    assert!(
        took < block,
        "{requests} requests took {took:?}: a request waited for room"
    );
    Row::caller_side(
        "11. queue full, no spool, `block` policy, current-thread runtime",
        format!(
            "{requests} requests in {} ms, other task ran after each; {} dropped and counted",
            took.as_millis(),
            stats.dropped
        ),
    )
}

/// Row 12 (in a child process): `n` awaited emits cancelled while they wait for room in a full
/// queue. Returns the child's RSS growth in bytes.
pub fn cancelled_emits(n: usize, mut child: Command) -> (Row, u64) {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    kafka.all_down().unwrap();
    let mut process = child
        .args(["cancelled-emits", kafka.bootstrap_servers(), &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the child process");
    let mut out = lines(&mut process);
    let said = out
        .find(|l| l.contains("rss-growth "))
        .expect("the child reports its RSS growth");
    // Read to the end, so the child's test harness does not write into a closed pipe.
    out.for_each(drop);
    process.wait().unwrap();
    let growth: u64 = said.rsplit(' ').next().unwrap().parse().unwrap();
    let row = Row::caller_side(
        "12. awaited emits cancelled while waiting for room",
        format!(
            "{n} cancelled: RSS +{:.1} MiB",
            growth as f64 / (1 << 20) as f64
        ),
    );
    (row, growth)
}

/// Row 13: the emitting process, writing ahead to the spool, is killed with SIGKILL mid-load
/// while the broker is up; a new producer on its spool delivers every record it accepted.
pub fn write_ahead_killed(n: usize, child: Command) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let base = new_base();
    let accepted = run_child_until_killed(
        child,
        &["write-ahead-load", kafka.bootstrap_servers()],
        spool.path(),
        base,
        n,
        |said| said == format!("accepted {}", n / 2),
    );
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    let unacknowledged = runtime()
        .block_on(producer.spool_recovery())
        .unwrap()
        .records;
    wait_delivered(&producer);
    tally(
        "13. SIGKILL mid-load, broker up, durability = write_ahead",
        &accepted,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
    .note(format!(
        "killed after {} accepted; {unacknowledged} replayed",
        accepted.len()
    ))
}

fn lines(process: &mut std::process::Child) -> impl Iterator<Item = String> + use<> {
    BufReader::new(process.stdout.take().expect("piped stdout"))
        .lines()
        .map_while(Result::ok)
}

/// Starts `child` with `args`, the spool, base and `n`; kills it (SIGKILL) once it says what
/// `kill_when` waits for; returns the ids it reported accepted (`accepted I` lines).
fn run_child_until_killed(
    mut child: Command,
    args: &[&str],
    spool: &Path,
    base: u128,
    n: usize,
    kill_when: impl Fn(&str) -> bool,
) -> BTreeSet<String> {
    let mut process = child
        .args(args)
        .args([spool.to_str().unwrap(), &base.to_string(), &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the emitting process");
    let mut accepted = BTreeSet::new();
    let mut said = lines(&mut process);
    let mut killed = false;
    for line in said.by_ref() {
        // The test harness may print on the same line first.
        let line = match line.find("accepted ").or_else(|| line.find("spooled ")) {
            Some(at) => line[at..].to_owned(),
            None => continue,
        };
        if let Some(i) = line.strip_prefix("accepted ") {
            let i: usize = i.parse().unwrap();
            accepted.insert(event(base, i).id.to_string());
        }
        if kill_when(&line) {
            process.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
            killed = true;
            break;
        }
    }
    assert!(killed, "the emitting process ended before it was killed");
    // Lines written before the kill are still in the pipe.
    for line in said {
        if let Some(at) = line.find("accepted ") {
            let i: usize = line[at + 9..].trim().parse().unwrap();
            accepted.insert(event(base, i).id.to_string());
        }
    }
    process.wait().unwrap();
    accepted
}

/// What a child process runs: `MODE ARGS...`.
pub fn child_main(args: &[String]) {
    let stdout = std::io::stdout();
    let say = |line: String| {
        let mut out = stdout.lock();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    match args {
        [mode, n] if mode == "memory" => {
            let (before, after, spooled, files) = memory_with_broker_down(n.parse().unwrap());
            say(format!("{before} {after} {spooled} {files}"));
        }
        [mode, bootstrap, spool, base, n] if mode == "spool-while-down" => {
            let (base, n): (u128, usize) = (base.parse().unwrap(), n.parse().unwrap());
            let producer = KafkaProducer::new(&spooled_config(bootstrap, spool.as_ref())).unwrap();
            let started = Instant::now();
            for i in 0..n {
                event(base, i).emit_detached(&producer).unwrap();
                say(format!("accepted {i}"));
                pace(started, i + 1, (n / 2).max(1) as u32);
            }
            let spooled = runtime().block_on(
                producer.wait_until(Duration::from_secs(120), |s| s.spool_depth >= n as u64),
            );
            assert!(spooled, "not spooled: {:?}", producer.stats());
            say(format!("spooled {n}"));
            park_forever()
        }
        [mode, bootstrap, spool, base, n] if mode == "write-ahead-load" => {
            let (base, n): (u128, usize) = (base.parse().unwrap(), n.parse().unwrap());
            let mut config = spooled_config(bootstrap, spool.as_ref());
            config.spool.as_mut().unwrap().durability = Durability::WriteAhead;
            let producer = KafkaProducer::new(&config).unwrap();
            let started = Instant::now();
            for i in 0..n {
                event(base, i).emit_detached(&producer).unwrap();
                say(format!("accepted {i}"));
                pace(started, i + 1, (n / 2).max(1) as u32);
            }
            park_forever()
        }
        [mode, bootstrap, n] if mode == "cancelled-emits" => {
            let n: usize = n.parse().unwrap();
            let producer = KafkaProducer::new(
                &KafkaConfig::new([bootstrap.as_str()])
                    .delivery_timeout(Duration::from_secs(60))
                    .max_queued(10, 1 << 20),
            )
            .unwrap();
            let base = new_base();
            for i in 0..10 {
                event(base, i).emit_detached(&producer).unwrap();
            }
            let runtime = runtime();
            let cancel = |count: usize| {
                runtime.block_on(async {
                    for i in 0..count {
                        let entry = event(base, 10 + i);
                        let mut emit = std::pin::pin!(entry.emit(&producer));
                        // Polled once (it waits for room), then dropped.
                        let polled =
                            std::future::poll_fn(|cx| Poll::Ready(emit.as_mut().poll(cx))).await;
                        assert!(
                            polled.is_pending(),
                            "the queue had room: {:?}",
                            producer.stats()
                        );
                    }
                })
            };
            cancel(n / 10); // warm-up: allocator and runtime settle
            let before = rss_bytes().unwrap();
            cancel(n);
            let after = rss_bytes().unwrap();
            say(format!("rss-growth {}", after.saturating_sub(before)));
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

/// The resident set size of this process, from /proc.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
