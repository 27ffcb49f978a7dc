//! The `EventJson` envelope of today's Go services (`WireFormat::Envelope`), rule by rule from
//! `event-json.md`, proven by a Go program (`tests/go/eventjson`) that applies the Go SDK
//! reader's checks and decodes with its types, and read back both ways.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use kafka_events::envelope::{
    EnvelopeConfig, EnvelopeFields, EnvelopeSettings, EventJson, WireFormat,
};
use kafka_events::models::JsonText;
use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{
    AuditEntry, AuthEvent, ConfigError, EmitError, KafkaConfig, KafkaEvent, KafkaProducer,
    MemoryProducer, Message, Producer, Record, RequestOutcome, UsageEvent, UsageStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use uuid::{Uuid, uuid};

#[path = "support/go.rs"]
mod go;
#[path = "support/layers.rs"]
mod layers;

/// The Go checker, built once (`None`: skipped without Go).
fn checker() -> Option<&'static std::path::Path> {
    static BUILT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| go::build("tests/go/eventjson"))
        .as_deref()
}

fn settings() -> EnvelopeSettings {
    EnvelopeSettings::new("commerce.orders.api.v1", "orders-api").unwrap()
}

/// A record as the Go program's `check` mode reads it.
fn line(name: &str, record: &Record) -> String {
    let headers: BTreeMap<&str, &str> = record
        .headers
        .iter()
        .map(|h| (h.name.as_ref(), std::str::from_utf8(&h.value).unwrap()))
        .collect();
    #[derive(Serialize)]
    struct Line<'a> {
        name: &'a str,
        key: &'a str,
        headers: BTreeMap<&'a str, &'a str>,
        /// The value as written, byte for byte: the Go program hashes the payload's text.
        value: &'a RawValue,
    }
    let value: &RawValue = serde_json::from_slice(&record.payload).unwrap();
    let key = record.key_str().unwrap();
    serde_json::to_string(&Line {
        name,
        key,
        headers,
        value,
    })
    .unwrap()
        + "\n"
}

/// What the layers and the auth helpers write, in the envelope.
async fn records_in_envelope_mode() -> (MemoryProducer, Vec<AuthEvent>) {
    let producer = MemoryProducer::new().with_envelope(settings());
    layers::records_from_the_layers(&producer).await;
    let mut auth = vec![
        AuthEvent::login_success("accounts", "alice"),
        AuthEvent::login_failure("accounts", "mallory", "bad password"),
        AuthEvent::authz_denied("accounts", "bob", "missing role admin"),
        AuthEvent::authz_error("accounts", "bob", "policy store unreachable"),
    ];
    auth[0].tenant_id = Some(Uuid::new_v4());
    for event in &mut auth {
        event.path = "/login".into();
        event.user_agent = "browser".into();
        event.remote_addr = "10.0.0.8:5555".into();
        event.emit_detached(&producer).unwrap();
    }
    (producer, auth)
}

