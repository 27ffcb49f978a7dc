//! The spool at scale: for backlogs of a few GB, how fast records go into the spool while every
//! broker is down, how long a restart takes to check what the spool holds, and how fast it is
//! replayed, each against the direct rate (the same emits with the broker up) of the same run;
//! and the producing process's peak RSS at each size.
//!
//! ```text
//! cargo run --release --example spool_scale                       # 1, 3 and 10 GB
//! cargo run --release --example spool_scale -- --gb 1,3 --markdown
//! cargo run --release --example spool_scale -- --gb 1 --dir /var/tmp/spool-scale
//! ```
//!
//! The broker is librdkafka's mock cluster in this process (it keeps at most 100 000 records or
//! 5 MB per partition, so a 10 GB replay does not fill memory); each producer runs in a child
//! process of its own, so its peak RSS (`VmHWM`) is the producer's alone. Backlogs are written
//! under `--dir` (default: the system's temporary directory) and deleted after each size.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuditEntry, KafkaConfig, KafkaEvent, KafkaProducer, OverflowPolicy, Producer, SpoolConfig,
};
use uuid::Uuid;

const TOPIC: &str = "audit";
/// Distinct events emitted in turn (building 10 M events up front would measure memory, not the
/// spool).
const POOL: usize = 4096;
/// The targets of the performance issue, part 4.
const SPOOLING_TARGET: f64 = 0.8;
const REPLAY_TARGET: f64 = 0.9;
const RECOVERY_TARGET_S_PER_GB: f64 = 0.1;
/// Peak RSS counts as flat when the largest backlog's is within this factor of the smallest's.
const RSS_FLAT: f64 = 1.2;

/// An audit event of about 1 KB in the spool (its JSON, the envelope's headers, the framing).
fn event(base: u128, i: usize) -> AuditEntry {
    AuditEntry {
        id: Uuid::from_u128(base + i as u128),
        http_method: "POST".into(),
        endpoint: "/orders/{id}".into(),
        resource: "orders".into(),
        service: "spool-scale".into(),
        subject: format!("user-{}", i % 97),
        user_agent: "spool-scale/1".into(),
        full_url: format!("http://127.0.0.1/orders/{i}"),
        payload: Some(serde_json::json!({ "sku": i % 13, "quantity": 1 }).into()),
        ..AuditEntry::new()
    }
}

fn pool() -> Vec<AuditEntry> {
    let base = Uuid::new_v4().as_u128() & !0xffff_ffff;
    (0..POOL).map(|i| event(base, i)).collect()
}

fn config(bootstrap: &str, dir: &Path) -> KafkaConfig {
    // Off any async runtime `block` waits for room, as a plain thread emitting would.
    KafkaConfig::new([bootstrap])
        .delivery_timeout(Duration::from_secs(60))
        .overflow(OverflowPolicy::Block {
            timeout_ms: 300_000,
        })
        .spool(SpoolConfig::new(dir))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// This process's peak RSS (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib(&["VmHWM:"])[0]
}

/// The `names` fields of `/proc/self/status` (read once), in KiB; 0 for one not there.
fn status_kib<const N: usize>(names: &[&str; N]) -> [u64; N] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    names.map(|name| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    })
}

/// What this process's memory is made of, in KiB (`/proc/self/status`): resident in all,
/// anonymous (heap, stacks, records in memory), file-backed (mapped segments, code).
#[derive(Clone, Copy)]
struct Resident {
    all: u64,
    anon: u64,
    file: u64,
}

fn resident() -> Resident {
    let [all, anon, file] = status_kib(&["VmRSS:", "RssAnon:", "RssFile:"]);
    Resident { all, anon, file }
}

