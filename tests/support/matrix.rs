//! The fault matrix: each scenario emits N events under steady load while something fails, then
//! an independent consumer reads the topic and the row says how many came through.
//!
//! Shared by `tests/fault_matrix.rs` (which asserts `lost == 0`) and `examples/fault_matrix.rs`
//! (which prints the table).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafka_events::testing::{EmbeddedKafka, ProduceFault, read_topic_idle};
use kafka_events::{AuditEntry, KafkaConfig, KafkaEvent, KafkaProducer, Producer, SpoolConfig};
use uuid::Uuid;

pub const TOPIC: &str = "audit";

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub scenario: String,
    pub sent: usize,
    pub unique: usize,
    pub lost: usize,
    pub duplicates: usize,
}

impl Row {
    pub fn header() -> String {
        format!(
            "{:<58} | {:>6} | {:>16} | {:>4} | {:>10}",
            "scenario", "sent", "unique delivered", "lost", "duplicates"
        )
    }

    pub fn line(&self) -> String {
        format!(
            "{:<58} | {:>6} | {:>16} | {:>4} | {:>10}",
            self.scenario, self.sent, self.unique, self.lost, self.duplicates
        )
    }
}

/// Counts what the consumer saw against what was sent.
pub fn tally(scenario: &str, sent: &BTreeSet<String>, keys: &[String]) -> Row {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for key in keys {
        *seen.entry(key.as_str()).or_default() += 1;
    }
    let unique = sent
        .iter()
        .filter(|id| seen.contains_key(id.as_str()))
        .count();
    let duplicates = seen.values().map(|n| n - 1).sum();
    Row {
        scenario: scenario.to_owned(),
        sent: sent.len(),
        unique,
        lost: sent.len() - unique,
        duplicates,
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
        payload: Some(serde_json::json!({ "sku": i % 13, "quantity": 1 })),
        ..AuditEntry::new()
    }
}

pub fn new_base() -> u128 {
    Uuid::new_v4().as_u128() & !0xffff_ffff
}

/// Emits `n` detached events at `rate` per second, calling `at(i)` before event `i` so a
/// scenario can break something mid-load. Returns the ids sent.
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
        // Pacing, not synchronisation: the load is meant to be spread over time.
        let due = started + Duration::from_secs_f64((i - first + 1) as f64 / f64::from(rate));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    sent
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

fn wait_delivered(producer: &KafkaProducer) {
    let done = runtime().block_on(producer.wait_delivered(Duration::from_secs(300)));
    assert!(done, "not delivered in time: {:?}", producer.stats());
}

/// Scenario 1: The embedded broker goes down for 3 s in the middle of the load, then comes back.
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
    )
}

/// Scenario 2: Produce requests fail with retriable errors, over and over, during the load.
pub fn injected_produce_errors(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
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
    )
}

/// Scenario 4: `close` mid-load with a deadline too short to flush; a new producer on the same spool
/// sends the rest of the load and replays what the first one left.
pub fn close_mid_load(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let config = spooled_config(kafka.bootstrap_servers(), spool.path());
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
    let report = runtime()
        .block_on(first.close(Duration::from_millis(1)))
        .expect("with a spool, close keeps what it could not deliver");
    drop(first);
    kafka.set_latency(Duration::ZERO).unwrap();
    let second = KafkaProducer::new(&config).unwrap();
    let recovered = runtime().block_on(second.spool_recovery()).unwrap().records;
    assert_eq!(recovered, report.spooled);
    sent.extend(steady_load(&second, base, n / 2..n, rate, |_| {}));
    wait_delivered(&second);
    tally(
        &format!(
            "4. close(1 ms) mid-load ({} spooled), new producer",
            report.spooled
        ),
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
    )
}