#[tokio::test]
async fn every_record_in_envelope_mode_passes_the_go_readers_rules() {
    let (producer, auth) = records_in_envelope_mode().await;
    let records = producer.records();
    assert_eq!(records.len(), 8);
    let mut types = Vec::new();
    let mut input = String::new();
    for (i, record) in records.iter().enumerate() {
        // This crate's reader applies the same rules.
        let envelope = EventJson::from_slice(&record.payload).unwrap();
        assert_eq!(record.key, envelope.id.to_string().as_bytes());
        assert_eq!(record.header_str("content-type"), Some("application/json"));
        assert_eq!(record.header_str("message-type"), Some("Event"));
        assert!(envelope.md5_matches(), "{}", envelope.md5_hash);
        assert_eq!(envelope.md5_hash.len(), 32);
        assert!(
            envelope
                .md5_hash
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_eq!(
            (envelope.created_by.as_str(), envelope.event_source.as_str()),
            ("orders-api", "commerce.orders.api.v1")
        );
        // `metadata` is always there (null here).
        let value: Value = serde_json::from_slice(&record.payload).unwrap();
        assert_eq!(value.get("metadata"), Some(&Value::Null));
        types.push(envelope.event_type.clone());
        input += &line(&format!("{i}:{}", envelope.event_type), record);
    }
    types.sort();
    assert_eq!(
        types,
        [
            "audit.log",
            "audit.log",
            "authz.denied",
            "authz.error",
            "login.failure",
            "login.success",
            "usage.report",
            "usage.report"
        ]
    );

    // What the middleware put in the envelope fields.
    let post = records
        .iter()
        .map(|r| EventJson::from_slice(&r.payload).unwrap())
        .find(|e| e.event_type == "audit.log" && e.message.is_some())
        .expect("the POST's audit entry");
    assert_eq!(post.message.as_deref(), Some("nightly import"));
    assert_eq!(post.request_id, layers::REQUEST_ID.parse::<Uuid>().unwrap());
    assert!(!post.tenant_id.is_nil());
    let payload = post.payload();
    assert_eq!(payload["status_code"], 200);
    assert_eq!(payload["http_method"], "POST");
    assert_eq!(payload["payload"]["card"]["password"], "***", "masked");
    assert_eq!(payload["response_payload"], Value::Null);
    let usage = records
        .iter()
        .map(|r| EventJson::from_slice(&r.payload).unwrap())
        .find(|e| e.event_type == "usage.report" && e.owner_id.is_some())
        .unwrap();
    assert_eq!(usage.owner_id.as_deref(), Some("acme"));
    assert_eq!(usage.payload()["status"], "draft");
    assert_eq!(usage.payload()["user_id"], "user-1234");
    assert_eq!(usage.timestamp.to_rfc3339(), {
        let start: chrono::DateTime<Utc> = usage.payload()["start_time"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        start.to_rfc3339()
    });

    // Tests written against the flat format keep working: the models read the envelope.
    assert_eq!(producer.events::<AuthEvent>().unwrap(), auth);
    let entries = producer.events::<AuditEntry>().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().any(|e| e.request_id == layers::REQUEST_ID));
    assert_eq!(producer.events::<UsageEvent>().unwrap().len(), 2);

    let Some(program) = checker() else {
        return;
    };
    let (code, out) = go::run(program, &["check"], &input);
    assert_eq!(code, 0, "the Go reader refused records:\n{out}");
    assert_eq!(out.lines().count(), 8, "{out}");
}

#[tokio::test]
async fn the_flat_format_stays_the_default_and_is_refused_by_the_go_reader() {
    let producer = MemoryProducer::new();
    AuditEntry::new().emit(&producer).await.unwrap();
    let record = &producer.records()[0];
    assert!(record.header("message-type").is_none());
    let error = EventJson::from_slice(&record.payload).unwrap_err();
    assert_eq!(error.to_string(), "field created_by in EventJson: required");
    let Some(program) = checker() else {
        return;
    };
    let (code, out) = go::run(program, &["check"], &line("flat", record));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("field created_by in EventJson: required"),
        "{out}"
    );
}

