//! The transactional outbox on a real PostgreSQL (a throwaway cluster per test, from the
//! system's binaries: `tests/support/postgres.rs`) and the embedded Kafka broker.
//!
//! Without PostgreSQL installed the tests say they were skipped, unless
//! `KAFKA_EVENTS_REQUIRE_POSTGRES` is set (as `.ci/run` does). Run them with
//! `cargo test --features outbox-postgres --test outbox_postgres`.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/outbox.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_events::outbox::sqlx::{self, PgPool, postgres::PgPoolOptions};
use kafka_events::outbox::{self, ID_HEADER, OutboxRelay, RelayHandle, Stage};
use kafka_events::testing::{EmbeddedKafka, read_topic_until};
use kafka_events::{KafkaProducer, Message, Producer, Record};
use postgres::Postgres;
use support::{OrderPlaced, order, read_orders};

struct Setup {
    pool: PgPool,
    kafka: EmbeddedKafka,
    // Last: the cluster stops after the pool is gone.
    _pg: Postgres,
}

async fn setup(partitions: i32) -> Option<Setup> {
    let pg = Postgres::start()?;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .connect(&pg.url())
        .await
        .unwrap();
    outbox::postgres::migrate(&pool).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE orders (id bigserial PRIMARY KEY, order_id bigint NOT NULL);
         CREATE TABLE counters (key bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("orders", partitions).unwrap();
    Some(Setup {
        pool,
        kafka,
        _pg: pg,
    })
}

impl Setup {
    fn producer(&self) -> Arc<KafkaProducer> {
        Arc::new(KafkaProducer::new(&self.kafka.producer_config()).unwrap())
    }

    fn relay(&self, producer: Arc<dyn Producer>) -> RelayHandle {
        OutboxRelay::postgres(self.pool.clone(), producer).spawn()
    }

    /// Everything the topic holds, duplicates included.
    async fn records(&self) -> Vec<Record> {
        read_orders(self.kafka.bootstrap_servers()).await
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The orders of one key, in the order the topic holds them.
fn per_key(records: &[Record]) -> BTreeMap<i64, Vec<OrderPlaced>> {
    let mut keys: BTreeMap<i64, Vec<OrderPlaced>> = BTreeMap::new();
    let mut partitions: HashMap<i64, i32> = HashMap::new();
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    for record in sorted {
        let order: OrderPlaced = record.decode().unwrap();
        // One key, one partition.
        assert_eq!(
            *partitions.entry(order.order_id).or_insert(record.partition),
            record.partition
        );
        keys.entry(order.order_id).or_default().push(order);
    }
    keys
}

fn seqs(orders: &[OrderPlaced]) -> Vec<i64> {
    orders.iter().map(|o| o.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_sends_nothing_and_commit_sends_each_row_once_as_emit_would() {
    let Some(s) = setup(3).await else { return };

    let mut tx = s.pool.begin().await.unwrap();
    order(1, 0).stage(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();

    let staged = [order(1, 1), order(2, 1), order(1, 2)];
    let mut tx = s.pool.begin().await.unwrap();
    let mut ids = Vec::new();
    for event in &staged[..2] {
        ids.push(event.stage(&mut tx).await.unwrap());
    }
    tx.commit().await.unwrap();
    let mut tx = s.pool.begin().await.unwrap();
    // Through the connection inside the transaction, too.
    ids.push(staged[2].stage(&mut *tx).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(s.count("kafka_outbox").await, 3);

    let relay = s.relay(s.producer());
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 3)
            .await
    );
    let records = s.records().await;
    assert_eq!(
        records.len(),
        3,
        "each committed row once, the rolled-back one never"
    );
    for (event, id) in staged.iter().zip(&ids) {
        let record = records
            .iter()
            .find(|r| r.header_str(ID_HEADER) == Some(id.to_string().as_str()))
            .expect("the row's id is in its `id` header");
        let mut expected = Message::from_event(event).unwrap();
        expected
            .headers
            .push(kafka_events::Header::new(ID_HEADER, id.to_string()));
        assert_eq!(record.key, expected.key);
        assert_eq!(record.payload, expected.payload, "byte for byte");
        assert_eq!(record.headers, expected.headers);
    }
    assert_eq!(seqs(&per_key(&records)[&1]), [1, 2]);
    let stats = relay.stats();
    assert_eq!((stats.published, stats.dead_lettered), (3, 0));
    relay.shutdown().await;
    assert_eq!(s.count("kafka_outbox").await, 0);
    assert_eq!(s.count("kafka_outbox_commits").await, 0);
}

/// The gap: a transaction that began first and commits last is published, after the rows
/// committed before it, and nothing waits for it while it is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_after_later_rows_were_published_is_published() {
    let Some(s) = setup(1).await else { return };
    let relay = s.relay(s.producer());

    let mut a = s.pool.begin().await.unwrap();
    order(1, 2).stage(&mut a).await.unwrap();
    order(1, 3).stage(&mut a).await.unwrap();
    order(2, 1).stage(&mut a).await.unwrap();

    let mut b = s.pool.begin().await.unwrap();
    order(1, 1).stage(&mut b).await.unwrap();
    order(3, 1).stage(&mut b).await.unwrap();
    b.commit().await.unwrap();

    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 2)
            .await,
        "B is published while A is still open: {:?}",
        relay.stats()
    );
    a.commit().await.unwrap();
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 5)
            .await,
        "A is published once it commits: {:?}",
        relay.stats()
    );
    let keys = per_key(&s.records().await);
    assert_eq!(seqs(&keys[&1]), [1, 2, 3], "key 1 in commit order");
    assert_eq!(seqs(&keys[&2]), [1]);
    assert_eq!(seqs(&keys[&3]), [1]);
    relay.shutdown().await;
}

