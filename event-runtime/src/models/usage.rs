//! [`UsageEvent`]: one billable request (the Go `UsageEntry`), and [`UsageStatus`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::RequestOutcome;
use super::wire::{rfc3339, time_or_zero, uuid_or_zero};
use kafka_events_macros::KafkaEvent;

/// The state of a usage record (the Go `UsageEntry`'s `status`); the middleware sends `draft`.
///
/// ```
/// use kafka_events::chrono::Utc;
/// use kafka_events::{UsageEvent, UsageStatus};
///
/// let now = Utc::now();
/// let usage = UsageEvent::new("reports-api", now, now);
/// assert_eq!(usage.status, UsageStatus::Draft);
///
/// let active = UsageEvent { status: UsageStatus::Active, ..usage };
/// assert_eq!(serde_json::to_value(&active)?["status"], "active");
/// // Go's zero value, an empty string, reads back as `Unset`.
/// assert_eq!(serde_json::from_str::<UsageStatus>(r#""""#)?, UsageStatus::Unset);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UsageStatus {
    /// `active`
    Active,
    /// `deleted`
    Deleted,
    /// `suspended`
    Suspended,
    /// `rejected`
    Rejected,
    /// `draft`: what the middleware sends.
    #[default]
    Draft,
    /// `closed`
    Closed,
    /// `""`: Go's zero value, for a record that set none.
    #[serde(rename = "")]
    Unset,
}

/// One billable request (the Go middleware's `UsageEntry`, plus what this crate adds).
///
/// ```
/// use kafka_events::{KafkaEvent, MemoryProducer, UsageEvent, UsageStatus};
/// use kafka_events::chrono::{Duration, Utc};
///
/// let end = Utc::now();
/// let mut usage = UsageEvent::new("reports-api", end - Duration::milliseconds(40), end);
/// usage.owner_id = Some("acme".into());
/// assert_eq!(usage.status, UsageStatus::Draft);
///
/// let producer = MemoryProducer::new();
/// usage.emit_detached(&producer)?;
/// let json = serde_json::to_value(&usage)?;
/// // The Go struct's spelling, kept for its consumers.
/// assert!(json.get("end_timestmap").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
// The derived (de)serializers are the flat document's; the trait impls below read both formats.
#[serde(remote = "Self")]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "UsageEvent")
)]
#[event(
    crate = "crate",
    topic = "usage",
    key = "id",
    type = "usage.record",
    contract = "contracts/usage/usage.record.json",
    envelope_with = "in_envelope",
    fast_json
)]
pub struct UsageEvent {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The caller's tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    #[event(write_json_with = "uuid_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub tenant_id: Option<Uuid>,
    /// The `X-Owner-ID` header, when sent.
    pub owner_id: Option<String>,
    /// The product billed, from the service's configuration.
    #[serde(with = "uuid_or_zero")]
    #[event(write_json_with = "uuid_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub product_id: Option<Uuid>,
    /// The memory the service is billed for, from its configuration.
    pub memory_mb: i16,
    /// When handling started.
    #[serde(serialize_with = "rfc3339::serialize")]
    #[event(write_json_with = "rfc3339::write_json")]
    pub start_timestamp: DateTime<Utc>,
    /// When handling ended; from the layers, `start_timestamp` plus the request's duration as
    /// the monotonic clock measured it. The Go services misspell this field's wire name, and
    /// their consumers read that name, so it is written as `end_timestmap`.
    #[serde(rename = "end_timestmap", serialize_with = "rfc3339::serialize")]
    #[event(write_json_with = "rfc3339::write_json")]
    pub end_timestamp: DateTime<Utc>,
    /// Go's `duration`, which its middleware leaves at zero; so does this crate's
    /// (`duration_ms` has the time).
    pub duration: f64,
    /// The record's state.
    pub status: UsageStatus,
    /// `[{"user_id": subject}, {"service_name": service}]` from the middleware; `null` when none.
    pub metadata: Option<Vec<BTreeMap<String, String>>>,
    /// Free-form tags; `null` when none.
    pub tags: Option<BTreeMap<String, String>>,
    /// When the record was created by a billing system; Go's zero time (`None`) from the
    /// middleware.
    #[serde(with = "time_or_zero")]
    #[event(write_json_with = "time_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "DateTime<Utc>"))]
    pub created_at: Option<DateTime<Utc>>,
    /// Who created it; empty from the middleware.
    pub created_by: String,

