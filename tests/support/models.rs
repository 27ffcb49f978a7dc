//! Generated values of the three models (and of what they hold), for property tests.

use chrono::{DateTime, TimeZone, Utc};
use kafka_events::models::JsonText;
use kafka_events::{AuditEntry, AuthEvent, AuthEventType, RequestOutcome, UsageEvent, UsageStatus};
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

pub fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| Utc.timestamp_opt(secs, nanos).unwrap())
}

/// Printable text, and text with what JSON escapes (quotes, backslashes, control characters).
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,12}", "[\"\\\\\\x00-\\x1f a-z\u{e9}\u{1F600}]{0,12}"]
}

pub fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite())
}

pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z\"\\\\\\x00-\\x1f]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub fn outcome() -> impl Strategy<Value = RequestOutcome> {
    prop::sample::select(vec![
        RequestOutcome::Completed,
        RequestOutcome::Panicked,
        RequestOutcome::Cancelled,
    ])
}

prop_compose! {
    pub fn audit_entry()(
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
    pub fn auth_event()(
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
    pub fn usage_event()(
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