/// Transaction A writes first (so it takes the lower transaction id), B then changes key 9
/// and commits, and A changes key 9 after it: A's event comes after B's, although A's
/// transaction id is the lower one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_follows_commit_order_not_the_order_transactions_began_writing() {
    let Some(s) = setup(1).await else { return };
    sqlx::query("INSERT INTO counters (key) VALUES (9)")
        .execute(&s.pool)
        .await
        .unwrap();
    let bump = "UPDATE counters SET n = n + 1 WHERE key = 9 RETURNING n";

    let mut a = s.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO orders (order_id) VALUES (100)")
        .execute(&mut *a)
        .await
        .unwrap();
    let mut b = s.pool.begin().await.unwrap();
    let n: i64 = sqlx::query_scalar(bump).fetch_one(&mut *b).await.unwrap();
    order(9, n).stage(&mut b).await.unwrap();
    b.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar(bump).fetch_one(&mut *a).await.unwrap();
    order(9, n).stage(&mut a).await.unwrap();
    a.commit().await.unwrap();

    // Both are committed before the relay looks: one read sees them together.
    let relay = s.relay(s.producer());
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 2)
            .await
    );
    assert_eq!(seqs(&per_key(&s.records().await)[&9]), [1, 2]);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_ten_thousand_events_from_eight_writers_over_a_hundred_keys() {
    const WRITERS: i64 = 8;
    const PER_WRITER: i64 = 1_250;
    const KEYS: i64 = 100;
    let Some(s) = setup(4).await else { return };
    sqlx::query("INSERT INTO counters (key) SELECT generate_series(0, $1 - 1)")
        .bind(KEYS)
        .execute(&s.pool)
        .await
        .unwrap();
    let first = s.relay(s.producer());
    let second = s.relay(s.producer());

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let pool = s.pool.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let key = (w * 7 + i * 13) % KEYS;
                    let mut tx = pool.begin().await.unwrap();
                    // A first write: the transaction id is taken here, before the key's lock.
                    sqlx::query("INSERT INTO orders (order_id) VALUES ($1)")
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    let n: i64 = sqlx::query_scalar(
                        "UPDATE counters SET n = n + 1 WHERE key = $1 RETURNING n",
                    )
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                    order(key, n).stage(&mut tx).await.unwrap();
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();

    // The one publishing stops half way; the other takes over.
    let leader_published = |h: &RelayHandle| h.stats().leader && h.stats().published >= 3_000;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (stopping, staying) = loop {
        if first
            .wait_until(Duration::from_millis(200), |st| {
                st.leader && st.published >= 3_000
            })
            .await
        {
            break (first, second);
        }
        if leader_published(&second) {
            break (second, first);
        }
        assert!(Instant::now() < deadline, "no relay published 3 000 rows");
    };
    // What it published, the batch it was finishing included.
    let before = stopping.shutdown().await.published;
    for writer in writers {
        writer.await.unwrap();
    }
    let total = (WRITERS * PER_WRITER) as u64;
    assert!(
        staying
            .wait_until(Duration::from_secs(120), |st| st.published + before
                >= total)
            .await,
        "{:?}",
        staying.stats()
    );
    assert!(staying.stats().leader);

    let records = s.records().await;
    assert_eq!(
        records.len() as u64,
        total,
        "every event once: no crash, no duplicate"
    );
    let keys = per_key(&records);
    assert_eq!(keys.len() as i64, KEYS);
    for (key, orders) in &keys {
        let expected: Vec<i64> = (1..=orders.len() as i64).collect();
        assert_eq!(seqs(orders), expected, "key {key} out of commit order");
    }
    staying.shutdown().await;
    assert_eq!(s.count("kafka_outbox").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_row_is_dead_lettered_and_the_rows_behind_it_are_published() {
    let Some(s) = setup(1).await else { return };
    let poison = OrderPlaced {
        order_id: 1,
        seq: 2,
        note: "x".repeat(2 << 20),
    };
    let mut tx = s.pool.begin().await.unwrap();
    order(1, 1).stage(&mut tx).await.unwrap();
    let poison_id = poison.stage(&mut tx).await.unwrap();
    order(1, 3).stage(&mut tx).await.unwrap();
    order(2, 1).stage(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let relay = s.relay(s.producer());
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 3
                && st.dead_lettered == 1)
            .await,
        "{:?}",
        relay.stats()
    );
    let keys = per_key(&s.records().await);
    assert_eq!(seqs(&keys[&1]), [1, 3]);
    assert_eq!(seqs(&keys[&2]), [1]);
    let (id, reason): (uuid::Uuid, String) =
        sqlx::query_as("SELECT id, reason FROM kafka_outbox_dead_letters")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(id, poison_id);
    assert!(reason.contains("byte limit"), "{reason}");
    assert_eq!(s.count("kafka_outbox").await, 0);
    assert_eq!(s.count("kafka_outbox_commits").await, 0);
    relay.shutdown().await;
}

/// CPU time this process has used (user + system).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
    // utime and stime, fields 14 and 15 of proc(5), in clock ticks (100 per second on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_down_rows_stay_the_relay_backs_off_and_publishes_after_recovery() {
    let Some(s) = setup(1).await else { return };
    let config = s
        .kafka
        .producer_config()
        .delivery_timeout(Duration::from_millis(500));
    let producer = Arc::new(KafkaProducer::new(&config).unwrap());
    s.kafka.all_down().unwrap();
    let mut tx = s.pool.begin().await.unwrap();
    for seq in 1..=100 {
        order(seq % 5, seq).stage(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let relay = OutboxRelay::postgres(s.pool.clone(), producer)
        .max_backoff(Duration::from_secs(1))
        .spawn();
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.failed_attempts >= 2)
            .await
    );
    let (attempts, cpu, start) = (relay.stats().failed_attempts, cpu_time(), Instant::now());
    // The outage goes on for a while.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (attempts, cpu, wall) = (
        relay.stats().failed_attempts - attempts,
        cpu_time() - cpu,
        start.elapsed(),
    );
    // Each attempt waits for the delivery timeout (0.5 s) and then at most 1 s.
    assert!(
        attempts <= 9,
        "{attempts} attempts in {wall:?}: not backing off"
    );
    assert!(
        cpu.as_secs_f64() < 0.5 * wall.as_secs_f64(),
        "{cpu:?} of CPU in {wall:?} of outage"
    );
    assert_eq!(s.count("kafka_outbox").await, 100, "rows stay");
    assert_eq!(relay.stats().published, 0);
    assert!(relay.stats().last_error.is_some());

    s.kafka.all_up().unwrap();
    assert!(
        relay
            .wait_until(Duration::from_secs(30), |st| st.published == 100)
            .await,
        "{:?}",
        relay.stats()
    );
    for (key, orders) in per_key(&s.records().await) {
        let expected: Vec<i64> = (1..=100).filter(|seq| seq % 5 == key).collect();
        let mut seen: Vec<i64> = Vec::new();
        for seq in seqs(&orders) {
            // Retries after a timeout may repeat a row (same id); its order holds.
            if seen.last() != Some(&seq) && !seen.contains(&seq) {
                seen.push(seq);
            }
        }
        assert_eq!(seen, expected, "key {key}");
    }
    assert_eq!(relay.stats().last_error, None);
    relay.shutdown().await;
}

