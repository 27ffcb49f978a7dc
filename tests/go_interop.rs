//! Go interop, proven by Go: `tests/go/interop.go` declares the Go services' structs and
//!
//! - decodes every model this crate writes (through the HTTP layers for anonymous and
//!   authenticated requests, and every auth event type) and checks each value survives;
//! - writes events as the Go services do, which the models here must read back;
//! - computes the partition Go producers choose for a table of keys and partition counts, which
//!   this crate's producer must match on the embedded broker;
//! - reads each Go struct's JSON Schema off its fields, which the models' shipped contracts must
//!   follow without a change that breaks a Go consumer.
//!
//! It needs Go and Google's uuid package (Debian: `golang-go`, `golang-github-google-uuid-dev`;
//! no network). Without `go` on the `PATH` these tests say they were skipped, unless
//! `KAFKA_EVENTS_REQUIRE_GO` is set (as `.ci/run` does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuditEntry, AuthEvent, AuthEventType, KafkaConfig, KafkaEvent, KafkaProducer, MemoryProducer,
    Message, Partitioner, Producer, UsageEvent, UsageStatus,
};
use serde_json::{Value, json};
use uuid::{Uuid, uuid};

#[path = "support/go.rs"]
mod go;

/// The Go program, built once, or `None` (the test is skipped) without Go.
fn go_program() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| go::build("tests/go/interop.go"))
        .as_deref()
}

/// Runs the Go program in `mode` with `input` on stdin; returns its exit code and stdout.
fn run_go(program: &Path, mode: &str, input: &str) -> (i32, String) {
    go::run(program, &[mode], input)
}

/// One line for the Go program's `decode` mode.
fn case(model: &str, name: &str, payload: &[u8]) -> String {
    let json: Value = serde_json::from_slice(payload).expect("the record is JSON");
    json!({ "model": model, "name": name, "json": json }).to_string() + "\n"
}

#[path = "support/layers.rs"]
mod layers;

/// What the HTTP layers record: an anonymous GET and an authenticated JSON POST.
async fn records_from_the_layers() -> Vec<Message> {
    let records = layers::records_from_the_layers(&MemoryProducer::new()).await;
    records
        .into_iter()
        .map(|r| Message {
            topic: r.topic.into(),
            key: r.key,
            payload: r.payload,
            headers: r.headers,
        })
        .collect()
}

