//! End to end on the embedded broker: events go out through `KafkaProducer` and are read back
//! with an independent rdkafka consumer.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{
    AuditEntry, AuthEvent, EmitError, KafkaEvent, KafkaProducer, Producer, Record, UsageEvent,
    headers,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const READ_TIMEOUT: Duration = Duration::from_secs(20);

fn start(topics: &[&str]) -> EmbeddedKafka {
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    for topic in topics {
        kafka.create_topic(topic, 3).unwrap();
    }
    kafka
}

/// Asserts what a consumer sees is exactly what the event says it is.
fn assert_record<E: KafkaEvent>(record: &Record, event: &E, topic: &str) {
    assert_eq!(record.topic, topic);
    assert_eq!(record.key, event.key().as_ref());
    assert_eq!(record.json().unwrap(), serde_json::to_value(event).unwrap());
    assert_eq!(
        record.header_str(headers::CONTENT_TYPE),
        Some("application/json")
    );
    assert_eq!(record.header_str(headers::EVENT_TYPE), event.event_type());
}

fn assert_rfc3339_utc(value: &serde_json::Value) {
    let text = value.as_str().expect("timestamp is a string");
    assert!(text.ends_with('Z'), "{text} is not UTC");
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

#[derive(Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(topic = "orders", key = "order_id", type = "order.placed")]
struct OrderPlaced {
    order_id: u64,
    customer: String,
    total_cents: i64,
    placed_at: DateTime<Utc>,
}

#[tokio::test]
async fn every_model_and_a_user_event_round_trip() {
    let kafka = start(&["audit", "usage", "orders"]);
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();

    let entry = AuditEntry {
        tenant_id: Some(Uuid::new_v4()),
        subject: "alice".into(),
        jti: Some(Uuid::new_v4()),
        resource_id: Some(Uuid::new_v4()),
        correlation_id: "trace-1".into(),
        http_method: "POST".into(),
        resource: "users".into(),
        source_ip: "127.0.0.1".into(),
        user_agent: "curl/8".into(),
        service: "accounts".into(),
        endpoint: "/users/{id}".into(),
        full_url: "http://localhost/users/7?x=1".into(),
        payload: Some(serde_json::json!({"name": "Alice"}).into()),
        ..AuditEntry::new()
    };
    let success = AuthEvent::login_success("accounts", "alice");
    let failure = AuthEvent::login_failure("accounts", "mallory", "bad password");
    let now = Utc::now();
    let usage = UsageEvent {
        owner_id: Some("owner-9".into()),
        ..UsageEvent::new("accounts", now, now + chrono::Duration::milliseconds(12))
    };
    let order = OrderPlaced {
        order_id: 9001,
        customer: "bob".into(),
        total_cents: 1999,
        placed_at: now,
    };

    let audit = [
        entry.emit(&producer).await.unwrap(),
        success.emit(&producer).await.unwrap(),
        failure.emit(&producer).await.unwrap(),
    ];
    assert!(audit.iter().all(|d| d.topic == "audit"));
    usage.emit(&producer).await.unwrap();
    order.emit(&producer).await.unwrap();

    let bootstrap = kafka.bootstrap_servers();
    let mut records = read_topic(bootstrap, "audit", 3, READ_TIMEOUT).unwrap();
    assert_eq!(records.len(), 3);
    records.sort_by_key(|r| {
        audit
            .iter()
            .position(|d| (d.partition, d.offset) == (r.partition, r.offset))
    });
    assert_record(&records[0], &entry, "audit");
    assert_record(&records[1], &success, "audit");
    assert_record(&records[2], &failure, "audit");
    assert_eq!(
        records[0].header_str(headers::EVENT_TYPE),
        Some("audit.log")
    );
    assert_eq!(
        records[1].header_str(headers::EVENT_TYPE),
        Some("login.success")
    );
    assert_eq!(
        records[2].header_str(headers::EVENT_TYPE),
        Some("login.failure")
    );
    assert_eq!(records[0].decode::<AuditEntry>().unwrap(), entry);
    assert_eq!(records[2].decode::<AuthEvent>().unwrap(), failure);

    // The seed's JSON field names, exactly.
    let json = records[0].json().unwrap();
    let keys: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let seed: BTreeSet<&str> = [
        "id",
        "tenant_id",
        "subject",
        "jti",
        "http_method",
        "resource",
        "timestamp",
        "source_ip",
        "user_agent",
        "service",
        "endpoint",
        "full_url",
        "payload",
        "resource_id",
        "correlation_id",
    ]
    .into();
    // The seed's names, all of them, plus what the HTTP layer records (Go consumers ignore it).
    let added: BTreeSet<&str> = [
        "request_id",
        "status_code",
        "duration_ms",
        "response_payload",
        "payload_truncated",
        "outcome",
        "anonymous",
    ]
    .into();
    assert_eq!(keys, seed.union(&added).copied().collect());
    assert_rfc3339_utc(&json["timestamp"]);
    assert_eq!(
        records[0].key_str(),
        Some(entry.id.hyphenated().to_string().as_str())
    );
    let auth = records[2].json().unwrap();
    // `tests/go_interop.rs` pins the list to the Go struct's fields.
    for key in AuthEvent::FIELD_NAMES {
        assert!(auth.get(key).is_some(), "AuthEvent lacks `{key}`: {auth}");
    }
    assert_eq!(auth["type"], "login.failure");
    assert_eq!(auth["error"], "bad password");

    let usage_records = read_topic(bootstrap, "usage", 1, READ_TIMEOUT).unwrap();
    assert_record(&usage_records[0], &usage, "usage");
    assert_eq!(usage_records[0].json().unwrap()["duration_ms"], 12);

    let orders = read_topic(bootstrap, "orders", 1, READ_TIMEOUT).unwrap();
    assert_record(&orders[0], &order, "orders");
    assert_eq!(orders[0].key, b"9001");
    assert_eq!(orders[0].decode::<OrderPlaced>().unwrap(), order);
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "tenant")]
struct TenantEvent {
    tenant: String,
    seq: u32,
}