/// This test binary again, running a relay until it is killed ([`relay_child`]).
fn relay_child_command(url: &str, bootstrap: &str, batch: usize) -> Command {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "relay_child", "--nocapture", "--test-threads=1"])
        .env("OUTBOX_RELAY_CHILD", format!("{url} {bootstrap} {batch}"));
    child
}

/// Not a test of its own: the relay of [`relay_killed_mid_batch_and_restarted`] when
/// `OUTBOX_RELAY_CHILD` is set, and nothing otherwise.
#[test]
fn relay_child() {
    let Ok(args) = std::env::var("OUTBOX_RELAY_CHILD") else {
        return;
    };
    let args: Vec<&str> = args.split(' ').collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pool = PgPool::connect(args[0]).await.unwrap();
        let producer =
            Arc::new(KafkaProducer::new(&kafka_events::KafkaConfig::new([args[1]])).unwrap());
        let _relay = OutboxRelay::postgres(pool, producer)
            .batch_size(args[2].parse().unwrap())
            .spawn();
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_mid_batch_and_restarted_loses_nothing() {
    const N: i64 = 2_000;
    const BATCH: usize = 200;
    let Some(s) = setup(1).await else { return };
    let mut tx = s.pool.begin().await.unwrap();
    for seq in 1..=N {
        order(seq % 10, seq).stage(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Each acknowledgement takes a while: ten keys of twenty rows each per batch, one row
    // of a key at a time, so a batch lasts long enough to be killed in.
    s.kafka.set_latency(Duration::from_millis(10)).unwrap();

    let url = sqlx::query_scalar::<_, String>(
        "SELECT 'postgres://postgres@127.0.0.1:' || current_setting('port') || '/postgres'",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    let mut child = relay_child_command(&url, s.kafka.bootstrap_servers(), BATCH)
        .spawn()
        .unwrap();
    let bootstrap = s.kafka.bootstrap_servers().to_owned();
    let seen = tokio::task::spawn_blocking(move || {
        read_topic_until(&bootstrap, "orders", Duration::from_secs(60), |r| {
            r.len() >= 300
        })
        .unwrap()
        .len()
    })
    .await
    .unwrap();
    assert!(seen >= 300, "the child published {seen} records");
    // SIGKILL: no shutdown, no delete of the batch in flight.
    child.kill().unwrap();
    child.wait().unwrap();
    let left = s.count("kafka_outbox").await;
    assert!(left > 0, "killed before the end");

    s.kafka.set_latency(Duration::ZERO).unwrap();
    let relay = s.relay(s.producer());
    assert!(
        relay
            .wait_until(Duration::from_secs(60), |st| st.published == left as u64)
            .await,
        "{:?}",
        relay.stats()
    );
    let records = s.records().await;
    let mut by_id: HashMap<String, Vec<&Record>> = HashMap::new();
    for record in &records {
        by_id
            .entry(record.header_str(ID_HEADER).unwrap().to_owned())
            .or_default()
            .push(record);
    }
    assert_eq!(by_id.len() as i64, N, "nothing lost");
    let duplicates = records.len() - by_id.len();
    assert!(
        duplicates <= BATCH,
        "{duplicates} duplicates: more than one batch"
    );
    for copies in by_id.values() {
        assert!(copies.iter().all(|r| r.payload == copies[0].payload));
    }
    println!("killed with {left} rows left; {duplicates} duplicates after the restart");
    relay.shutdown().await;
}
