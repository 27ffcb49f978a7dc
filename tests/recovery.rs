//! A fatal librdkafka error (an idempotent producer fenced, or answered out of sequence by a
//! broker that lost its state) is surfaced and recovered from without an operator: the
//! producer replaces its librdkafka client, and everything it accepted is delivered.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_events::testing::{EmbeddedKafka, raise_fatal_error, read_topic};
use kafka_events::{AuditEntry, KafkaConfig, KafkaEvent, KafkaProducer, Producer, SpoolConfig};

fn start() -> EmbeddedKafka {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("audit", 3).unwrap();
    kafka
}

async fn emit_through_a_fatal_error(kafka: &EmbeddedKafka, config: KafkaConfig) {
    let producer = KafkaProducer::new(&config).unwrap();
    let mut sent = BTreeSet::new();
    let mut emit = |producer: &KafkaProducer| {
        let entry = AuditEntry::new();
        entry.emit_detached(producer).unwrap();
        sent.insert(entry.id.to_string());
    };
    for _ in 0..500 {
        emit(&producer);
    }
    assert!(raise_fatal_error(&producer, "fenced by the test"));
    // Accepted while the client is replaced: none lost.
    for _ in 0..500 {
        emit(&producer);
    }
    let awaited = AuditEntry::new();
    let delivery = tokio::time::timeout(Duration::from_secs(20), awaited.emit(&producer))
        .await
        .expect("an awaited emit ends by its deadline");
    delivery.expect("delivered by the new client");
    sent.insert(awaited.id.to_string());
    assert!(
        producer.wait_delivered(Duration::from_secs(60)).await,
        "{:?}",
        producer.stats()
    );
    let stats = producer.stats();
    // Once: what the replaced client still reports of its records is old news.
    assert_eq!(stats.fatal_errors, 1, "{stats:?}");
    assert!(!stats.replacing_client, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    let read: BTreeSet<String> = read_topic(
        kafka.bootstrap_servers(),
        "audit",
        sent.len(),
        Duration::from_secs(30),
    )
    .unwrap()
    .iter()
    .map(|r| r.key_str().unwrap().to_owned())
    .collect();
    let lost: Vec<_> = sent.difference(&read).collect();
    assert!(
        lost.is_empty(),
        "{} lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let report = producer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(report.fatal_errors, 1, "close reports it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_spool_records_wait_in_memory_for_the_new_client() {
    let kafka = start();
    emit_through_a_fatal_error(&kafka, kafka.producer_config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_spool_records_wait_there_for_the_new_client() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let config = kafka
        .producer_config()
        .spool(SpoolConfig::new(spool.path()));
    emit_through_a_fatal_error(&kafka, config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_say_so_while_the_client_is_replaced() {
    let kafka = start();
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();
    AuditEntry::new().emit(&producer).await.unwrap();
    assert!(raise_fatal_error(&producer, "fenced by the test"));
    // The error is counted at once; the replacement follows.
    assert!(
        producer
            .wait_until(Duration::from_secs(10), |s| s.fatal_errors >= 1)
            .await
    );
    assert!(
        producer
            .wait_until(Duration::from_secs(10), |s| !s.replacing_client)
            .await
    );
    AuditEntry::new().emit(&producer).await.unwrap();
}
