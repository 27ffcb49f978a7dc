//! Fault-matrix rows for the edges: order per key through an outage, a fatal librdkafka error
//! (injected, and caused by a broker stall under load on Tansu), the spool under a burst from
//! many threads on a busy machine, records the spool's format can't hold or that were
//! damaged at rest, and spool segments removed or unreadable at rest.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_events::testing::{EmbeddedKafka, raise_fatal_error, read_topic_idle};
use kafka_events::{EmitError, KafkaEvent, KafkaProducer, MessageRef, Producer, SpoolConfig};
use serde::{Deserialize, Serialize};

use super::{
    Row, TOPIC, Tansu, embedded_with_spool, event, keys_on, let_go, new_base, outage, rss_bytes,
    runtime, spooled_config, steady_load, tally, wait_delivered,
};

/// An event whose key is shared: `seq` says the order its key's records were emitted in.
#[derive(Serialize, Deserialize, KafkaEvent)]
#[event(topic = "audit", key = "account", type = "ledger.entry")]
struct Entry {
    account: String,
    seq: u64,
}

/// Row 14: every broker down while one key's records are emitted; as the brokers come back (the
/// spool still replaying), more records of that key. All arrive, in the order emitted.
pub fn order_through_an_outage(n: usize) -> Row {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let producer =
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap();
    let emit = |seq: usize| {
        Entry {
            account: "acct-1".into(),
            seq: seq as u64,
        }
        .emit_detached(&producer)
        .unwrap()
    };
    let spooled = n * 20 / 21;
    kafka.all_down().unwrap();
    (0..spooled).for_each(emit);
    let noticed =
        runtime().block_on(producer.wait_until(Duration::from_secs(30), |s| s.brokers_down));
    assert!(noticed, "{:?}", producer.stats());
    // Slow enough that the spool is still replaying when the new records come.
    kafka.set_latency(Duration::from_millis(500)).unwrap();
    kafka.all_up().unwrap();
    let up = runtime().block_on(producer.wait_until(Duration::from_secs(30), |s| !s.brokers_down));
    assert!(up, "{:?}", producer.stats());
    let backlog = producer.stats().spool_depth;
    (spooled..n).for_each(emit);
    kafka.set_latency(Duration::ZERO).unwrap();
    wait_delivered(&producer);
    let (keys, in_order) = read_in_order(&kafka);
    let sent: BTreeSet<String> = (0..n as u64).map(|s| s.to_string()).collect();
    tally(
        "14. one key: outage, then more as the brokers come back",
        &sent,
        &keys,
        &BTreeSet::new(),
    )
    .note(format!(
        "{} ({backlog} still spooled when the new ones came)",
        if in_order {
            "order kept"
        } else {
            "ORDER BROKEN"
        }
    ))
}

/// The `seq` of every `Entry` on the topic (a partition of its own), as read, and whether each
/// first appears in the order emitted.
fn read_in_order(kafka: &EmbeddedKafka) -> (Vec<String>, bool) {
    let records = read_topic_idle(
        kafka.bootstrap_servers(),
        TOPIC,
        Duration::from_secs(3),
        Duration::from_secs(300),
    )
    .unwrap();
    let read: Vec<u64> = records
        .iter()
        .map(|r| r.decode::<Entry>().unwrap().seq)
        .collect();
    let mut first_seen = Vec::new();
    let mut seen = BTreeSet::new();
    for seq in &read {
        if seen.insert(*seq) {
            first_seen.push(*seq);
        }
    }
    let in_order = first_seen.windows(2).all(|w| w[0] < w[1]);
    (read.iter().map(u64::to_string).collect(), in_order)
}

/// Row 15: librdkafka raises a fatal error (as an idempotent producer fenced, or answered out of
/// sequence, does) mid-load: the producer replaces its client and delivers everything.
pub fn fatal_error_mid_load(n: usize, with_spool: bool) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let config = if with_spool {
        spooled_config(kafka.bootstrap_servers(), spool.path())
    } else {
        kafka
            .producer_config()
            .delivery_timeout(Duration::from_secs(3))
    };
    let producer = KafkaProducer::new(&config).unwrap();
    let rate = (n / 4).max(1) as u32;
    let sent = steady_load(&producer, new_base(), 0..n, rate, |i| {
        if i == n / 3 {
            assert!(raise_fatal_error(&producer, "fault matrix"));
        }
    });
    wait_delivered(&producer);
    let stats = producer.stats();
    tally(
        if with_spool {
            "15. fatal librdkafka error mid-load (spool)"
        } else {
            "15. fatal librdkafka error mid-load (no spool)"
        },
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &BTreeSet::new(),
    )
    .note(format!(
        "fatal_errors {}, client replaced: {}",
        stats.fatal_errors, !stats.replacing_client
    ))
}

