//! An event's JSON Schema is exactly what its records are: every serde rule (names, `rename`,
//! `skip`, `skip_serializing`, `skip_serializing_if`, `flatten` in a nested type, a struct's
//! `tag`, `Option`, nested types, custom serializers) and redaction, and every record the three
//! models write validates against theirs while the schema refuses what they never write.
//! `tests/derive.rs` checks the parity structs (`rename_all`, every rule) the same way.

#[path = "support/schema.rs"]
mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use kafka_events::contract::{SchemaError, schema_for};
use kafka_events::models::JsonText;
use kafka_events::{
    AuditEntry, AuthEvent, AuthEventType, KafkaEvent, Message, RequestOutcome, UsageEvent,
    UsageStatus,
};
use proptest::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use support::{describes, schema_describes};
use uuid::Uuid;

/// Custom serializers, as a user writes them (the models' `uuid_or_zero` and `rfc3339` are the
/// same kind): the schema names the JSON type with `#[schemars(with = "..")]`.
mod wire {
    use serde::Serializer;
    use uuid::Uuid;

    pub fn cents_as_text<S: Serializer>(cents: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if *cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        serializer.collect_str(&format_args!("{sign}{}.{:02}", cents / 100, cents % 100))
    }

    pub fn zero_uuid<S: Serializer>(id: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&id.unwrap_or(Uuid::nil()))
    }
}

#[derive(Serialize, JsonSchema, Clone, Debug)]
struct Address {
    street: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<u16>,
}

#[derive(Serialize, JsonSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct Customer {
    full_name: String,
    #[serde(flatten)]
    address: Address,
    #[serde(rename = "vip")]
    is_vip: bool,
}

#[derive(Serialize, JsonSchema, Clone, Debug)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Serialize, KafkaEvent, JsonSchema, Clone, Debug)]
#[serde(tag = "kind", rename = "order")]
#[event(topic = "orders", key = "order_id", type = "order.placed")]
struct OrderPlaced {
    order_id: u64,
    customer: Customer,
    lines: Vec<Line>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon: Option<String>,
    note: Option<String>,
    #[serde(serialize_with = "wire::cents_as_text")]
    #[schemars(with = "String")]
    total: i64,
    #[serde(serialize_with = "wire::zero_uuid")]
    #[schemars(with = "Uuid")]
    tenant: Option<Uuid>,
    tags: BTreeMap<String, String>,
    placed_at: DateTime<Utc>,
    #[serde(skip)]
    #[allow(dead_code)]
    cache: u8,
    #[serde(skip_serializing)]
    #[allow(dead_code)]
    draft: bool,
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| Utc.timestamp_opt(secs, nanos).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite())
}

prop_compose! {
    fn order()(
        order_id in any::<u64>(),
        customer in (text(), text(), prop::option::of(any::<u16>()), any::<bool>()),
        lines in prop::collection::vec((text(), any::<u32>()), 0..3),
        notes in (prop::option::of(text()), prop::option::of(text())),
        total in any::<i64>(),
        tenant in prop::option::of(uuid()),
        tags in prop::collection::btree_map(text(), text(), 0..3),
        placed_at in time(),
    ) -> OrderPlaced {
        OrderPlaced {
            order_id,
            customer: Customer {
                full_name: customer.0,
                address: Address { street: customer.1, unit: customer.2 },
                is_vip: customer.3,
            },
            lines: lines.into_iter().map(|(sku, quantity)| Line { sku, quantity }).collect(),
            coupon: notes.0,
            note: notes.1,
            total,
            tenant,
            tags,
            placed_at,
            cache: 0,
            draft: false,
        }
    }
}

#[test]
fn the_schema_follows_every_serde_rule() {
    let schema = schema_for::<OrderPlaced>().unwrap();
    let properties = schema["properties"].as_object().unwrap();
    let names: Vec<&String> = properties.keys().collect();
    // `cache` (skip) and `draft` (skip_serializing) are never written; `kind` is the tag.
    assert_eq!(
        names,
        [
            "coupon",
            "customer",
            "kind",
            "lines",
            "note",
            "order_id",
            "placed_at",
            "tags",
            "tenant",
            "total"
        ]
    );
    // Written always, in serde's order; `coupon` may be left out.
    assert_eq!(
        schema["required"],
        json!([
            "kind",
            "order_id",
            "customer",
            "lines",
            "note",
            "total",
            "tenant",
            "tags",
            "placed_at"
        ])
    );
    assert_eq!(
        properties["kind"],
        json!({"type": "string", "const": "order"})
    );
    assert_eq!(properties["note"]["type"], json!(["string", "null"]));
    assert_eq!(properties["total"], json!({"type": "string"}));
    assert_eq!(
        properties["tenant"],
        json!({"type": "string", "format": "uuid"})
    );
    assert_eq!(properties["placed_at"]["format"], "date-time");
    assert_eq!(
        properties["tags"]["additionalProperties"],
        json!({"type": "string"})
    );
    // Nested types, `rename_all` and `rename` in them, `flatten` merging a struct's fields.
    let customer = &schema["$defs"]["Customer"];
    let fields: Vec<&String> = customer["properties"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["fullName", "street", "unit", "vip"]);
    assert_eq!(customer["required"], json!(["fullName", "street", "vip"]));
    assert_eq!(
        properties["lines"]["items"],
        json!({"$ref": "#/$defs/Line"})
    );
}

