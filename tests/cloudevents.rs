//! CloudEvents binary mode (`KafkaConfig::cloudevents`), checked point by point against the
//! CloudEvents Kafka protocol binding v1.0.2 (section 3.2, binary content mode) and the core
//! spec's required attributes, on records read back from the broker.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{
    AuditEntry, ConfigError, KafkaConfig, KafkaEvent, KafkaProducer, Record, SpoolConfig,
};

fn start() -> EmbeddedKafka {
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    kafka.create_topic("audit", 1).unwrap();
    kafka
}

/// Each `ce_` header of the binding, as text (the binding: UTF-8 header values).
fn ce<'r>(record: &'r Record, attribute: &str) -> &'r str {
    record
        .header_str(&format!("ce_{attribute}"))
        .unwrap_or_else(|| panic!("no ce_{attribute} header: {:?}", record.headers))
}

#[tokio::test]
async fn every_record_is_a_cloudevent_in_binary_mode_and_its_payload_is_unchanged() {
    let kafka = start();
    let plain = KafkaProducer::new(&kafka.producer_config()).unwrap();
    let producer = KafkaProducer::new(&kafka.producer_config().cloudevents("/orders-api")).unwrap();
    let entry = AuditEntry::new();
    let before = Utc::now();
    entry.emit(&plain).await.unwrap();
    entry.emit(&producer).await.unwrap();
    entry.emit_detached(&producer).unwrap();
    assert!(producer.wait_delivered(Duration::from_secs(10)).await);
    let after = Utc::now();
    let records = read_topic(
        kafka.bootstrap_servers(),
        "audit",
        3,
        Duration::from_secs(10),
    )
    .unwrap();
    let (without, with) = (&records[0], &records[1..]);
    assert!(without.header("ce_specversion").is_none());
    let mut ids = BTreeSet::new();
    for record in with {
        // The data is the record's value, byte for byte what a producer without CloudEvents
        // writes: Go consumers decode it as before.
        assert_eq!(record.payload, without.payload);
        assert_eq!(record.key, without.key);
        // datacontenttype is the record's `content-type` header (binding 3.2.1), unchanged.
        assert_eq!(record.header_str("content-type"), Some("application/json"));
        assert_eq!(record.header_str("event-type"), Some("audit.log"));
        // The required attributes (core spec 3.1), as `ce_` headers (binding 3.2.3).
        assert_eq!(ce(record, "specversion"), "1.0");
        assert_eq!(ce(record, "source"), "/orders-api");
        assert_eq!(ce(record, "type"), "audit.log");
        assert!(ids.insert(ce(record, "id").to_owned()), "ids are unique");
        assert!(!ce(record, "id").is_empty());
        // time: RFC 3339, when the record was emitted.
        let time: DateTime<Utc> = ce(record, "time").parse().unwrap();
        assert!(before <= time && time <= after, "{time}");
        // Header names are lower case, prefixed `ce_`, each once.
        let names: Vec<&str> = record.headers.iter().map(|h| h.name.as_ref()).collect();
        for name in &names {
            assert_eq!(name.to_ascii_lowercase(), *name);
            assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_spooled_in_an_outage_keeps_the_attributes_of_its_emit() {
    let kafka = start();
    let spool = tempfile::tempdir().unwrap();
    let producer = KafkaProducer::new(
        &kafka
            .producer_config()
            .cloudevents("https://billing.example.com")
            .spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    kafka.all_down().unwrap();
    assert!(
        producer
            .wait_until(Duration::from_secs(20), |s| s.brokers_down)
            .await
    );
    let emitted = Utc::now();
    let entry = AuditEntry::new();
    entry.emit_detached(&producer).unwrap();
    assert!(
        producer
            .wait_until(Duration::from_secs(10), |s| s.spooled >= 1)
            .await
    );
    // Replay starts after this: a time stamped then would be later.
    let back = Utc::now();
    kafka.all_up().unwrap();
    assert!(producer.wait_delivered(Duration::from_secs(30)).await);
    let records = read_topic(
        kafka.bootstrap_servers(),
        "audit",
        1,
        Duration::from_secs(10),
    )
    .unwrap();
    let record = records
        .iter()
        .find(|r| r.key_str() == Some(entry.id.to_string().as_str()))
        .unwrap();
    assert_eq!(ce(record, "source"), "https://billing.example.com");
    let time: DateTime<Utc> = ce(record, "time").parse().unwrap();
    assert!(
        emitted <= time && time <= back,
        "{time} is when it was emitted"
    );
}

#[test]
fn a_blank_source_is_a_typed_config_error() {
    let error = KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9"]).cloudevents(" "))
        .err()
        .expect("refused");
    assert!(matches!(error, ConfigError::CloudEvents { .. }), "{error}");
    assert!(error.to_string().contains("URI-reference"), "{error}");
}