/// Row 16: Tansu frozen (SIGSTOP) for `freeze` under a sustained load from four threads, then
/// resumed: records time out and are spooled, the broker may then answer the idempotent
/// producer out of sequence (a fatal error), and everything accepted is delivered.
pub fn tansu_stalled_under_load(bin: PathBuf, seconds: u64, freeze: Duration) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let tansu = Tansu::start(bin, dir.path(), "memory://tansu/".into());
    tansu.create_topic(TOPIC, 3);
    let spool = tempfile::tempdir().unwrap();
    let producer =
        Arc::new(KafkaProducer::new(&spooled_config(&tansu.bootstrap(), spool.path())).unwrap());
    let base = new_base();
    let threads = 4;
    let per_thread = (seconds as usize) * 2_500;
    let load: Vec<_> = (0..threads)
        .map(|t| {
            let producer = producer.clone();
            std::thread::spawn(move || {
                let range = t * per_thread..(t + 1) * per_thread;
                steady_load(&*producer, base, range, 2_500, |_| {})
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds / 4));
    tansu.freeze();
    std::thread::sleep(freeze);
    tansu.resume();
    let mut sent = BTreeSet::new();
    for thread in load {
        sent.extend(thread.join().unwrap());
    }
    wait_delivered(&producer);
    let stats = producer.stats();
    tally(
        "16. Tansu frozen (SIGSTOP) under load from 4 threads, resumed",
        &sent,
        &keys_on(&tansu.bootstrap(), Duration::from_secs(10)),
        &BTreeSet::new(),
    )
    .note(format!(
        "frozen {freeze:?}; {} spooled, fatal_errors {}",
        stats.spooled, stats.fatal_errors
    ))
}

/// Row 17: a record with a header name the spool's format can't hold is refused (typed) and
/// the records after it are delivered; a record damaged at rest in a spooled segment is set
/// aside alone, and the records after it are delivered.
pub fn records_the_spool_cannot_hold(n: usize) -> Row {
    let (kafka, spool) = embedded_with_spool();
    let config = spooled_config(kafka.bootstrap_servers(), spool.path());
    let base = new_base();
    let mut sent = BTreeSet::new();
    let refusal = {
        let producer = KafkaProducer::new(&config).unwrap();
        sent.extend(outage(&kafka, &producer));
        let name = "é".repeat(40_000);
        let refusal = producer.send_detached(MessageRef {
            topic: TOPIC,
            key: b"long-header",
            payload: b"{}",
            headers: &[(name.as_str(), b"v")],
        });
        for i in 0..n {
            let entry = event(base, i);
            entry.emit_detached(&producer).unwrap();
            sent.insert(entry.id.to_string());
        }
        runtime()
            .block_on(producer.close(Duration::from_millis(100)))
            .unwrap();
        refusal
    };
    assert!(
        matches!(refusal, Err(EmitError::InvalidRecord { .. })),
        "{refusal:?}"
    );
    // A byte flipped at rest in the middle of one record of the spool.
    let_go(spool.path());
    let damaged = damage_one_record(spool.path(), base, n / 2);
    kafka.all_up().unwrap();
    let producer = KafkaProducer::new(&config).unwrap();
    wait_delivered(&producer);
    let lost_to_damage = BTreeSet::from([damaged]);
    tally(
        "17. overlong header name refused; a record damaged at rest",
        &sent,
        &keys_on(kafka.bootstrap_servers(), Duration::from_secs(3)),
        &lost_to_damage,
    )
    .note(format!(
        "refused with InvalidRecord; the damaged record set aside alone ({} counted lost)",
        producer.stats().dropped
    ))
}

/// Row 19: one key's records spooled in several segments with every broker down, the producer
/// closed; at rest, the oldest segment's file is removed and the next one's moved aside, a
/// symbolic link to it in its place (the spool never reads through one: reading it fails,
/// whoever runs the test). The next run counts the removed segment's records as lost
/// (`dropped_by.damaged`) once its file has been missing for 10 s, and hands nothing after the
/// unreadable one to librdkafka while it can't be read; once it can, the rest arrive in the
/// order emitted.
pub fn spool_segments_removed_or_unreadable(n: usize) -> Row {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic(TOPIC, 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    // The smallest segments (1 MiB): the records fill several.
    let config = spooled_config(kafka.bootstrap_servers(), spool.path()).spool(SpoolConfig {
        segment_bytes: 1 << 20,
        ..SpoolConfig::new(spool.path())
    });
    {
        let producer = KafkaProducer::new(&config).unwrap();
        kafka.all_down().unwrap();
        for seq in 0..n as u64 {
            let account = "acct-1".into();
            Entry { account, seq }.emit_detached(&producer).unwrap();
        }
        let report = runtime()
            .block_on(producer.close(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(report.spooled, n as u64);
    }
    let_go(spool.path());
    let mut segments: Vec<PathBuf> = std::fs::read_dir(spool.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{} segments", segments.len());
    let removed = seqs_in(&std::fs::read(&segments[0]).unwrap());
    std::fs::remove_file(&segments[0]).unwrap();
    let aside = spool.path().join("aside");
    std::fs::rename(&segments[1], &aside).unwrap();
    std::os::unix::fs::symlink(&aside, &segments[1]).unwrap();
    kafka.all_up().unwrap();
    let producer = KafkaProducer::new(&config).unwrap();
    let held = runtime().block_on(producer.wait_until(Duration::from_secs(30), |s| {
        s.spool_unreadable == 1 && s.dropped_by.damaged == removed.len() as u64
    }));
    assert!(held, "{:?}", producer.stats());
    // Nothing of a later segment went ahead of the unreadable one's records.
    let enqueued = producer.stats().enqueued;
    // Over the link at once: the segment is never missing while the producer runs.
    std::fs::rename(&aside, &segments[1]).unwrap();
    wait_delivered(&producer);
    let stats = producer.stats();
    assert_eq!(
        (stats.dropped, stats.spool_unreadable),
        (removed.len() as u64, 0)
    );
    let (keys, read_in_order) = read_in_order(&kafka);
    let in_order = enqueued == 0 && read_in_order;
    let sent: BTreeSet<String> = (0..n as u64).map(|s| s.to_string()).collect();
    let accounted: BTreeSet<String> = removed.iter().map(u64::to_string).collect();
    tally(
        "19. spool segments at rest: one removed, one unreadable",
        &sent,
        &keys,
        &accounted,
    )
    .note(format!(
        "{} lost with the removed segment, counted: {}; {}",
        removed.len(),
        stats.dropped_by.damaged,
        if in_order {
            "nothing replayed while one could not be read, order kept"
        } else {
            "ORDER BROKEN"
        }
    ))
}

/// The `seq` of every `Entry` in a segment's bytes.
fn seqs_in(bytes: &[u8]) -> BTreeSet<u64> {
    let field = b"\"seq\":";
    let mut seqs = BTreeSet::new();
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(field.len()).position(|w| w == field) {
        let digits = &bytes[at + found + field.len()..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        seqs.insert(
            std::str::from_utf8(&digits[..len])
                .unwrap()
                .parse()
                .unwrap(),
        );
        at += found + field.len() + len;
    }
    seqs
}

/// Flips a byte in the payload of event `base + i` in its spool segment; returns its id.
fn damage_one_record(dir: &std::path::Path, base: u128, i: usize) -> String {
    let id = event(base, i).id.to_string();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "seg") {
            continue;
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let Some(at) = bytes.windows(id.len()).position(|w| w == id.as_bytes()) else {
            continue;
        };
        // Past the key: inside the payload that follows it.
        bytes[at + id.len() + 40] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        return id;
    }
    panic!("event {i} is in no segment");
}

/// RSS before and after `n` detached emits from eight threads with every broker down, while
/// two busy processes compete for the CPU: no emit is refused, memory stays bounded, and the
/// spool keeps few files open. Returns (before, after, spooled, most files open).
pub fn memory_with_broker_down(n: usize) -> (u64, u64, u64, usize) {
    let (kafka, spool) = embedded_with_spool();
    let producer = Arc::new(
        KafkaProducer::new(&spooled_config(kafka.bootstrap_servers(), spool.path())).unwrap(),
    );
    // The outage is known (records sent before it was are in librdkafka's queue, bounded by
    // its own settings): the burst goes to the spool.
    let probes = outage(&kafka, &producer).len() as u64;
    let _competition: Vec<_> = (0..2).map(|_| Busy::spawn()).collect();
    let base = new_base();
    let before = rss_bytes().unwrap_or(0);
    let done = Arc::new(AtomicBool::new(false));
    let files = {
        let (dir, done) = (spool.path().to_owned(), done.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(Ordering::Acquire) {
                most = most.max(files_open_under(&dir));
                std::thread::sleep(Duration::from_millis(50));
            }
            most
        })
    };
    let threads = 8;
    let emitters: Vec<_> = (0..threads)
        .map(|t| {
            let producer = producer.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    event(base, i)
                        .emit_detached(&*producer)
                        .unwrap_or_else(|e| panic!("event {i} was refused: {e}"));
                }
            })
        })
        .collect();
    for emitter in emitters {
        emitter.join().unwrap();
    }
    let after = rss_bytes().unwrap_or(0);
    done.store(true, Ordering::Release);
    let most_files = files.join().unwrap();
    (before, after, producer.stats().spooled - probes, most_files)
}

/// A process that keeps a core busy until it is dropped (also when the scenario panics).
struct Busy(std::process::Child);

impl Busy {
    fn spawn() -> Self {
        Busy(
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The files this process has open under `dir`.
fn files_open_under(dir: &std::path::Path) -> usize {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return 0;
    };
    std::fs::read_dir("/proc/self/fd")
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter(|target| target.starts_with(&dir))
                .count()
        })
        .unwrap_or(0)
}