/// Samples [`resident`] every millisecond on a thread of its own and keeps the sample with the
/// most resident: what the peak was made of (`VmHWM` only says how high it was).
fn sample_peak() -> std::sync::Arc<std::sync::Mutex<Resident>> {
    let peak = std::sync::Arc::new(std::sync::Mutex::new(resident()));
    let kept = peak.clone();
    std::thread::spawn(move || {
        loop {
            let now = resident();
            let mut peak = kept.lock().unwrap();
            if now.all > peak.all {
                *peak = now;
            }
            drop(peak);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    peak
}

/// One phase, in a child process: prints `seconds records peak_kib sampled_kib anon_kib file_kib
/// base_file_kib`: `VmHWM`, the highest sampled RSS and its anonymous and file-backed parts, and
/// the file-backed part when the phase's producer was made (its code paged in).
fn child(phase: &str, bootstrap: &str, dir: &Path, n: usize) {
    let peak = sample_peak();
    let mut base_file = 0;
    let mut made = || base_file = resident().file;
    let runtime = runtime();
    let events = pool();
    let (seconds, records) = match phase {
        // The same emits with the broker up, until every one is acknowledged.
        "direct" => {
            let producer = KafkaProducer::new(&config(bootstrap, dir)).unwrap();
            made();
            for event in &events[..10] {
                event.emit_detached(&producer).unwrap();
            }
            assert!(runtime.block_on(producer.wait_delivered(Duration::from_secs(30))));
            let warm = producer.stats().delivered;
            let started = Instant::now();
            for i in 0..n {
                events[i % POOL].emit_detached(&producer).unwrap();
            }
            assert!(runtime.block_on(producer.wait_delivered(Duration::from_secs(3600))));
            let seconds = started.elapsed().as_secs_f64();
            let stats = producer.stats();
            assert_eq!(stats.delivered - warm, n as u64, "{stats:?}");
            assert_eq!(stats.spooled, 0, "{stats:?}");
            (seconds, n as u64)
        }
        // Every broker down: the emits go to the spool, until every one is in it.
        "spool" => {
            let producer = KafkaProducer::new(&config(bootstrap, dir)).unwrap();
            made();
            // librdkafka notices the outage when it tries to send.
            let mut warm = 0;
            while !producer.stats().brokers_down {
                events[warm % POOL].emit_detached(&producer).unwrap();
                warm += 1;
                runtime
                    .block_on(producer.wait_until(Duration::from_millis(100), |s| s.brokers_down));
            }
            let started = Instant::now();
            for i in 0..n {
                events[i % POOL].emit_detached(&producer).unwrap();
            }
            let total = (warm + n) as u64;
            assert!(
                runtime.block_on(
                    producer.wait_until(Duration::from_secs(3600), |s| s.spooled >= total)
                )
            );
            let seconds = started.elapsed().as_secs_f64();
            let report = runtime
                .block_on(producer.close(Duration::from_secs(60)))
                .unwrap();
            assert_eq!(report.spooled, total, "every record in the spool");
            (seconds, total)
        }
        // A restart with every broker still down: until the check of the spool returns.
        "recover" => {
            let started = Instant::now();
            let producer = KafkaProducer::new(&config(bootstrap, dir)).unwrap();
            let opened = started.elapsed().as_secs_f64();
            made();
            let records = runtime
                .block_on(producer.spool_recovery())
                .expect("a spool")
                .records;
            let seconds = started.elapsed().as_secs_f64();
            eprintln!("  (recovery: {opened:.3} s of it in KafkaProducer::new)");
            // Nothing was sent: the records stay for the replay.
            let report = runtime
                .block_on(producer.close(Duration::from_secs(60)))
                .unwrap();
            assert_eq!(report.spooled, records);
            (seconds, records)
        }
        // A restart with the broker up: until every spooled record is acknowledged.
        "replay" => {
            let started = Instant::now();
            let producer = KafkaProducer::new(&config(bootstrap, dir)).unwrap();
            made();
            let records = runtime
                .block_on(producer.spool_recovery())
                .expect("a spool")
                .records;
            assert!(runtime.block_on(producer.wait_delivered(Duration::from_secs(3600))));
            let seconds = started.elapsed().as_secs_f64();
            let stats = producer.stats();
            assert_eq!(stats.delivered, records, "{stats:?}");
            (seconds, records)
        }
        other => panic!("unknown phase {other}"),
    };
    let peak = *peak.lock().unwrap();
    println!(
        "{seconds} {records} {} {} {} {} {base_file}",
        peak_rss_kib(),
        peak.all,
        peak.anon,
        peak.file
    );
}

/// What a child printed: seconds, records, peak RSS in KiB, and what the highest sampled RSS
/// was made of.
struct Phase {
    seconds: f64,
    records: u64,
    peak_kib: u64,
    /// The highest RSS sampled (every millisecond): the two parts below, and the code and data
    /// the producer had once made.
    sampled_kib: u64,
    /// Anonymous memory, all of it (the heap: librdkafka's, the runtime's, the events emitted,
    /// records waiting for a segment, librdkafka's queue).
    anon_kib: u64,
    /// File-backed memory above what it was once the producer was made: mapped spool segments
    /// (and code paged in since).
    mapped_kib: u64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

fn run_child(phase: &str, bootstrap: &str, dir: &Path, n: usize) -> Phase {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", phase, bootstrap])
        .arg(dir)
        .arg(n.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match fields[..] {
        [
            seconds,
            records,
            peak_kib,
            sampled_kib,
            anon_kib,
            file_kib,
            base_file_kib,
        ] if out.status.success() => Phase {
            seconds,
            records: records as u64,
            peak_kib: peak_kib as u64,
            sampled_kib: sampled_kib as u64,
            anon_kib: anon_kib as u64,
            mapped_kib: (file_kib - base_file_kib).max(0.0) as u64,
        },
        _ => panic!("phase {phase} failed ({}): {text}", out.status),
    }
}

/// The bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .ok();
    out.and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)?
            .trim()
            .parse()
            .ok()
    })
    .unwrap_or(0)
}

/// One backlog size, measured.
pub struct Row {
    records: usize,
    /// Spool files' bytes once every record was spooled.
    backlog_bytes: u64,
    direct: Phase,
    spool: Phase,
    recover: Phase,
    replay: Phase,
}

impl Row {
    pub fn spooling(&self) -> f64 {
        self.spool.rate() / self.direct.rate()
    }
    pub fn replaying(&self) -> f64 {
        self.replay.rate() / self.direct.rate()
    }
    pub fn backlog_gb(&self) -> f64 {
        self.backlog_bytes as f64 / 1e9
    }
    pub fn recovery_per_gb(&self) -> f64 {
        self.recover.seconds / (self.backlog_bytes as f64 / 1e9)
    }
}

fn measure(gb: f64, root: &Path) -> Row {
    // The size of one record in the spool: its JSON plus the envelope's headers and the framing
    // (about 200 bytes, as measured); the table shows the real backlog.
    let sample = serde_json::to_vec(&event(0, 0)).unwrap().len();
    let per_record = sample + 200;
    let records = (gb * 1e9 / per_record as f64) as usize;
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 3).unwrap();
    let bootstrap = kafka.bootstrap_servers().to_owned();
    let dir = root.join(format!("spool-{gb}gb"));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{gb} GB: {records} records of ~{per_record} bytes; direct…");
    let direct = run_child("direct", &bootstrap, &dir.join("direct"), records);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("  direct {:.0}/s; spooling…", direct.rate());
    kafka.all_down().unwrap();
    let spool = run_child("spool", &bootstrap, &dir, records);
    let backlog_bytes = dir_bytes(&dir);
    eprintln!(
        "  spooling {:.0}/s ({:.2} GB on disk); restart…",
        spool.rate(),
        backlog_bytes as f64 / 1e9
    );
    let recover = run_child("recover", &bootstrap, &dir, records);
    eprintln!("  recovery {:.3} s; replay…", recover.seconds);
    kafka.all_up().unwrap();
    let replay = run_child("replay", &bootstrap, &dir, records);
    eprintln!("  replay {:.0}/s", replay.rate());
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        records,
        backlog_bytes,
        direct,
        spool,
        recover,
        replay,
    }
}