#[test]
fn redacted_fields_are_described_as_the_mask_the_record_has() {
    #[derive(Serialize, KafkaEvent, JsonSchema)]
    #[event(topic = "accounts", key = "id")]
    struct AccountCreated {
        id: u64,
        #[event(redact)]
        pin: u32,
    }
    let event = AccountCreated { id: 7, pin: 1234 };
    let schema = schema_for::<AccountCreated>().unwrap();
    assert_eq!(
        schema["properties"]["pin"],
        json!({"type": "string", "const": "***"})
    );
    let record: Value =
        serde_json::from_slice(&Message::from_event(&event).unwrap().payload).unwrap();
    describes(&schema, &record, &[], &[]).unwrap();
    // What serde alone writes is not what is sent, and the schema says so.
    assert!(describes(&schema, &serde_json::to_value(&event).unwrap(), &[], &[]).is_err());
}

#[test]
fn a_schema_that_disagrees_with_serde_is_refused() {
    #[derive(Serialize, KafkaEvent, JsonSchema)]
    #[event(topic = "orders", key = "id")]
    struct Hidden {
        id: u64,
        #[schemars(skip)]
        total: i64,
    }
    assert_eq!(
        schema_for::<Hidden>(),
        Err(SchemaError::FieldsDiffer {
            event: "Hidden".into(),
            only_in_schema: vec![],
            only_in_json: vec!["total".into()],
        })
    );
}

#[test]
fn a_schema_that_accepts_anything_fails_the_check() {
    let event = AuthEvent::login_success("accounts", "ann");
    let record = serde_json::to_value(&event).unwrap();
    let real = schema_for::<AuthEvent>().unwrap();
    describes(&real, &record, &[], &[]).unwrap();
    for blank in [json!({}), json!(true), json!({"type": "object"})] {
        assert!(describes(&blank, &record, &[], &[]).is_err(), "{blank}");
    }
    // A schema that forgot the UUID format lets a string Go can't read through.
    let mut loose = real.clone();
    loose["properties"]["id"] = json!({"type": "string"});
    let mut bad = record.clone();
    bad["id"] = json!("not-a-uuid");
    assert!(describes(&real, &bad, &[], &[]).is_err());
    describes(&loose, &bad, &[], &[]).unwrap();
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

fn outcome() -> impl Strategy<Value = RequestOutcome> {
    prop::sample::select(vec![
        RequestOutcome::Completed,
        RequestOutcome::Panicked,
        RequestOutcome::Cancelled,
    ])
}

prop_compose! {
    fn audit_entry()(
        ids in (prop::option::of(uuid()), prop::option::of(uuid()), prop::option::of(uuid()), uuid()),
        texts in prop::collection::vec(text(), 10),
        payloads in (prop::option::of(json_value()), prop::option::of(json_value())),
        timestamp in time(),
        numbers in (any::<u16>(), finite()),
        flags in (any::<bool>(), any::<bool>()),
        outcome in outcome(),
        cut in (prop::collection::vec(text(), 0..3), prop::option::of(text())),
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
            truncated: cut.0,
            message: cut.1.clone(),
            minimal: cut.1,
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
        numbers in (finite(), any::<u64>()),
        status in prop::sample::select(vec![
            UsageStatus::Active, UsageStatus::Deleted, UsageStatus::Suspended,
            UsageStatus::Rejected, UsageStatus::Draft, UsageStatus::Closed, UsageStatus::Unset,
        ]),
        metadata in prop::option::of(prop::collection::vec(
            prop::collection::btree_map(text(), text(), 0..3), 0..3)),
        tags in prop::option::of(prop::collection::btree_map(text(), text(), 0..3)),
        texts in prop::collection::vec(text(), 4),
        optional in (prop::option::of(text()), prop::option::of(text())),
        outcome in outcome(),
        truncated in prop::collection::vec(text(), 0..3),
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
            truncated,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_order_is_what_its_schema_says(order in order()) {
        prop_assert_eq!(schema_describes(&order, &["coupon"], &[]), Ok(()));
    }

    #[test]
    fn every_audit_entry_is_what_its_schema_says(entry in audit_entry()) {
        prop_assert_eq!(
            schema_describes(
                &entry,
                &["truncated", "minimal", "message"],
                &["payload", "response_payload"]
            ),
            Ok(())
        );
    }

    #[test]
    fn every_auth_event_is_what_its_schema_says(event in auth_event()) {
        prop_assert_eq!(schema_describes(&event, &[], &[]), Ok(()));
    }

    #[test]
    fn every_usage_event_is_what_its_schema_says(event in usage_event()) {
        prop_assert_eq!(schema_describes(&event, &["truncated"], &[]), Ok(()));
    }
}

#[test]
fn the_models_schemas_are_their_key_and_types() {
    assert_eq!(AuditEntry::KEY_FIELD, Some("id"));
    let usage = schema_for::<UsageEvent>().unwrap();
    assert_eq!(
        usage["properties"]["status"],
        json!({"$ref": "#/$defs/UsageStatus", "description": "The record's state."})
    );
}
