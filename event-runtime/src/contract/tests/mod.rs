//! The models' contracts: committed, checked, readable by the derive, and describing every
//! record the models write.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::models::JsonText;
use crate::{
    AuditEntry, AuthEvent, AuthEventType, KafkaEvent, RequestOutcome, UsageEvent, UsageStatus,
};

#[test]
fn the_models_keep_their_committed_contracts() {
    let contracts = Contracts::new();
    for verified in [
        contracts.verify::<AuditEntry>(),
        contracts.verify::<AuthEvent>(),
        contracts.verify::<UsageEvent>(),
    ] {
        let verified = verified.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            verified.changes.is_empty(),
            "{}: {:?}",
            verified.path.display(),
            verified.changes
        );
    }
    let now = [
        Contract::of::<AuditEntry>().unwrap(),
        Contract::of::<AuthEvent>().unwrap(),
        Contract::of::<UsageEvent>().unwrap(),
    ];
    assert_eq!(models(), now);
}

#[test]
fn the_derive_reads_the_same_fields_as_the_runtime() {
    for contract in models() {
        let text = contract.to_json();
        let by_the_derive = kafka_events_rules::contract::contract_fields(&text).unwrap();
        let mut sorted = by_the_derive.clone();
        sorted.sort();
        assert_eq!(sorted, contract.fields());
    }
    assert_eq!(
        models()[0].fields().len(),
        AuditEntry::FIELD_NAMES.len(),
        "every field of AuditEntry is promised"
    );
}

#[test]
fn the_models_contracts_say_what_go_reads() {
    let [audit, auth, usage] = models();
    let props = |c: &Contract, f: &str| c.schema()["properties"][f].clone();
    assert_eq!(
        props(&audit, "tenant_id"),
        json!({"type": "string", "format": "uuid", "description": "The caller's tenant, when known (the zero UUID on the wire otherwise)."})
    );
    assert_eq!(props(&audit, "timestamp")["format"], "date-time");
    assert_eq!(props(&audit, "payload")["type"], Value::Null, "any JSON");
    assert_eq!(
        auth.event_types(),
        AuthEventType::ALL.map(AuthEventType::as_str)
    );
    assert_eq!(props(&usage, "memory_mb")["maximum"], 32767);
    assert_eq!(props(&usage, "created_at")["format"], "date-time");
    assert!(usage.fields().contains(&"end_timestmap"));
    for contract in [&audit, &auth, &usage] {
        let required = contract.schema()["required"].as_array().unwrap().len();
        assert_eq!(
            required,
            contract.fields().len(),
            "{}: every field is always written",
            contract.name()
        );
    }
}

/// A JSON Schema validator that checks formats (`uuid`, `date-time`), as Go's types do.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid JSON Schema")
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| Utc.timestamp_opt(secs, nanos).unwrap())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn outcome() -> impl Strategy<Value = RequestOutcome> {
    prop_oneof![
        Just(RequestOutcome::Completed),
        Just(RequestOutcome::Panicked),
        Just(RequestOutcome::Cancelled)
    ]
}

prop_compose! {
    fn audit_entry()(
        ids in (prop::option::of(uuid()), prop::option::of(uuid()), prop::option::of(uuid()), uuid()),
        texts in prop::collection::vec(text(), 10),
        payloads in (prop::option::of(json_value()), prop::option::of(json_value())),
        timestamp in time(),
        numbers in (any::<u16>(), any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite())),
        flags in (any::<bool>(), any::<bool>()),
        outcome in outcome(),
    ) -> AuditEntry {
        AuditEntry {
            tenant_id: ids.0,
            subject: texts[0].clone(),
            jti: ids.1,
            http_method: texts[1].clone(),
            resource: texts[2].clone(),
            resource_id: ids.2,
            payload: payloads.0.map(JsonText::from),
            source_ip: texts[3].clone(),
            user_agent: texts[4].clone(),
            timestamp,
            service: texts[5].clone(),
            endpoint: texts[6].clone(),
            full_url: texts[7].clone(),
            id: ids.3,
            correlation_id: texts[8].clone(),
            request_id: texts[9].clone(),
            status_code: numbers.0,
            duration_ms: numbers.1,
            response_payload: payloads.1.map(JsonText::from),
            payload_truncated: flags.0,
            outcome,
            anonymous: flags.1,
        }
    }
}