fn met(ok: bool, value: String) -> String {
    if ok {
        format!("{value} met")
    } else {
        format!("**not met** ({value})")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Whether each size's peak RSS (spooling and replaying) is within [`RSS_FLAT`] of the
/// smallest size's.
pub fn flat(rows: &[Row]) -> bool {
    let (first_spool, first_replay) = rows
        .first()
        .map_or((1, 1), |r| (r.spool.peak_kib, r.replay.peak_kib));
    rows.iter().all(|r| {
        r.spool.peak_kib as f64 <= first_spool as f64 * RSS_FLAT
            && r.replay.peak_kib as f64 <= first_replay as f64 * RSS_FLAT
    })
}

/// The peak RSS of the producing child at each size, spooling / replaying, in MiB.
pub fn rss_list(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{:.0} / {:.0}",
                mib(r.spool.peak_kib),
                mib(r.replay.peak_kib)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the peaks were made of at each size, measured (the highest RSS sampled every
/// millisecond), and what each part holds: the measured reason where peak RSS is not flat.
pub fn rss_reason(rows: &[Row]) -> String {
    let part = |p: &Phase| {
        format!(
            "{:.1} MiB: {:.1} anonymous, {:.1} mapped, {:.1} the rest",
            mib(p.sampled_kib),
            mib(p.anon_kib),
            mib(p.mapped_kib),
            mib(p.sampled_kib.saturating_sub(p.anon_kib + p.mapped_kib))
        )
    };
    let sizes = rows
        .iter()
        .map(|r| {
            format!(
                "{:.1} GB: spooling {}; replaying {}",
                r.backlog_bytes as f64 / 1e9,
                part(&r.spool),
                part(&r.replay)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "What the peaks were made of, at the highest RSS sampled every millisecond: {sizes}. \
         Mapped is file-backed memory above what the producer had once made: the spool's active \
         segment of 8 MiB, any sealed one its unmapper thread has not unmapped yet (it runs on \
         the same cores as the emitter, librdkafka and the kernel's write-back, which starts at \
         about {:.1} GB of dirty pages here), and code paged in since; the rest is the file-backed memory the producer had once made (code, \
         mostly). Anonymous is all of the \
         heap (librdkafka's, the runtime's, the program's 4 096 events), and in it, while spooling, records \
         waiting for a segment (up to 16 MiB, when segments fill faster than the spool's spares \
         thread makes them); while replaying, the segment being read (read into memory, not \
         mapped) and the replayed records with librdkafka (replay keeps them to a quarter of its \
         queue: 25 000 records or 16 MiB by default).",
        dirty_background_bytes() as f64 / 1e9
    )
}

/// The section for BENCHMARKS.md; `command` is the one that ran it.
pub fn markdown(rows: &[Row], command: &str) -> String {
    use std::fmt::Write as _;
    let mut w = String::new();
    writeln!(w, "## The spool at scale (`examples/spool_scale.rs`)\n").unwrap();
    writeln!(
        w,
        "| backlog | records | direct | spooling (≥ {SPOOLING_TARGET}× direct) | recovery on restart (≤ {RECOVERY_TARGET_S_PER_GB} s/GB) | replay (≥ {REPLAY_TARGET}× direct) | peak RSS spooling / replay (flat) |"
    )
    .unwrap();
    writeln!(w, "|---|---|---|---|---|---|---|").unwrap();
    let (first_spool, first_replay) = rows
        .first()
        .map_or((1, 1), |r| (r.spool.peak_kib, r.replay.peak_kib));
    let row_flat = |r: &Row| {
        r.spool.peak_kib as f64 <= first_spool as f64 * RSS_FLAT
            && r.replay.peak_kib as f64 <= first_replay as f64 * RSS_FLAT
    };
    for row in rows {
        writeln!(
            w,
            "| {:.2} GB | {} | {:.0}/s | {:.0}/s, {} | {:.3} s, {} | {:.0}/s, {} | {} |",
            row.backlog_bytes as f64 / 1e9,
            row.records,
            row.direct.rate(),
            row.spool.rate(),
            met(
                row.spooling() >= SPOOLING_TARGET,
                format!("{:.2}×", row.spooling())
            ),
            row.recover.seconds,
            met(
                row.recovery_per_gb() <= RECOVERY_TARGET_S_PER_GB,
                format!("{:.3} s/GB", row.recovery_per_gb())
            ),
            row.replay.rate(),
            met(
                row.replaying() >= REPLAY_TARGET,
                format!("{:.2}×", row.replaying())
            ),
            met(
                row_flat(row),
                format!(
                    "{:.0} / {:.0} MiB",
                    mib(row.spool.peak_kib),
                    mib(row.replay.peak_kib)
                )
            ),
        )
        .unwrap();
    }
    writeln!(
        w,
        "\nHow it was run: `{command}` on {}. \
         The broker is librdkafka's mock cluster (`EmbeddedKafka`, one topic of 3 partitions) in the \
         benchmark's process; every producer runs in a child process of its own (default spool \
         settings: 8 MiB segments, fsync every 100 ms, on-failure durability, the `block` overflow \
         policy, emits from a plain thread), and its peak RSS is that child's `VmHWM`. Direct: the \
         emits with the broker up, until `wait_delivered`. Spooling: the same emits with every \
         broker down (`all_down`), until every record is counted as spooled. Recovery: a new \
         producer on the same directory, broker still down, from `KafkaProducer::new` until \
         `spool_recovery().await` returns. Replay: a new producer with the broker up, from \
         `KafkaProducer::new` (its recovery included) until `wait_delivered`. Ratios are to the \
         direct rate of the same size's run. Peak RSS is flat when each size's is within {RSS_FLAT}× \
         the smallest's.",
        machine()
    )
    .unwrap();
    writeln!(w, "\n{}", rss_reason(rows)).unwrap();
    w
}

/// The dirty page cache above which the kernel starts writing back.
fn dirty_background_bytes() -> u64 {
    let read = |path: &str| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let bytes = read("/proc/sys/vm/dirty_background_bytes");
    if bytes > 0 {
        return bytes;
    }
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    available_kib * 1024 * read("/proc/sys/vm/dirty_background_ratio") / 100
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({model})")
}

/// Runs a phase when this process is one of the children (`--child`): then returns true.
pub fn child_main(args: &[String]) -> bool {
    if args.get(1).map(String::as_str) != Some("--child") {
        return false;
    }
    child(
        &args[2],
        &args[3],
        Path::new(&args[4]),
        args[5].parse().unwrap(),
    );
    true
}

/// Measures each backlog size in `sizes` (GB) under `root` (default: the system's temporary
/// directory), skipping a size the disk has no room for; prints a line per size.
pub fn run(sizes: &[f64], root: Option<PathBuf>) -> Vec<Row> {
    let root = root.unwrap_or_else(std::env::temp_dir);
    let root = root.join(format!("kafka-events-spool-scale-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let mut rows = Vec::new();
    for &gb in sizes {
        // Room for the backlog, and 5 GB to spare.
        let needed = (gb * 1.2e9) as u64 + 5_000_000_000;
        if free_bytes(&root) < needed {
            eprintln!("{gb} GB: skipped, not enough free disk");
            continue;
        }
        let row = measure(gb, &root);
        println!(
            "{:>6.2} GB {:>9} records: direct {:>7.0}/s  spooling {:>7.0}/s ({:.2}x)  recovery {:.3} s ({:.3} s/GB)  replay {:>7.0}/s ({:.2}x)  peak RSS {:.0} / {:.0} MiB",
            row.backlog_bytes as f64 / 1e9,
            row.records,
            row.direct.rate(),
            row.spool.rate(),
            row.spooling(),
            row.recover.seconds,
            row.recovery_per_gb(),
            row.replay.rate(),
            row.replaying(),
            mib(row.spool.peak_kib),
            mib(row.replay.peak_kib),
        );
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&root);
    rows
}

#[allow(dead_code)] // `examples/benchmarks.rs` includes this file and calls `run`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if child_main(&args) {
        return;
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let sizes: Vec<f64> = value("--gb")
        .map_or("1,3,10", String::as_str)
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .expect("--gb takes sizes in GB, e.g. 1,3,10")
        })
        .collect();
    let rows = run(&sizes, value("--dir").map(PathBuf::from));
    if args.iter().any(|a| a == "--markdown") {
        let command = format!(
            "cargo run --release --example spool_scale -- --gb {} --markdown",
            value("--gb").map_or("1,3,10", String::as_str)
        );
        println!("\n{}", markdown(&rows, &command));
    }
}
