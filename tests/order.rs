//! Records of one key reach their partition in the order they were emitted: through an outage
//! (records spooled, then new ones emitted as the brokers come back), through a record that
//! timed out and was spooled while later ones of its key were still queued, through replay, and
//! through a restart (the new run emitting before it read what the last one left).
//! Checked by reading the topics back (the embedded broker).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use kafka_events::testing::{EmbeddedKafka, read_topic_until};
use kafka_events::{KafkaConfig, KafkaEvent, KafkaProducer, Producer, SpoolConfig};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, KafkaEvent)]
#[event(topic = "ledger", key = "account", type = "ledger.entry")]
struct Entry {
    account: String,
    seq: u64,
}

fn config(kafka: &EmbeddedKafka, spool: &std::path::Path) -> KafkaConfig {
    kafka
        .producer_config()
        .delivery_timeout(Duration::from_secs(2))
        .property("reconnect.backoff.max.ms", "200")
        .spool(SpoolConfig::new(spool))
}

/// The sequence numbers read back, per key, in the order the partitions hold them; a record
/// delivered twice (at least once) counts where it first appears. Reads until `expected`
/// distinct records are in.
fn read_back(kafka: &EmbeddedKafka, expected: usize) -> BTreeMap<String, Vec<u64>> {
    let mut distinct = HashSet::new();
    let mut looked = 0;
    let records = read_topic_until(
        kafka.bootstrap_servers(),
        "ledger",
        Duration::from_secs(60),
        |read| {
            for record in &read[looked..] {
                let entry: Entry = record.decode().unwrap();
                distinct.insert((entry.account, entry.seq));
            }
            looked = read.len();
            distinct.len() >= expected
        },
    )
    .unwrap();
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for record in &records {
        let entry: Entry = record.decode().unwrap();
        let seqs = per_key.entry(entry.account).or_default();
        if !seqs.contains(&entry.seq) {
            seqs.push(entry.seq);
        }
    }
    per_key
}