/// What the child process of scenario 5 runs: emit `n` events with the broker down, wait
/// until every one is in the spool, say so, and wait to be killed.
pub fn child_emit_then_wait(bootstrap: &str, spool: &Path, base: u128, n: usize) -> ! {
    let producer = KafkaProducer::new(&spooled_config(bootstrap, spool)).unwrap();
    steady_load(&producer, base, 0..n, (n / 2).max(1) as u32, |_| {});
    let deadline = Instant::now() + Duration::from_secs(120);
    while producer.stats().spooled < n as u64 {
        assert!(
            Instant::now() < deadline,
            "not spooled: {:?}",
            producer.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("spooled {n}");
    loop {
        std::thread::park();
    }
}

/// Scenario 5: The emitting process is killed with SIGKILL while the broker is down; a new process
/// (here: this one) opens the spool once the broker is back and replays it.
///
/// `child` is the command that runs [`child_emit_then_wait`] with the arguments appended.
pub fn process_killed_while_broker_down(n: usize, mut child: Command) -> Row {
    let (kafka, spool) = embedded_with_spool();
    kafka.all_down().unwrap();
    let base = new_base();
    let mut process = child
        .args([
            kafka.bootstrap_servers(),
            spool.path().to_str().unwrap(),
            &base.to_string(),
            &n.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the emitting process");
    let stdout = process.stdout.take().unwrap();
    let said = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The test harness may print on the same line first.
        .find(|line| line.contains("spooled "));
    assert!(
        said.as_deref()
            .is_some_and(|l| l.ends_with(&format!("spooled {n}"))),
        "the emitting process said {said:?}"
    );
    process.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    process.wait().unwrap();

    kafka.all_up().unwrap();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    wait_delivered(&producer);
    let sent: BTreeSet<String> = (0..n).map(|i| event(base, i).id.to_string()).collect();
    tally(
        "5. emitting process SIGKILLed while broker down, restarted",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
    )
}

/// A Tansu broker on 127.0.0.1, storing in a SQLite file so it survives SIGKILL.
pub struct Tansu {
    bin: PathBuf,
    port: u16,
    storage: String,
    /// Tansu resolves a `sqlite://` path against its working directory.
    dir: PathBuf,
    process: Option<Child>,
}

impl Tansu {
    /// The binary from `KAFKA_EVENTS_TANSU` (what `scripts/tansu.sh bin` prints).
    pub fn binary() -> Option<PathBuf> {
        std::env::var_os("KAFKA_EVENTS_TANSU")
            .map(PathBuf::from)
            .filter(|p| p.exists())
    }

    pub fn start(bin: PathBuf, dir: &Path, storage: String) -> Tansu {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut tansu = Tansu {
            bin,
            port,
            storage,
            dir: dir.to_owned(),
            process: None,
        };
        tansu.restart();
        tansu
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let url = format!("tcp://{}", self.bootstrap());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .unwrap();
        let process = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .env("RUST_LOG", "warn")
            .current_dir(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting tansu");
        self.process = Some(process);
        // Ready when it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(self.bootstrap()).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start on {}",
                self.bootstrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(&self.bin)
            .args(["topic", "create", name, "--broker"])
            .arg(format!("tcp://{}", self.bootstrap()))
            .args(["--partitions", &partitions.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "tansu topic create {name} failed");
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().unwrap();
            process.wait().unwrap();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Scenario 3: Tansu on SQLite is killed with SIGKILL mid-load and restarted on the same file.
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
    )
}

/// The resident set size of this process, from /proc.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// RSS before and after `n` detached emits with every broker down: memory is bounded by the
/// queue limits, everything else is on disk. Returns (before, after, spooled, on-disk bytes).
pub fn memory_with_broker_down(n: usize) -> (u64, u64, u64, u64) {
    let (kafka, spool) = embedded_with_spool();
    kafka.all_down().unwrap();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    let base = new_base();
    let before = rss_bytes().unwrap_or(0);
    for i in 0..n {
        event(base, i).emit_detached(&producer).unwrap();
    }
    let after = rss_bytes().unwrap_or(0);
    let spooled = producer.stats().spooled;
    let on_disk = std::fs::read_dir(spool.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    (before, after, spooled, on_disk)
}