#[tokio::test]
async fn every_model_this_crate_writes_decodes_with_the_go_structs() {
    let Some(go) = go_program() else { return };
    let mut input = String::new();
    for (i, record) in records_from_the_layers().await.iter().enumerate() {
        let model = if record.topic == "usage" {
            "usage"
        } else {
            "audit"
        };
        input += &case(model, &format!("layer-{model}-{i}"), &record.payload);
    }
    let full = AuditEntry {
        tenant_id: Some(Uuid::new_v4()),
        subject: "user-1234".into(),
        jti: Some(Uuid::new_v4()),
        http_method: "PATCH".into(),
        resource: "orders".into(),
        resource_id: Some(Uuid::new_v4()),
        payload: Some(json!([{"op": "replace", "path": "/status", "value": "closed"}]).into()),
        correlation_id: "corr-7f3a9c".into(),
        ..AuditEntry::new()
    };
    input += &case(
        "audit",
        "audit-every-field",
        &serde_json::to_vec(&full).unwrap(),
    );
    input += &case(
        "audit",
        "audit-defaults",
        &serde_json::to_vec(&AuditEntry::new()).unwrap(),
    );
    for r#type in AuthEventType::ALL {
        let mut event = AuthEvent::new(r#type, "auth", "user-1234", "why");
        input += &case(
            "auth",
            r#type.as_str(),
            &serde_json::to_vec(&event).unwrap(),
        );
        event.tenant_id = Some(Uuid::new_v4());
        let name = format!("{}-with-tenant", r#type.as_str());
        input += &case("auth", &name, &serde_json::to_vec(&event).unwrap());
    }
    let now = Utc::now();
    let usage = UsageEvent {
        owner_id: Some("acme-billing-7".into()),
        tags: Some(BTreeMap::from([("env".into(), "prod".into())])),
        created_at: Some(now),
        created_by: "admin@example.com".into(),
        status: UsageStatus::Active,
        memory_mb: i16::MAX,
        ..UsageEvent::new("orders", now, now + chrono::Duration::milliseconds(2750))
    };
    input += &case(
        "usage",
        "usage-every-field",
        &serde_json::to_vec(&usage).unwrap(),
    );

    let (code, out) = run_go(go, "decode", &input);
    let failures: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains(r#""ok":true"#))
        .collect();
    assert!(
        failures.is_empty() && code == 0,
        "Go could not read:\n{}",
        failures.join("\n")
    );
    assert_eq!(out.lines().count(), input.lines().count());
}

/// The check above is only worth something if Go refuses what it can't read: these are the
/// mistakes this crate used to make.
#[test]
fn the_go_program_refuses_what_the_go_services_cannot_read() {
    let Some(go) = go_program() else { return };
    let mut anonymous = serde_json::to_value(AuditEntry::new()).unwrap();
    anonymous["jti"] = json!("");
    let mut renamed = serde_json::to_value(UsageEvent::new("s", Utc::now(), Utc::now())).unwrap();
    let start = renamed
        .as_object_mut()
        .unwrap()
        .remove("start_timestamp")
        .unwrap();
    renamed["start_time"] = start;
    let mut null_tenant = serde_json::to_value(AuditEntry::new()).unwrap();
    null_tenant["tenant_id"] = Value::Null;
    let mut float_memory =
        serde_json::to_value(UsageEvent::new("s", Utc::now(), Utc::now())).unwrap();
    float_memory["memory_mb"] = json!(512.5);
    let input = [
        ("audit", "empty-jti", anonymous),
        ("usage", "start-time", renamed),
        ("audit", "null-tenant", null_tenant),
        ("usage", "float-memory", float_memory),
    ]
    .iter()
    .map(|(model, name, json)| case(model, name, json.to_string().as_bytes()))
    .collect::<String>();
    let (code, out) = run_go(go, "decode", &input);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(r#""ok":false"#)).count(),
        4,
        "{out}"
    );
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Reads what the Go program writes (the values are listed at the top of `interop.go`).
#[test]
fn events_the_go_services_write_decode_into_the_models() {
    let Some(go) = go_program() else { return };
    let (code, out) = run_go(go, "encode", "");
    assert_eq!(code, 0);
    let mut cases: BTreeMap<String, Value> = BTreeMap::new();
    for line in out.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        cases.insert(
            line["name"].as_str().unwrap().to_owned(),
            line["json"].clone(),
        );
    }
    let audit = |name: &str| -> AuditEntry { serde_json::from_value(cases[name].clone()).unwrap() };
    let auth = |name: &str| -> AuthEvent { serde_json::from_value(cases[name].clone()).unwrap() };
    let usage = |name: &str| -> UsageEvent { serde_json::from_value(cases[name].clone()).unwrap() };
    let tenant = uuid!("3fa85f64-5717-4562-b3fc-2c963f66afa6");

    let anonymous = audit("audit-anonymous");
    assert_eq!(anonymous.id, uuid!("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
    assert_eq!(
        (anonymous.tenant_id, anonymous.jti, anonymous.resource_id),
        (None, None, None)
    );
    assert_eq!(
        (anonymous.subject.as_str(), anonymous.payload.as_ref()),
        ("", None)
    );
    assert_eq!(anonymous.timestamp, time("2024-03-15T09:26:53Z"));
    assert_eq!(anonymous.correlation_id, "");
    // What only this crate writes is absent from Go's events, and takes its default.
    assert_eq!(
        (anonymous.status_code, anonymous.request_id.as_str()),
        (0, "")
    );

    let authenticated = audit("audit-authenticated");
    assert_eq!(authenticated.tenant_id, Some(tenant));
    assert_eq!(
        authenticated.jti,
        Some(uuid!("9b2e4c1a-7d3f-4e8b-a5c6-0f1e2d3c4b5a"))
    );
    assert_eq!(
        authenticated.resource_id,
        Some(uuid!("550e8400-e29b-41d4-a716-446655440000"))
    );
    assert_eq!(authenticated.timestamp, time("2024-03-15T09:26:53.120Z"));
    assert_eq!(
        authenticated.payload.as_ref().unwrap().to_value()["total"],
        12.5
    );
    assert_eq!(
        authenticated.full_url,
        "/orders/550e8400-e29b-41d4-a716-446655440000?expand=items&limit=10"
    );
    assert_eq!(authenticated.correlation_id, "corr-7f3a9c");
    assert_eq!(
        audit("audit-nanos").timestamp,
        time("2024-03-15T09:26:53.123456789Z")
    );

    let types: Vec<AuthEventType> = [
        "auth-login-success",
        "auth-login-failure",
        "auth-authz-denied",
        "auth-authz-error",
    ]
    .iter()
    .map(|name| auth(name).r#type)
    .collect();
    assert_eq!(types, AuthEventType::ALL);
    let failure = auth("auth-login-failure");
    assert_eq!(
        (failure.tenant_id, failure.error.as_str()),
        (None, "invalid credentials")
    );
    assert_eq!(failure.timestamp, time("2024-03-15T09:26:53.000001Z"));
    assert_eq!(auth("auth-authz-denied").tenant_id, Some(tenant));

    let middleware = usage("usage-middleware");
    assert_eq!(middleware.id, uuid!("c9bf9e57-1685-4c89-bafb-ff5af830be8a"));
    assert_eq!(
        (middleware.owner_id.as_deref(), middleware.memory_mb),
        (None, 512)
    );
    assert_eq!(
        middleware.product_id,
        Some(uuid!("1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    );
    assert_eq!(middleware.start_timestamp, time("2024-03-15T09:26:53.12Z"));
    assert_eq!(
        middleware.end_timestamp,
        time("2024-03-15T09:26:53.123456789Z")
    );
    assert_eq!(middleware.status, UsageStatus::Draft);
    assert_eq!(
        middleware.metadata,
        Some(vec![
            BTreeMap::from([("user_id".into(), "user-1234".into())]),
            BTreeMap::from([("service_name".into(), "orders".into())]),
        ])
    );
    assert_eq!((middleware.tags, middleware.created_at), (None, None));
    let full = usage("usage-full");
    assert_eq!(
        (full.owner_id.as_deref(), full.memory_mb),
        (Some("acme-billing-7"), i16::MAX)
    );
    assert_eq!((full.duration, full.status), (2.75, UsageStatus::Active));
    assert_eq!(full.created_at, Some(time("2024-01-02T03:04:05Z")));
    assert_eq!(full.tags.unwrap()["tier"], "gold");
    let empty = usage("usage-empty-collections");
    assert_eq!((empty.tenant_id, empty.product_id), (None, None));
    assert_eq!(
        (empty.metadata, empty.tags),
        (Some(Vec::new()), Some(BTreeMap::new()))
    );
    assert_eq!(empty.owner_id.as_deref(), Some(""));
    assert_eq!(empty.status, UsageStatus::Closed);
    assert_eq!(
        cases.len(),
        10,
        "a case was added to interop.go: check it here too"
    );
}

/// Keys whose partitions the table compares: event ids, as the models key by, and short keys
/// whose hashes have the top bit set (where a formula that takes the hash as unsigned differs).
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..200u128)
        .map(|i| Uuid::from_u128(0x6f96_19ff_8b86_d011_b42d_00c0_4fc9_0000 + i * 7919).to_string())
        .collect();
    keys.extend(["20", "blah", "boop", "tenant-1", "order-42"].map(String::from));
    keys
}

#[tokio::test]
async fn keys_land_on_the_partitions_the_go_producers_choose() {
    let Some(go) = go_program() else { return };
    const COUNTS: [i32; 4] = [3, 7, 12, 64];
    let keys = keys();
    let table: String = COUNTS
        .iter()
        .flat_map(|n| keys.iter().map(move |k| format!("{k}\t{n}\n")))
        .collect();
    let (code, out) = run_go(go, "partition", &table);
    assert_eq!(code, 0);
    let expected: BTreeMap<(String, i32), i32> = out
        .lines()
        .map(|line| {
            let mut fields = line.rsplitn(3, '\t');
            let partition: i32 = fields.next().unwrap().parse().unwrap();
            let count: i32 = fields.next().unwrap().parse().unwrap();
            ((fields.next().unwrap().to_owned(), count), partition)
        })
        .collect();
    assert_eq!(expected.len(), keys.len() * COUNTS.len());

    let kafka = EmbeddedKafka::start().unwrap();
    for n in COUNTS {
        kafka.create_topic(&format!("partitions-{n}"), n).unwrap();
    }
    let landed = |partitioner| {
        let config = KafkaConfig::new([kafka.bootstrap_servers()])
            .partitioner(partitioner)
            .property("linger.ms", "1");
        let producer = Arc::new(KafkaProducer::new(&config).unwrap());
        let keys = keys.clone();
        async move {
            let mut tasks = Vec::new();
            for n in COUNTS {
                for key in &keys {
                    let (producer, key) = (producer.clone(), key.clone());
                    tasks.push(tokio::spawn(async move {
                        let message = Message::new(
                            format!("partitions-{n}"),
                            key.clone().into_bytes(),
                            b"{}".to_vec(),
                        );
                        let delivery = producer.send(message).await.unwrap();
                        ((key, n), delivery.partition)
                    }));
                }
            }
            let mut landed = BTreeMap::new();
            for task in tasks {
                let (at, partition) = task.await.unwrap();
                landed.insert(at, partition);
            }
            landed
        }
    };
    let ours = landed(Partitioner::default()).await;
    let differ: Vec<_> = ours
        .iter()
        .filter(|(at, partition)| expected[*at] != **partition)
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} differ: {differ:?}",
        differ.len(),
        ours.len()
    );
    // The table tells partitioners apart: the Java client's puts most keys elsewhere.
    let java = landed(Partitioner::JavaMurmur2).await;
    let same = java.iter().filter(|(at, p)| expected[*at] == **p).count();
    assert!(same < java.len() / 2, "{same} of {} agree", java.len());
}

#[test]
fn every_model_names_its_go_fields() {
    // The model table in the README lists these; a drift here is a drift on the wire.
    assert_eq!(
        &AuditEntry::FIELD_NAMES[..15],
        [
            "tenant_id",
            "subject",
            "jti",
            "http_method",
            "resource",
            "resource_id",
            "payload",
            "source_ip",
            "user_agent",
            "timestamp",
            "service",
            "endpoint",
            "full_url",
            "id",
            "correlation_id"
        ]
    );
    assert_eq!(
        AuthEvent::FIELD_NAMES,
        [
            "id",
            "service_name",
            "type",
            "subject",
            "tenant_id",
            "error",
            "path",
            "user_agent",
            "remote_addr",
            "timestamp"
        ]
    );
    assert_eq!(
        &UsageEvent::FIELD_NAMES[..13],
        [
            "id",
            "tenant_id",
            "owner_id",
            "product_id",
            "memory_mb",
            "start_timestamp",
            "end_timestmap",
            "duration",
            "status",
            "metadata",
            "tags",
            "created_at",
            "created_by"
        ]
    );
}

/// The models' shipped contracts promise what the Go structs write: from the schema the Go
/// program reads off each Go struct (`schema` mode) to the contract, nothing breaks a consumer
/// that decodes as Go does. The differences, all compatible, are what this crate adds.
#[test]
fn the_shipped_contracts_are_what_the_go_structs_accept() {
    use kafka_events::contract::{Contract, Mode, models};

    let Some(program) = go_program() else { return };
    let (code, out) = run_go(program, "schema", "");
    assert_eq!(code, 0);
    let go: Value = serde_json::from_str(&out).expect("the Go program prints JSON");
    let [audit, auth, usage] = models();
    let added = |event: &str, fields: &[&str]| -> Vec<String> {
        fields
            .iter()
            .map(|f| format!("{event}: field {f} added"))
            .collect()
    };
    let expected = [
        (
            "audit",
            &audit,
            added(
                "audit.log",
                &[
                    "anonymous",
                    "duration_ms",
                    "message",
                    "minimal",
                    "outcome",
                    "payload_truncated",
                    "request_id",
                    "response_payload",
                    "status_code",
                    "truncated",
                ],
            ),
        ),
        (
            "auth",
            &auth,
            vec![
                r#"AuthEvent: field type: only "authz.denied", "authz.error", "login.failure", "login.success""#.to_owned(),
            ],
        ),
        ("usage", &usage, {
            let mut lines = vec![
                "usage.record: field metadata[]: object or null → object".to_owned(),
                r#"usage.record: field status: only "", "active", "closed", "deleted", "draft", "rejected", "suspended""#.to_owned(),
            ];
            lines.extend(added(
                "usage.record",
                &[
                    "duration_ms",
                    "endpoint",
                    "message",
                    "outcome",
                    "service",
                    "subject",
                    "timestamp",
                    "truncated",
                ],
            ));
            lines
        }),
    ];
    for (name, contract, compatible) in expected {
        // The name, topic, key and event types are not the Go struct's to say.
        let mut schema = go[name].clone();
        for keyword in ["title", "x-kafka-event"] {
            schema[keyword] = contract.schema()[keyword].clone();
        }
        let go_writes = Contract::from_json(&schema.to_string()).unwrap();
        let changes: Vec<String> = contract
            .changes_since(&go_writes, Mode::Go)
            .iter()
            .map(|change| {
                assert!(!change.breaking, "{name}: breaks Go consumers: {change}");
                change.to_string()
            })
            .collect();
        assert_eq!(changes, compatible, "{name}");
    }
}