prop_compose! {
    fn auth_event()(
        id in uuid(),
        tenant_id in prop::option::of(uuid()),
        kind in prop::sample::select(AuthEventType::ALL.to_vec()),
        texts in prop::collection::vec(text(), 6),
        timestamp in time(),
    ) -> AuthEvent {
        AuthEvent {
            id,
            service_name: texts[0].clone(),
            r#type: kind,
            subject: texts[1].clone(),
            tenant_id,
            error: texts[2].clone(),
            path: texts[3].clone(),
            user_agent: texts[4].clone(),
            remote_addr: texts[5].clone(),
            timestamp,
        }
    }
}

prop_compose! {
    fn usage_event()(
        ids in (uuid(), prop::option::of(uuid()), prop::option::of(uuid())),
        times in (time(), time(), prop::option::of(time()), time()),
        memory_mb in any::<i16>(),
        numbers in (any::<f64>().prop_filter("finite", |f| f.is_finite()), any::<u64>()),
        status in prop::sample::select(vec![
            UsageStatus::Active, UsageStatus::Deleted, UsageStatus::Suspended, UsageStatus::Rejected,
            UsageStatus::Draft, UsageStatus::Closed, UsageStatus::Unset,
        ]),
        metadata in prop::option::of(prop::collection::vec(prop::collection::btree_map(text(), text(), 0..3), 0..3)),
        tags in prop::option::of(prop::collection::btree_map(text(), text(), 0..3)),
        texts in prop::collection::vec(text(), 4),
        optional in (prop::option::of(text()), prop::option::of(text())),
        outcome in outcome(),
    ) -> UsageEvent {
        UsageEvent {
            id: ids.0,
            tenant_id: ids.1,
            owner_id: optional.0,
            product_id: ids.2,
            memory_mb,
            start_timestamp: times.0,
            end_timestamp: times.1,
            duration: numbers.0,
            status,
            metadata,
            tags,
            created_at: times.2,
            created_by: texts[0].clone(),
            service: texts[1].clone(),
            subject: texts[2].clone(),
            endpoint: texts[3].clone(),
            duration_ms: numbers.1,
            message: optional.1,
            outcome,
            timestamp: times.3,
        }
    }
}

/// `record` is valid against `schema`, and the schema is no blank cheque: without any field the
/// record always has, or with a field of another JSON type (except those that take `any`), it
/// is refused.
fn describes(schema: &Value, record: &Value, any: &[&str]) -> Result<(), String> {
    let validator = validator(schema);
    if let Err(error) = validator.validate(record) {
        return Err(format!("{record} is refused: {error}"));
    }
    let object = record.as_object().ok_or("not an object")?;
    for (name, value) in object {
        let mut without = object.clone();
        without.remove(name);
        if validator.is_valid(&Value::Object(without)) {
            return Err(format!("the schema accepts {name} missing"));
        }
        if any.contains(&name.as_str()) {
            continue;
        }
        let other = match value {
            Value::String(_) => json!(17),
            Value::Number(_) | Value::Null => json!(true),
            Value::Bool(_) | Value::Array(_) => json!("x"),
            Value::Object(_) => json!([]),
        };
        let mut changed = object.clone();
        changed.insert(name.clone(), other.clone());
        if validator.is_valid(&Value::Object(changed)) {
            return Err(format!("the schema accepts {other} as {name}"));
        }
    }
    Ok(())
}

#[test]
fn a_schema_that_accepts_anything_fails_the_check() {
    let record = serde_json::to_value(AuthEvent::login_success("svc", "ann")).unwrap();
    assert!(describes(&json!({}), &record, &[]).is_err());
    assert!(describes(&json!(true), &record, &[]).is_err());
    let loose = json!({"type": "object", "properties": {"id": {"type": "string"}}});
    assert!(describes(&loose, &record, &[]).is_err());
    describes(&schema_for::<AuthEvent>().unwrap(), &record, &[]).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_audit_entry_is_what_its_schema_says(entry in audit_entry()) {
        let schema = schema_for::<AuditEntry>().unwrap();
        let record = serde_json::to_value(&entry).unwrap();
        prop_assert_eq!(describes(&schema, &record, &["payload", "response_payload"]), Ok(()));
    }

    #[test]
    fn every_auth_event_is_what_its_schema_says(event in auth_event()) {
        let schema = schema_for::<AuthEvent>().unwrap();
        let record = serde_json::to_value(&event).unwrap();
        prop_assert_eq!(describes(&schema, &record, &[]), Ok(()));
    }

    #[test]
    fn every_usage_event_is_what_its_schema_says(event in usage_event()) {
        let schema = schema_for::<UsageEvent>().unwrap();
        let record = serde_json::to_value(&event).unwrap();
        prop_assert_eq!(describes(&schema, &record, &[]), Ok(()));
    }
}