    // What kafka-events adds; Go consumers ignore these.
    /// The service that handled the request.
    #[serde(default)]
    pub service: String,
    /// The caller; empty when anonymous.
    #[serde(default)]
    pub subject: String,
    /// The route template, or the path.
    #[serde(default)]
    pub endpoint: String,
    /// `end_timestamp - start_timestamp` in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// The `X-Message` header, when sent.
    #[serde(default)]
    pub message: Option<String>,
    /// How the request ended: answered, its handler panicked, or it was cancelled.
    #[serde(default)]
    pub outcome: RequestOutcome,
    /// When the event was made; from the layers, the request's end (`end_timestamp`).
    #[serde(default = "Utc::now", serialize_with = "rfc3339::serialize")]
    #[event(write_json_with = "rfc3339::write_json")]
    pub timestamp: DateTime<Utc>,
    /// The fields the client controls that were cut short so the event fits a record (their
    /// JSON names: `endpoint`). Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
}

impl UsageEvent {
    /// A usage record for `service` spanning `start..end`, with status `draft` and the
    /// middleware's metadata for an anonymous caller.
    pub fn new(service: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        UsageEvent::made(service, start, end, usage_metadata("", service), Utc::now())
    }

    /// [`UsageEvent::new`] with its `metadata` and its record's `timestamp` given: the layers
    /// make a request's usage event with its caller's metadata and its end as the timestamp,
    /// with nothing made (or the clock read) only to be replaced.
    pub(crate) fn made(
        service: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        metadata: Vec<BTreeMap<String, String>>,
        timestamp: DateTime<Utc>,
    ) -> Self {
        UsageEvent {
            id: Uuid::new_v4(),
            tenant_id: None,
            owner_id: None,
            product_id: None,
            memory_mb: 0,
            start_timestamp: start,
            end_timestamp: end,
            duration: 0.0,
            status: UsageStatus::Draft,
            metadata: Some(metadata),
            tags: None,
            created_at: None,
            created_by: String::new(),
            service: service.to_owned(),
            subject: String::new(),
            endpoint: String::new(),
            duration_ms: (end - start).num_milliseconds().max(0) as u64,
            message: None,
            outcome: RequestOutcome::Completed,
            timestamp,
            truncated: Vec::new(),
        }
    }
}

/// The Go middleware's usage metadata: `[{"user_id": subject}, {"service_name": service}]`.
pub(crate) fn usage_metadata(subject: &str, service: &str) -> Vec<BTreeMap<String, String>> {
    vec![
        BTreeMap::from([("user_id".to_owned(), subject.to_owned())]),
        BTreeMap::from([("service_name".to_owned(), service.to_owned())]),
    ]
}

both_formats!(UsageEvent, in_envelope::deserialize);