#[tokio::test]
async fn same_key_same_partition() {
    let kafka = start(&["audit"]);
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();
    let mut partitions_by_key = std::collections::BTreeMap::<String, BTreeSet<i32>>::new();
    for seq in 0..60 {
        let tenant = format!("tenant-{}", seq % 6);
        let delivery = TenantEvent {
            tenant: tenant.clone(),
            seq,
        }
        .emit(&producer)
        .await
        .unwrap();
        partitions_by_key
            .entry(tenant)
            .or_default()
            .insert(delivery.partition);
    }
    for (key, partitions) in &partitions_by_key {
        assert_eq!(partitions.len(), 1, "{key} landed on {partitions:?}");
    }
    let used: BTreeSet<i32> = partitions_by_key.values().flatten().copied().collect();
    assert!(used.len() > 1, "six keys all on one partition: {used:?}");

    // What the consumer sees agrees with the deliveries.
    let records = read_topic(kafka.bootstrap_servers(), "audit", 60, READ_TIMEOUT).unwrap();
    assert_eq!(records.len(), 60);
    for record in records {
        let key = record.key_str().unwrap().to_owned();
        assert!(partitions_by_key[&key].contains(&record.partition));
    }
}

#[tokio::test]
async fn logical_topics_map_to_physical_ones() {
    let physical = "ds.core.config.compliance.1.0.0";
    let kafka = start(&[physical]);
    let config = kafka.producer_config().topic("audit", physical);
    let producer = KafkaProducer::new(&config).unwrap();
    let entry = AuditEntry::new();
    let delivery = entry.emit(&producer).await.unwrap();
    assert_eq!(delivery.topic, physical);
    let records = read_topic(kafka.bootstrap_servers(), physical, 1, READ_TIMEOUT).unwrap();
    assert_record(&records[0], &entry, physical);

    // The map has no `usage`: a typed error, nothing sent anywhere.
    let now = Utc::now();
    let err = UsageEvent::new("svc", now, now)
        .emit(&producer)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EmitError::UnmappedTopic { topic } if topic == "usage"),
        "{err}"
    );
}

#[tokio::test]
async fn broker_down_is_a_timeout_and_up_again_delivers() {
    let kafka = start(&["audit"]);
    let config = kafka
        .producer_config()
        .delivery_timeout(Duration::from_secs(2))
        // Reconnect soon after the broker is back, rather than after librdkafka's 10 s back-off.
        .property("reconnect.backoff.max.ms", "100");
    let producer = KafkaProducer::new(&config).unwrap();
    AuditEntry::new().emit(&producer).await.unwrap();

    kafka.all_down().unwrap();
    let err = AuditEntry::new().emit(&producer).await.unwrap_err();
    assert!(
        matches!(err, EmitError::Timeout(t) if t == Duration::from_secs(2)),
        "{err}"
    );

    kafka.all_up().unwrap();
    let entry = AuditEntry::new();
    entry.emit(&producer).await.unwrap();
    let records = read_topic(kafka.bootstrap_servers(), "audit", 2, READ_TIMEOUT).unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().any(|r| r.key == entry.key().as_ref()));
}

#[tokio::test]
async fn close_flushes_what_is_in_flight_then_refuses() {
    let kafka = start(&["audit"]);
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();
    let mut pending: Vec<_> = (0..50).map(|_| AuditEntry::new().emit(&producer)).collect();
    // Poll each send once: that hands the record to librdkafka, which is what close must flush.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for send in &mut pending {
        assert!(send.as_mut().poll(&mut cx).is_pending());
    }
    assert!(producer.in_flight() > 0);

    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(producer.in_flight(), 0);
    for send in pending {
        send.await.expect("flushed by close");
    }
    let err = AuditEntry::new().emit(&producer).await.unwrap_err();
    assert!(matches!(err, EmitError::Closed), "{err}");
    let records = read_topic(kafka.bootstrap_servers(), "audit", 50, READ_TIMEOUT).unwrap();
    assert_eq!(records.len(), 50);
}