fn assert_in_order(per_key: &BTreeMap<String, Vec<u64>>, per_key_count: u64) {
    for (key, seqs) in per_key {
        let expected: Vec<u64> = (0..per_key_count).collect();
        if *seqs != expected {
            let first_wrong = seqs.iter().zip(&expected).position(|(a, b)| a != b);
            panic!(
                "{key}: {} records, out of order or missing from position {first_wrong:?}: {:?}",
                seqs.len(),
                &seqs[first_wrong.unwrap_or(0).saturating_sub(3)..][..10.min(seqs.len())]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_through_an_outage_then_new_records_as_the_brokers_come_back() {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("ledger", 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let producer = KafkaProducer::new(&config(&kafka, spool.path())).unwrap();
    let emit = |seq: u64| {
        Entry {
            account: "acct-1".into(),
            seq,
        }
        .emit_detached(&producer)
        .unwrap()
    };
    kafka.all_down().unwrap();
    for seq in 0..20_000 {
        emit(seq);
    }
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.brokers_down)
            .await
    );
    // Brokers back, slow enough that replaying the spool takes a while.
    kafka.set_latency(Duration::from_millis(50)).unwrap();
    kafka.all_up().unwrap();
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| !s.brokers_down)
            .await
    );
    assert!(producer.stats().spool_depth > 0, "{:?}", producer.stats());
    // With the spool still full of this key's records.
    for seq in 20_000..21_000 {
        emit(seq);
    }
    kafka.set_latency(Duration::ZERO).unwrap();
    assert!(
        producer.wait_delivered(Duration::from_secs(120)).await,
        "{:?}",
        producer.stats()
    );
    assert!(producer.stats().spooled > 0, "{:?}", producer.stats());
    let per_key = read_back(&kafka, 21_000);
    assert_in_order(&per_key, 21_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_over_several_partitions_through_an_outage_mid_load() {
    const KEYS: u64 = 40;
    const PER_KEY: u64 = 300;
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("ledger", 3).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let producer = KafkaProducer::new(&config(&kafka, spool.path())).unwrap();
    for seq in 0..PER_KEY {
        if seq == PER_KEY / 3 {
            kafka.all_down().unwrap();
        }
        if seq == PER_KEY * 2 / 3 {
            // Long enough for the producer to notice, so records are spooled and replayed.
            producer
                .wait_until(Duration::from_secs(30), |s| s.brokers_down)
                .await;
            kafka.all_up().unwrap();
        }
        for key in 0..KEYS {
            Entry {
                account: format!("acct-{key}"),
                seq,
            }
            .emit_detached(&producer)
            .unwrap();
        }
    }
    assert!(
        producer.wait_delivered(Duration::from_secs(120)).await,
        "{:?}",
        producer.stats()
    );
    let per_key = read_back(&kafka, (KEYS * PER_KEY) as usize);
    assert_eq!(per_key.len() as u64, KEYS);
    assert_in_order(&per_key, PER_KEY);
}

/// Something the test's threads wait for: set once, by the test or, should it fail first, by
/// [`SetOnDrop`] (so that no thread is left emitting or waiting).
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Signal {
    fn set(&self) {
        self.set.store(true, Ordering::Release);
        let _guard = self.lock.lock().unwrap();
        self.changed.notify_all();
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Waits until it is set, at most `timeout`.
    fn wait(&self, timeout: Duration) {
        let guard = self.lock.lock().unwrap();
        let _ = self
            .changed
            .wait_timeout_while(guard, timeout, |_| !self.is_set())
            .unwrap();
    }
}

struct SetOnDrop(Vec<Arc<Signal>>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(|signal| signal.set());
    }
}

/// Threads emitting their keys at full speed as the brokers go (and come back): a thread that
/// read the producer's state just before the outage was noticed hands its record to librdkafka
/// while the records there are being taken back (and librdkafka reports those out of order);
/// each key's records land in the order they were emitted all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_several_threads_through_an_outage_noticed_mid_emit() {
    const THREADS: u64 = 4;
    // The most each thread emits before the outage is noticed (it waits then), and how many
    // it emits once it is, and once it is over.
    const BEFORE_AT_MOST: u64 = 50_000;
    const DURING: u64 = 2_000;
    const AFTER: u64 = 1_000;
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("ledger", 2).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let producer = Arc::new(KafkaProducer::new(&config(&kafka, spool.path())).unwrap());
    let noticed = Arc::new(Signal::default());
    // The rest are emitted as the spool is replayed.
    let over = Arc::new(Signal::default());
    let _release = SetOnDrop(vec![noticed.clone(), over.clone()]);
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (producer, noticed, over) = (producer.clone(), noticed.clone(), over.clone());
            std::thread::spawn(move || {
                let emit = |seq| {
                    Entry {
                        account: format!("acct-{thread}"),
                        seq,
                    }
                    .emit_detached(&*producer)
                    .unwrap()
                };
                // At full speed until the outage is noticed, and a while after.
                let mut seq = 0;
                while !noticed.is_set() && seq < BEFORE_AT_MOST {
                    emit(seq);
                    seq += 1;
                }
                noticed.wait(Duration::from_secs(60));
                let during = seq..seq + DURING;
                during.clone().for_each(emit);
                over.wait(Duration::from_secs(60));
                (during.end..during.end + AFTER).for_each(emit);
                (format!("acct-{thread}"), during.end + AFTER)
            })
        })
        .collect();
    // Mid-emit: the brokers go once records are with librdkafka.
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.enqueued >= 5_000)
            .await
    );
    kafka.all_down().unwrap();
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.brokers_down)
            .await
    );
    noticed.set();
    kafka.all_up().unwrap();
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| !s.brokers_down)
            .await
    );
    over.set();
    let counts: BTreeMap<String, u64> = tokio::task::spawn_blocking(move || {
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
    .await
    .unwrap();
    assert!(
        producer.wait_delivered(Duration::from_secs(120)).await,
        "{:?}",
        producer.stats()
    );
    let per_key = read_back(&kafka, counts.values().sum::<u64>() as usize);
    assert_eq!(per_key.len() as u64, THREADS);
    for (key, count) in &counts {
        assert_in_order(
            &BTreeMap::from([(key.clone(), per_key[key].clone())]),
            *count,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_timed_out_lands_before_later_records_of_its_key() {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("ledger", 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    // A delivery timeout shorter than the producer takes to call the brokers down.
    let producer = KafkaProducer::new(
        &config(&kafka, spool.path())
            .delivery_timeout(Duration::from_millis(300))
            .property("reconnect.backoff.ms", "2000")
            .property("reconnect.backoff.max.ms", "2000"),
    )
    .unwrap();
    let emit = |seq: u64| {
        Entry {
            account: "acct-9".into(),
            seq,
        }
        .emit_detached(&producer)
        .unwrap()
    };
    emit(0);
    assert!(producer.wait_delivered(Duration::from_secs(10)).await);
    // Slow, not down: the next record times out and is spooled while later ones queue.
    kafka.set_latency(Duration::from_secs(1)).unwrap();
    for seq in 1..50 {
        emit(seq);
    }
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.spooled > 0)
            .await,
        "{:?}",
        producer.stats()
    );
    kafka.set_latency(Duration::ZERO).unwrap();
    for seq in 50..100 {
        emit(seq);
    }
    assert!(
        producer.wait_delivered(Duration::from_secs(60)).await,
        "{:?}",
        producer.stats()
    );
    let per_key = read_back(&kafka, 100);
    assert_in_order(&per_key, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_through_a_restart_new_records_follow_the_earlier_runs() {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("ledger", 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let emit = |producer: &KafkaProducer, seq: u64| {
        Entry {
            account: "acct-7".into(),
            seq,
        }
        .emit_detached(producer)
        .unwrap()
    };
    {
        let producer = KafkaProducer::new(&config(&kafka, spool.path())).unwrap();
        kafka.all_down().unwrap();
        for seq in 0..50_000 {
            emit(&producer, seq);
        }
        let report = producer.close(Duration::from_secs(5)).await.unwrap();
        assert_eq!(report.spooled, 50_000);
    }
    // As a killed process leaves it: no segment indexed, so the check reads each through.
    for entry in std::fs::read_dir(spool.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "idx") {
            std::fs::remove_file(path).unwrap();
        }
    }
    kafka.all_up().unwrap();
    // The next run emits at once, before it has read what the last one left.
    let producer = KafkaProducer::new(&config(&kafka, spool.path())).unwrap();
    for seq in 50_000..51_000 {
        emit(&producer, seq);
    }
    assert!(
        producer.wait_delivered(Duration::from_secs(60)).await,
        "{:?}",
        producer.stats()
    );
    let per_key = read_back(&kafka, 51_000);
    assert_in_order(&per_key, 51_000);
}