#[test]
fn envelopes_the_go_services_write_read_into_the_models() {
    let Some(program) = checker() else {
        return;
    };
    let (code, out) = go::run(program, &["write"], "");
    assert_eq!(code, 0);
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 6);
    let value = |i: usize| serde_json::to_vec(&records[i]["value"]).unwrap();
    for (i, record) in records.iter().enumerate().take(5) {
        let envelope = EventJson::from_slice(&value(i)).unwrap();
        assert!(envelope.md5_matches(), "{}", record["name"]);
    }
    // The middleware's own records: the SDK's reader refuses them, the models read them.
    let bare = value(5);
    assert!(matches!(
        EventJson::from_slice(&bare),
        Err(kafka_events::envelope::EnvelopeError::Empty { key: "created_by" })
    ));
    let read: AuditEntry = serde_json::from_slice(&bare).unwrap();
    assert_eq!((read.endpoint.as_str(), read.status_code), ("/health", 200));
    let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 26, 53).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);

    let audit: AuditEntry = serde_json::from_slice(&value(0)).unwrap();
    assert_eq!(audit.id, uuid!("11111111-1111-4111-8111-111111111111"));
    assert_eq!(
        audit.tenant_id,
        Some(uuid!("6f1c58a2-64f4-4d54-9d0c-7a2b1b0f4a10"))
    );
    assert_eq!(
        audit.jti,
        Some(uuid!("22222222-2222-4222-8222-222222222222"))
    );
    assert_eq!(
        (audit.http_method.as_str(), audit.status_code),
        ("POST", 201)
    );
    assert_eq!(audit.endpoint, "/orders/:id");
    assert_eq!(audit.payload.unwrap(), json!({"sku": "A-1", "qty": 2}));
    assert_eq!(audit.response_payload, None);
    assert_eq!(audit.request_id, "0b7c3e5a-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    assert_eq!(audit.message.as_deref(), Some("nightly import"));
    assert_eq!(audit.timestamp, at);
    assert_eq!(audit.outcome, RequestOutcome::Completed);

    let usage: UsageEvent = serde_json::from_slice(&value(1)).unwrap();
    assert_eq!(usage.owner_id.as_deref(), Some("acme"));
    assert_eq!(
        usage.product_id,
        Some(uuid!("1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    );
    assert_eq!((usage.memory_mb, usage.status), (512, UsageStatus::Draft));
    assert_eq!(
        (usage.subject.as_str(), usage.service.as_str()),
        ("user-1234", "orders")
    );
    assert_eq!(
        usage.end_timestamp,
        "2026-03-15T09:26:53.123456789Z"
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    );

    let auth: Vec<AuthEvent> = (2..5)
        .map(|i| serde_json::from_slice(&value(i)).unwrap())
        .collect();
    assert_eq!(auth[0].r#type.as_str(), "login.success");
    assert_eq!(
        auth[0].tenant_id,
        Some(uuid!("6f1c58a2-64f4-4d54-9d0c-7a2b1b0f4a10"))
    );
    assert_eq!(auth[1].r#type.as_str(), "login.failure");
    assert_eq!(
        (auth[2].r#type.as_str(), auth[2].error.as_str()),
        ("authz.denied", "missing role admin")
    );
    assert_eq!(auth[2].path, "/admin");

    // An envelope of another type is not an auth event, and an auth event is no audit entry
    // or usage event, though they share a topic and their payload keys are all optional.
    assert!(serde_json::from_slice::<AuthEvent>(&value(0)).is_err());
    for i in 2..5 {
        let error = serde_json::from_slice::<AuditEntry>(&value(i)).unwrap_err();
        assert!(error.to_string().contains("is not one of"), "{error}");
        assert!(serde_json::from_slice::<UsageEvent>(&value(i)).is_err());
    }
}

#[test]
fn every_model_reads_back_from_its_envelope_as_it_was() {
    let settings = settings();
    let mut entry = AuditEntry {
        tenant_id: Some(Uuid::new_v4()),
        subject: "user \"1\" ünïcode".into(),
        jti: Some(Uuid::new_v4()),
        http_method: "PATCH".into(),
        resource: "orders".into(),
        resource_id: Some(Uuid::new_v4()),
        payload: Some(JsonText::from(
            json!({"a": [1, 2.5, null], "b": "\u{1F600}"}),
        )),
        source_ip: "10.1.2.3".into(),
        user_agent: "agent/1".into(),
        service: "orders".into(),
        endpoint: "/orders/{id}".into(),
        full_url: "/orders/1?x=y".into(),
        correlation_id: "corr-1".into(),
        request_id: "not-a-uuid".into(),
        status_code: 422,
        duration_ms: 12.345,
        response_payload: Some(JsonText::from(json!({"error": "bad"}))),
        payload_truncated: true,
        outcome: RequestOutcome::Panicked,
        anonymous: false,
        truncated: vec!["user_agent".into()],
        minimal: Some("why".into()),
        message: Some("hello".into()),
        ..AuditEntry::new()
    };
    entry.timestamp = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
    let enveloped = Message::from_event_in_envelope(&entry, &settings).unwrap();
    assert_eq!(
        serde_json::from_slice::<AuditEntry>(&enveloped.payload).unwrap(),
        entry
    );
    let flat = Message::from_event(&entry).unwrap();
    assert_eq!(
        serde_json::from_slice::<AuditEntry>(&flat.payload).unwrap(),
        entry
    );
    // The request id was not a UUID: the envelope's is zero, the payload keeps the text.
    assert!(
        EventJson::from_slice(&enveloped.payload)
            .unwrap()
            .request_id
            .is_nil()
    );

    let mut usage = UsageEvent::new("orders", Utc::now(), Utc::now());
    usage.tenant_id = Some(Uuid::new_v4());
    usage.owner_id = Some("acme".into());
    usage.message = Some("m".into());
    usage.tags = Some(BTreeMap::from([("k".into(), "v".into())]));
    usage.created_at = Some(Utc::now());
    usage.status = UsageStatus::Closed;
    let enveloped = Message::from_event_in_envelope(&usage, &settings).unwrap();
    assert_eq!(
        serde_json::from_slice::<UsageEvent>(&enveloped.payload).unwrap(),
        usage
    );
    // The event-type header stays this crate's; the envelope says what Go calls it.
    assert_eq!(enveloped.header("event-type"), Some(&b"usage.record"[..]));
    assert_eq!(
        EventJson::from_slice(&enveloped.payload)
            .unwrap()
            .event_type,
        "usage.report"
    );

    for mut event in [
        AuthEvent::login_success("s", "alice"),
        AuthEvent::login_failure("s", "mallory", "bad password"),
        AuthEvent::authz_denied("s", "bob", "no"),
        AuthEvent::authz_error("s", "bob", ""),
    ] {
        event.tenant_id = Some(Uuid::new_v4());
        let enveloped = Message::from_event_in_envelope(&event, &settings).unwrap();
        assert_eq!(
            serde_json::from_slice::<AuthEvent>(&enveloped.payload).unwrap(),
            event
        );
        let payload = EventJson::from_slice(&enveloped.payload).unwrap().payload();
        // An empty error is `null`, as Go writes a nil one.
        assert_eq!(payload["error"].is_null(), event.error.is_empty());
    }
}

#[derive(Serialize, Deserialize, KafkaEvent, Debug, PartialEq)]
#[event(topic = "orders", key = "order_id")]
struct Untyped {
    order_id: u64,
}

#[derive(Serialize, Deserialize, KafkaEvent, Debug, PartialEq)]
#[event(topic = "orders", key = "order_id", type = "order.placed")]
struct OrderPlaced {
    order_id: u64,
    #[event(redact)]
    card_token: String,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "order_id", type = "order.shipped")]
#[event(envelope_with = "shipped_envelope")]
struct OrderShipped {
    order_id: u64,
    tenant: Uuid,
    labels: BTreeMap<String, String>,
}

mod shipped_envelope {
    use kafka_events::envelope::EnvelopeFields;

    pub fn fields(event: &super::OrderShipped) -> EnvelopeFields<'_> {
        EnvelopeFields {
            tenant_id: Some(event.tenant),
            metadata: Some(&event.labels),
            ..EnvelopeFields::default()
        }
    }

    pub fn write_payload(
        event: &super::OrderShipped,
        out: &mut Vec<u8>,
    ) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, &serde_json::json!({ "order": event.order_id }))
    }
}

#[tokio::test]
async fn derived_events_in_the_envelope() {
    let producer = MemoryProducer::new().with_envelope(settings());
    // No type: a typed error in envelope mode, both ways, and nothing is sent.
    let untyped = Untyped { order_id: 1 };
    for error in [
        untyped.emit(&producer).await.unwrap_err(),
        untyped.emit_detached(&producer).unwrap_err(),
    ] {
        assert!(
            matches!(&error, EmitError::Envelope { topic, .. } if topic == "orders"),
            "{error}"
        );
        assert!(error.to_string().contains("#[event(type"), "{error}");
    }
    assert!(producer.is_empty());
    // The same event is fine in the flat format.
    untyped.emit(&MemoryProducer::new()).await.unwrap();

    // The payload is the event's JSON, masked; the key is the envelope's fresh id.
    let order = OrderPlaced {
        order_id: 42,
        card_token: "tok_live_123".into(),
    };
    order.emit(&producer).await.unwrap();
    order.emit_detached(&producer).unwrap();
    let records = producer.records();
    let ids: Vec<Uuid> = records
        .iter()
        .map(|r| {
            let envelope = EventJson::from_slice(&r.payload).unwrap();
            assert_eq!(r.key, envelope.id.to_string().as_bytes());
            assert_eq!(envelope.event_type, "order.placed");
            assert_eq!(
                envelope.payload(),
                json!({"order_id": 42, "card_token": "***"})
            );
            assert!(!String::from_utf8_lossy(&r.payload).contains("tok_live"));
            envelope.id
        })
        .collect();
    assert_ne!(ids[0], ids[1], "a fresh id per record");
    // A derived event reads from the envelope's payload (masked as its flat record would be).
    let read: Vec<OrderPlaced> = producer.events::<OrderPlaced>().unwrap();
    let masked = || OrderPlaced {
        order_id: 42,
        card_token: "***".into(),
    };
    assert_eq!(read, [masked(), masked()]);

    // `envelope_with`: the event's own envelope fields and payload.
    producer.clear();
    let shipped = OrderShipped {
        order_id: 7,
        tenant: Uuid::new_v4(),
        labels: BTreeMap::from([("region".into(), "eu".into())]),
    };
    shipped.emit_detached(&producer).unwrap();
    let envelope = EventJson::from_slice(&producer.records()[0].payload).unwrap();
    assert_eq!(envelope.tenant_id, shipped.tenant);
    assert_eq!(envelope.metadata.as_ref().unwrap()["region"], "eu");
    assert_eq!(envelope.payload(), json!({"order": 7}));
    let fields = shipped.envelope_fields();
    assert_eq!(fields.id, None);
    assert_eq!(EnvelopeFields::default().metadata, None);
}

#[tokio::test]
async fn a_kafka_producer_writes_each_topic_in_its_format() {
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    kafka.create_topic("audit", 1).unwrap();
    kafka.create_topic("usage", 1).unwrap();
    // Moving one topic at a time: audit in the envelope, usage still flat.
    let config = kafka
        .producer_config()
        .envelope(EnvelopeConfig::new("commerce.orders.api.v1", "orders-api"))
        .topic_wire_format("usage", WireFormat::Flat);
    let producer = KafkaProducer::new(&config).unwrap();
    assert!(producer.envelope_for("audit").is_some());
    assert!(producer.envelope_for("usage").is_none());
    let entry = AuditEntry::new();
    let usage = UsageEvent::new("orders", Utc::now(), Utc::now());
    entry.emit(&producer).await.unwrap();
    usage.emit_detached(&producer).unwrap();
    assert!(producer.wait_delivered(Duration::from_secs(10)).await);
    let audit = read_topic(
        kafka.bootstrap_servers(),
        "audit",
        1,
        Duration::from_secs(10),
    )
    .unwrap();
    let envelope = EventJson::from_slice(&audit[0].payload).unwrap();
    assert_eq!(envelope.id, entry.id);
    assert_eq!(audit[0].key, entry.id.to_string().as_bytes());
    assert_eq!(audit[0].header_str("message-type"), Some("Event"));
    assert_eq!(audit[0].decode::<AuditEntry>().unwrap(), entry);
    let flat = read_topic(
        kafka.bootstrap_servers(),
        "usage",
        1,
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(EventJson::from_slice(&flat[0].payload).is_err());
    assert!(flat[0].header("message-type").is_none());
    assert_eq!(flat[0].decode::<UsageEvent>().unwrap(), usage);
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[test]
fn wire_format_settings_are_checked_when_the_producer_is_built() {
    let base = KafkaConfig::new(["127.0.0.1:1"]);
    let missing = KafkaConfig {
        wire_format: WireFormat::Envelope,
        ..base.clone()
    };
    let error = KafkaProducer::new(&missing).err().unwrap();
    assert!(matches!(&error, ConfigError::Envelope { .. }), "{error}");
    assert!(error.to_string().contains("`envelope` section"), "{error}");
    let per_topic = base
        .clone()
        .topic_wire_format("audit", WireFormat::Envelope);
    assert!(matches!(
        KafkaProducer::new(&per_topic),
        Err(ConfigError::Envelope { .. })
    ));
    let bad_source = base
        .clone()
        .envelope(EnvelopeConfig::new("orders-api", "orders-api"));
    let error = KafkaProducer::new(&bad_source).err().unwrap();
    assert!(
        error
            .to_string()
            .contains("{domain}.{group}.{name}.v{major}"),
        "{error}"
    );
    let physical = base
        .clone()
        .topic("audit", "ds.audit.1")
        .envelope(EnvelopeConfig::new("a.b.c.v1", "svc"))
        .topic_wire_format("ds.audit.1", WireFormat::Flat);
    let error = KafkaProducer::new(&physical).err().unwrap();
    assert!(error.to_string().contains("not a logical topic"), "{error}");
    let blank = base.envelope(EnvelopeConfig::new("a.b.c.v1", ""));
    assert!(matches!(
        KafkaProducer::new(&blank),
        Err(ConfigError::Envelope { .. })
    ));

    // From TOML-like text, unknown keys refused.
    let typo = serde_json::from_value::<KafkaConfig>(json!({
        "brokers": ["h:1"], "envelope": {"event_source": "a.b.c.v1", "creatd_by": "x"}
    }));
    assert!(typo.unwrap_err().to_string().contains("creatd_by"));
    let unknown_format = serde_json::from_value::<KafkaConfig>(json!({
        "brokers": ["h:1"], "wire_format": "wrapped"
    }));
    assert!(unknown_format.is_err());
}

#[test]
fn wire_formats_come_from_the_environment() {
    // SAFETY (edition 2024): this test's variables have a prefix no other test uses.
    unsafe {
        std::env::set_var("ENVELOPE_TEST_BROKERS", "127.0.0.1:1");
        std::env::set_var("ENVELOPE_TEST_WIRE_FORMAT", "envelope");
        std::env::set_var("ENVELOPE_TEST_WIRE_FORMATS", "usage=flat, audit=envelope");
        std::env::set_var("ENVELOPE_TEST_ENVELOPE_EVENT_SOURCE", "a.b.c.v2");
        std::env::set_var("ENVELOPE_TEST_ENVELOPE_CREATED_BY", "svc");
    }
    let config = KafkaConfig::from_env_prefixed("ENVELOPE_TEST_").unwrap();
    assert_eq!(config.wire_format, WireFormat::Envelope);
    assert_eq!(config.wire_formats["usage"], WireFormat::Flat);
    assert_eq!(
        config.envelope,
        Some(EnvelopeConfig::new("a.b.c.v2", "svc"))
    );
    unsafe {
        std::env::set_var("ENVELOPE_TEST_WIRE_FORMAT", "wrapped");
    }
    let error = KafkaConfig::from_env_prefixed("ENVELOPE_TEST_").unwrap_err();
    assert!(
        error.to_string().contains("ENVELOPE_TEST_WIRE_FORMAT"),
        "{error}"
    );
    unsafe {
        std::env::set_var("ENVELOPE_TEST_WIRE_FORMAT", "flat");
        std::env::remove_var("ENVELOPE_TEST_ENVELOPE_CREATED_BY");
    }
    let error = KafkaConfig::from_env_prefixed("ENVELOPE_TEST_").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ENVELOPE_TEST_ENVELOPE_CREATED_BY"),
        "{error}"
    );
}
