//! The transactional outbox on SQLite (bundled, a file per test) and the embedded Kafka
//! broker: `cargo test --features outbox-sqlite --test outbox_sqlite`.

#[path = "support/outbox.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_events::outbox::sqlx::{self, SqlitePool, sqlite::SqliteConnectOptions};
use kafka_events::outbox::{self, ID_HEADER, OutboxError, OutboxRelay, RelayHandle, Stage};
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{KafkaProducer, Message, Record};
use support::{OrderPlaced, order, read_orders};

struct Setup {
    pool: SqlitePool,
    kafka: EmbeddedKafka,
    dir: tempfile::TempDir,
}

async fn pool(dir: &tempfile::TempDir) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("app.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    SqlitePool::connect_with(options).await.unwrap()
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(&dir).await;
    outbox::sqlite::migrate(&pool).await.unwrap();
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("orders", 3).unwrap();
    Setup { pool, kafka, dir }
}

impl Setup {
    fn relay(&self) -> RelayHandle {
        let producer = Arc::new(KafkaProducer::new(&self.kafka.producer_config()).unwrap());
        OutboxRelay::sqlite(self.pool.clone(), producer)
            .poll_interval(Duration::from_millis(20))
            .spawn()
    }

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

fn per_key(records: &[Record]) -> BTreeMap<i64, Vec<i64>> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    let mut keys: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for record in sorted {
        let order: OrderPlaced = record.decode().unwrap();
        keys.entry(order.order_id).or_default().push(order.seq);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_sends_nothing_and_commit_sends_each_row_once_in_commit_order() {
    let s = setup().await;
    let mut tx = s.pool.begin().await.unwrap();
    order(1, 0).stage(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();

    let mut ids = Vec::new();
    for seq in 1..=3 {
        let mut tx = s.pool.begin().await.unwrap();
        ids.push(order(1, seq).stage(&mut tx).await.unwrap());
        ids.push(order(2, seq).stage(&mut *tx).await.unwrap());
        tx.commit().await.unwrap();
    }
    let relay = s.relay();
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 6)
            .await
    );
    let records = s.records().await;
    assert_eq!(records.len(), 6);
    let keys = per_key(&records);
    assert_eq!(keys[&1], [1, 2, 3]);
    assert_eq!(keys[&2], [1, 2, 3]);
    let first = records
        .iter()
        .find(|r| r.header_str(ID_HEADER) == Some(ids[0].to_string().as_str()))
        .unwrap();
    let mut expected = Message::from_event(&order(1, 1)).unwrap();
    expected
        .headers
        .push(kafka_events::Header::new(ID_HEADER, ids[0].to_string()));
    assert_eq!(
        (&first.key, &first.payload, &first.headers),
        (&expected.key, &expected.payload, &expected.headers)
    );
    relay.shutdown().await;
    assert_eq!(s.count("kafka_outbox").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_row_is_dead_lettered_and_the_rows_behind_it_are_published() {
    let s = setup().await;
    let mut tx = s.pool.begin().await.unwrap();
    order(1, 1).stage(&mut tx).await.unwrap();
    OrderPlaced {
        note: "x".repeat(2 << 20),
        ..order(1, 2)
    }
    .stage(&mut tx)
    .await
    .unwrap();
    order(1, 3).stage(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let relay = s.relay();
    assert!(
        relay
            .wait_until(Duration::from_secs(20), |st| st.published == 2
                && st.dead_lettered == 1)
            .await
    );
    assert_eq!(per_key(&s.records().await)[&1], [1, 3]);
    let reason: String = sqlx::query_scalar("SELECT reason FROM kafka_outbox_dead_letters")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(reason.contains("byte limit"), "{reason}");
    relay.shutdown().await;
}

/// Two relays on one database file: one publishes, the other takes over when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_one_publishes_and_the_other_takes_over() {
    let s = setup().await;
    let mut first = Some(s.relay());
    let leading = first.as_ref().unwrap();
    assert!(
        leading
            .wait_until(Duration::from_secs(10), |st| st.leader)
            .await
    );
    // The second relay has a pool of its own, as another process would.
    let other_pool = pool(&s.dir).await;
    let producer = Arc::new(KafkaProducer::new(&s.kafka.producer_config()).unwrap());
    let second = OutboxRelay::sqlite(other_pool, producer)
        .poll_interval(Duration::from_millis(20))
        .spawn();
    let mut by_first = 0;
    for seq in 1..=200 {
        let mut tx = s.pool.begin().await.unwrap();
        order(seq % 7, seq).stage(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        if seq == 100 {
            assert!(!second.stats().leader);
            let relay = first.take().unwrap();
            relay.shutdown().await;
            by_first = relay_published(&s).await;
        }
    }
    assert!(
        second
            .wait_until(Duration::from_secs(20), |st| st.leader
                && by_first + st.published == 200)
            .await,
        "{by_first} + {:?}",
        second.stats()
    );
    let records = s.records().await;
    assert_eq!(records.len(), 200, "each once");
    for (key, seqs) in per_key(&records) {
        let expected: Vec<i64> = (1..=200).filter(|seq| seq % 7 == key).collect();
        assert_eq!(seqs, expected, "key {key}");
    }
    second.shutdown().await;
}

/// Rows published so far: the ones no longer in the table.
async fn relay_published(s: &Setup) -> u64 {
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM kafka_outbox")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    let staged: i64 =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'kafka_outbox'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    (staged - left) as u64
}

#[tokio::test(flavor = "current_thread")]
async fn staging_before_the_schema_exists_says_how_to_create_it() {
    let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let error = order(1, 1).stage(&mut tx).await.unwrap_err();
    assert!(
        matches!(error, OutboxError::MissingSchema { .. }),
        "{error:?}"
    );
}