/// [`UsageEvent`] in the `EventJson` envelope (see `event_json.rs`): what it puts in the envelope's
/// fields, the payload keys of the Go middleware's event type, and reading them back.
mod in_envelope {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize};

    use super::super::audit::RequestOutcome;
    use super::super::event_json::{nonzero, parse_uuid, read_either, text, uuid_text};
    use super::super::wire::{rfc3339, time_or_zero};
    use super::{UsageEvent, UsageStatus};
    use crate::envelope::{self, EnvelopeFields};

    /// `usage.report`'s payload. Go's keys: `end_time`, `memory_mb`, `product_id`,
    /// `service_name`, `start_time`, `status`, `user_id`.
    #[derive(Serialize, Deserialize)]
    #[serde(default)]
    struct UsageReport<'a> {
        #[serde(with = "time_or_zero")]
        created_at: Option<DateTime<Utc>>,
        created_by: Cow<'a, str>,
        duration: f64,
        duration_ms: u64,
        #[serde(serialize_with = "rfc3339::serialize")]
        end_time: DateTime<Utc>,
        endpoint: Cow<'a, str>,
        memory_mb: i16,
        metadata: Option<Cow<'a, [BTreeMap<String, String>]>>,
        outcome: RequestOutcome,
        product_id: Cow<'a, str>,
        service_name: Cow<'a, str>,
        #[serde(serialize_with = "rfc3339::serialize")]
        start_time: DateTime<Utc>,
        status: UsageStatus,
        tags: Option<Cow<'a, BTreeMap<String, String>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<DateTime<Utc>>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        truncated: Cow<'a, [String]>,
        user_id: Cow<'a, str>,
    }

    impl Default for UsageReport<'_> {
        fn default() -> Self {
            UsageReport {
                created_at: None,
                created_by: Cow::Borrowed(""),
                duration: 0.0,
                duration_ms: 0,
                end_time: DateTime::UNIX_EPOCH,
                endpoint: Cow::Borrowed(""),
                memory_mb: 0,
                metadata: None,
                outcome: RequestOutcome::Completed,
                product_id: Cow::Borrowed(""),
                service_name: Cow::Borrowed(""),
                start_time: DateTime::UNIX_EPOCH,
                status: UsageStatus::Draft,
                tags: None,
                timestamp: None,
                truncated: Cow::Borrowed(&[]),
                user_id: Cow::Borrowed(""),
            }
        }
    }

    /// The Go middleware's type for a usage event (this crate's flat one is `usage.record`).
    pub const TYPE: &str = "usage.report";

    pub fn fields(event: &UsageEvent) -> EnvelopeFields<'_> {
        EnvelopeFields {
            id: Some(event.id),
            event_type: Some(TYPE),
            tenant_id: event.tenant_id,
            timestamp: Some(event.start_timestamp),
            message: event.message.as_deref(),
            owner_id: event.owner_id.as_deref(),
            ..EnvelopeFields::default()
        }
    }

    pub fn write_payload(event: &UsageEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let payload = UsageReport {
            created_at: event.created_at,
            created_by: text(&event.created_by),
            duration: event.duration,
            duration_ms: event.duration_ms,
            end_time: event.end_timestamp,
            endpoint: text(&event.endpoint),
            memory_mb: event.memory_mb,
            metadata: event.metadata.as_deref().map(Cow::Borrowed),
            outcome: event.outcome,
            product_id: uuid_text(event.product_id),
            service_name: text(&event.service),
            start_time: event.start_timestamp,
            status: event.status,
            tags: event.tags.as_ref().map(Cow::Borrowed),
            timestamp: Some(event.timestamp),
            truncated: Cow::Borrowed(&event.truncated),
            user_id: text(&event.subject),
        };
        serde_json::to_writer(out, &payload)
    }

    fn read(head: envelope::EventJson, report: UsageReport<'static>) -> Option<UsageEvent> {
        Some(UsageEvent {
            id: head.id,
            tenant_id: nonzero(head.tenant_id),
            owner_id: head.owner_id,
            product_id: parse_uuid(&report.product_id),
            memory_mb: report.memory_mb,
            start_timestamp: report.start_time,
            end_timestamp: report.end_time,
            duration: report.duration,
            status: report.status,
            metadata: report.metadata.map(Cow::into_owned),
            tags: report.tags.map(Cow::into_owned),
            created_at: report.created_at,
            created_by: report.created_by.into_owned(),
            service: report.service_name.into_owned(),
            subject: report.user_id.into_owned(),
            endpoint: report.endpoint.into_owned(),
            duration_ms: report.duration_ms,
            message: head.message,
            outcome: report.outcome,
            timestamp: report.timestamp.unwrap_or(head.timestamp),
            truncated: report.truncated.into_owned(),
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<UsageEvent, D::Error> {
        read_either(
            deserializer,
            UsageEvent::deserialize,
            &[TYPE, "usage.record"],
            read,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ZERO: &str = "00000000-0000-0000-0000-000000000000";

    #[test]
    fn go_zero_time_is_none() {
        let usage = UsageEvent::new("svc", Utc::now(), Utc::now());
        let json = serde_json::to_value(&usage).unwrap();
        assert_eq!(json["created_at"], "0001-01-01T00:00:00Z");
        assert!(json.get("end_timestmap").is_some() && json.get("end_timestamp").is_none());
        let read: UsageEvent = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(read, usage);
        let mut null = json;
        null["created_at"] = json!(null);
        assert_eq!(
            serde_json::from_value::<UsageEvent>(null)
                .unwrap()
                .created_at,
            None
        );
    }

    #[test]
    fn go_events_without_this_crates_fields_read_with_defaults() {
        let go = json!({
            "id": Uuid::new_v4(), "tenant_id": ZERO, "owner_id": null, "product_id": ZERO,
            "memory_mb": 512, "start_timestamp": "2024-03-15T09:26:53.12Z",
            "end_timestmap": "2024-03-15T09:26:53.123456789Z", "duration": 0, "status": "draft",
            "metadata": null, "tags": null, "created_at": "0001-01-01T00:00:00Z", "created_by": ""
        });
        let read: UsageEvent = serde_json::from_value(go).unwrap();
        assert_eq!((read.memory_mb, read.status), (512, UsageStatus::Draft));
        assert_eq!(read.service, "");
    }
}
