//! An event's JSON Schema is exactly what its records are: every serde rule (names, `rename`,
//! `skip`, `skip_serializing`, `skip_serializing_if`, `flatten` in a nested type, a struct's
//! `tag`, `Option`, nested types, custom serializers) and redaction, and every record the three
//! models write validates against theirs while the schema refuses what they never write.
//! `tests/derive.rs` checks the parity structs (`rename_all`, every rule) the same way.

#[path = "support/models.rs"]
mod models;
#[path = "support/schema.rs"]
mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kafka_events::contract::{SchemaError, schema_for};
use kafka_events::{AuditEntry, AuthEvent, KafkaEvent, Message, UsageEvent};
use models::{audit_entry, auth_event, text, time, usage_event, uuid};
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
