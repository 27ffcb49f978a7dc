//! [`AuditEntry`]: one audited request, and [`RequestOutcome`], how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::json::JsonText;
use super::wire::{rfc3339, uuid_or_zero};
use kafka_events_macros::KafkaEvent;

/// How the request an [`AuditEntry`] records ended.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::AuditLayer;
/// use kafka_events::{AuditEntry, MemoryProducer, RequestOutcome};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let slow = ServiceBuilder::new()
///     .layer(AuditLayer::new(producer.clone()))
///     .service_fn(|_request: http::Request<_>| async {
///         std::future::pending::<Result<http::Response<String>, Infallible>>().await
///     });
///
/// // The client gives up before the answer.
/// let call = slow.oneshot(http::Request::get("/reports").body(String::new())?);
/// assert!(tokio::time::timeout(Duration::from_millis(20), call).await.is_err());
///
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let entry = &producer.events::<AuditEntry>()?[0];
/// assert_eq!((entry.outcome, entry.status_code), (RequestOutcome::Cancelled, 499));
/// assert_eq!(serde_json::to_value(entry)?["outcome"], "cancelled");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestOutcome {
    /// The service answered (whatever the status).
    #[default]
    Completed,
    /// The handler panicked; the entry has status 500.
    Panicked,
    /// The client went away (or the request's future was dropped) before the answer; the entry
    /// has status 499, as nginx logs it.
    Cancelled,
}

/// One audited request (the Go middleware's `AuditEntry`, plus what this crate adds).
///
/// [`AuditLayer`](crate::middleware::AuditLayer) writes one per HTTP request; build one yourself
/// for what is not a request (a job, a message handler):
///
/// ```
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
///
/// let producer = MemoryProducer::new();
/// let entry = AuditEntry {
///     service: "billing-worker".into(),
///     resource: "invoices".into(),
///     http_method: "JOB".into(),
///     subject: "system".into(),
///     ..AuditEntry::new() // a fresh id, the current time
/// };
/// entry.emit_detached(&producer)?;
/// let json = serde_json::to_value(&entry)?;
/// assert_eq!(json["resource"], "invoices");
/// assert_eq!(producer.records()[0].key, entry.id.to_string().as_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
// The derived (de)serializers are the flat document's; the trait impls below read both formats.
#[serde(remote = "Self")]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "AuditEntry")
)]
#[event(
    crate = "crate",
    topic = "audit",
    key = "id",
    type = "audit.log",
    contract = "contracts/audit/audit.log.json",
    envelope_with = "in_envelope",
    fast_json
)]
pub struct AuditEntry {
    /// The caller's tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    #[event(write_json_with = "uuid_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub tenant_id: Option<Uuid>,
    /// The caller (JWT `sub`); empty when anonymous.
    pub subject: String,
    /// The token id (JWT `jti`), when known.
    #[serde(with = "uuid_or_zero")]
    #[event(write_json_with = "uuid_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub jti: Option<Uuid>,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The first segment of the route (`/users/{id}` → `users`).
    pub resource: String,
    /// The resource the request is about, when the service says so.
    #[serde(with = "uuid_or_zero")]
    #[event(write_json_with = "uuid_or_zero::write_json")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub resource_id: Option<Uuid>,
    /// The request body, when it was JSON (sensitive fields masked); `null` otherwise.
    pub payload: Option<JsonText>,
    /// The client address.
    pub source_ip: String,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// When the request was handled.
    #[serde(serialize_with = "rfc3339::serialize")]
    #[event(write_json_with = "rfc3339::write_json")]
    pub timestamp: DateTime<Utc>,
    /// The service that handled the request.
    pub service: String,
    /// The route template, or the path.
    pub endpoint: String,
    /// The request URL, with credentials and sensitive query values masked.
    pub full_url: String,
    /// The event id; also the record key.
    pub id: Uuid,
    /// A cross-service trace id, when there is one; empty otherwise.
    pub correlation_id: String,

    // What kafka-events adds; Go consumers ignore these.
    /// The request id (`x-request-id`, or the one generated for the request).
    #[serde(default)]
    pub request_id: String,
    /// The response status code (500 when the handler failed without a response or panicked,
    /// 499 when the request was cancelled).
    #[serde(default)]
    pub status_code: u16,
    /// Time to produce the response, in milliseconds.
    #[serde(default)]
    pub duration_ms: f64,
    /// The response body of a failed request (status 400 and up), when it was JSON (sensitive
    /// fields masked).
    #[serde(default)]
    pub response_payload: Option<JsonText>,
    /// Whether a body was too large to record (`payload`/`response_payload` left empty), not
    /// valid JSON, or nested deeper than 120 levels of arrays and objects.
    #[serde(default)]
    pub payload_truncated: bool,
    /// How the request ended: answered, its handler panicked, or it was cancelled.
    #[serde(default)]
    pub outcome: RequestOutcome,
    /// No identity was known for the request: `subject`, `tenant_id` and `jti` are empty
    /// because the caller is anonymous, not because the identity was lost.
    #[serde(default)]
    pub anonymous: bool,
    /// The fields the client controls that were cut short so the entry fits a record (their
    /// JSON names: `http_method`, `resource`, `endpoint`, `full_url`, `user_agent`). Left out
    /// of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<String>,
    /// Set when this entry stands in for the request's full entry, which the producer refused
    /// (larger than the broker takes, say): why. It keeps the method, route, status, outcome,
    /// duration, caller and ids. Left out of the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimal: Option<String>,
    /// The request's `X-Message` header (bounded), which the Go middleware sends in the
    /// envelope's `message`. Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl AuditEntry {
    /// An entry with a new id, the current time and everything else empty; fill in the rest
    /// with struct update syntax: `AuditEntry { http_method: "GET".into(), ..AuditEntry::new() }`.
    pub fn new() -> Self {
        AuditEntry {
            tenant_id: None,
            subject: String::new(),
            jti: None,
            http_method: String::new(),
            resource: String::new(),
            resource_id: None,
            payload: None,
            source_ip: String::new(),
            user_agent: String::new(),
            timestamp: Utc::now(),
            service: String::new(),
            endpoint: String::new(),
            full_url: String::new(),
            id: Uuid::new_v4(),
            correlation_id: String::new(),
            request_id: String::new(),
            status_code: 0,
            duration_ms: 0.0,
            response_payload: None,
            payload_truncated: false,
            outcome: RequestOutcome::Completed,
            anonymous: false,
            truncated: Vec::new(),
            minimal: None,
            message: None,
        }
    }
}

impl Default for AuditEntry {
    fn default() -> Self {
        Self::new()
    }
}

both_formats!(AuditEntry, in_envelope::deserialize);

/// [`AuditEntry`] in the `EventJson` envelope (see `event_json.rs`): what it puts in the envelope's
/// fields, the payload keys of the Go middleware's event type, and reading them back.
mod in_envelope {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serialize};
    use uuid::Uuid;

    use super::super::event_json::{nonzero, parse_uuid, read_either, text, uuid_text};
    use super::super::json::JsonText;
    use super::super::wire::uuid_or_zero;
    use super::{AuditEntry, RequestOutcome};
    use crate::envelope::{self, EnvelopeFields};

    /// `audit.log`'s payload. Go's keys: `endpoint`, `full_url`, `http_method`, `jti`, `payload`,
    /// `resource`, `response_payload`, `source_ip`, `status_code`, `subject`, `user_agent`.
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    struct AuditLog<'a> {
        anonymous: bool,
        correlation_id: Cow<'a, str>,
        duration_ms: f64,
        endpoint: Cow<'a, str>,
        full_url: Cow<'a, str>,
        http_method: Cow<'a, str>,
        jti: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        minimal: Option<Cow<'a, str>>,
        outcome: RequestOutcome,
        payload: Option<Cow<'a, JsonText>>,
        payload_truncated: bool,
        request_id: Cow<'a, str>,
        resource: Cow<'a, str>,
        #[serde(with = "uuid_or_zero")]
        resource_id: Option<Uuid>,
        response_payload: Option<Cow<'a, JsonText>>,
        service: Cow<'a, str>,
        source_ip: Cow<'a, str>,
        status_code: u16,
        subject: Cow<'a, str>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        truncated: Cow<'a, [String]>,
        user_agent: Cow<'a, str>,
    }

    pub fn fields(entry: &AuditEntry) -> EnvelopeFields<'_> {
        EnvelopeFields {
            id: Some(entry.id),
            tenant_id: entry.tenant_id,
            request_id: Uuid::parse_str(&entry.request_id).ok(),
            timestamp: Some(entry.timestamp),
            message: entry.message.as_deref(),
            ..EnvelopeFields::default()
        }
    }

    pub fn write_payload(entry: &AuditEntry, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let payload = AuditLog {
            anonymous: entry.anonymous,
            correlation_id: text(&entry.correlation_id),
            duration_ms: entry.duration_ms,
            endpoint: text(&entry.endpoint),
            full_url: text(&entry.full_url),
            http_method: text(&entry.http_method),
            jti: uuid_text(entry.jti),
            minimal: entry.minimal.as_deref().map(text),
            outcome: entry.outcome,
            payload: entry.payload.as_ref().map(Cow::Borrowed),
            payload_truncated: entry.payload_truncated,
            request_id: text(&entry.request_id),
            resource: text(&entry.resource),
            resource_id: entry.resource_id,
            response_payload: entry.response_payload.as_ref().map(Cow::Borrowed),
            service: text(&entry.service),
            source_ip: text(&entry.source_ip),
            status_code: entry.status_code,
            subject: text(&entry.subject),
            truncated: Cow::Borrowed(&entry.truncated),
            user_agent: text(&entry.user_agent),
        };
        serde_json::to_writer(out, &payload)
    }

    fn read(head: envelope::EventJson, log: AuditLog<'static>) -> Option<AuditEntry> {
        let request_id = match (log.request_id.is_empty(), nonzero(head.request_id)) {
            (true, Some(id)) => id.to_string(),
            _ => log.request_id.into_owned(),
        };
        Some(AuditEntry {
            tenant_id: nonzero(head.tenant_id),
            subject: log.subject.into_owned(),
            jti: parse_uuid(&log.jti),
            http_method: log.http_method.into_owned(),
            resource: log.resource.into_owned(),
            resource_id: log.resource_id,
            payload: log.payload.map(Cow::into_owned),
            source_ip: log.source_ip.into_owned(),
            user_agent: log.user_agent.into_owned(),
            timestamp: head.timestamp,
            service: log.service.into_owned(),
            endpoint: log.endpoint.into_owned(),
            full_url: log.full_url.into_owned(),
            id: head.id,
            correlation_id: log.correlation_id.into_owned(),
            request_id,
            status_code: log.status_code,
            duration_ms: log.duration_ms,
            response_payload: log.response_payload.map(Cow::into_owned),
            payload_truncated: log.payload_truncated,
            outcome: log.outcome,
            anonymous: log.anonymous,
            truncated: log.truncated.into_owned(),
            minimal: log.minimal.map(Cow::into_owned),
            message: head.message,
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AuditEntry, D::Error> {
        read_either(deserializer, AuditEntry::deserialize, &["audit.log"], read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ZERO: &str = "00000000-0000-0000-0000-000000000000";

    #[test]
    fn unknown_uuids_are_written_and_read_as_go_writes_them() {
        let entry = AuditEntry::new();
        let json = serde_json::to_value(&entry).unwrap();
        for field in ["tenant_id", "jti", "resource_id"] {
            assert_eq!(json[field], ZERO, "{field}");
        }
        for unknown in [json!(ZERO), json!(null), json!("")] {
            let mut written = json.clone();
            written["tenant_id"] = unknown;
            let read: AuditEntry = serde_json::from_value(written).unwrap();
            assert_eq!(read.tenant_id, None);
        }
        let tenant = Uuid::new_v4();
        let mut written = json;
        written["tenant_id"] = json!(tenant.to_string().to_uppercase());
        let read: AuditEntry = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(read.tenant_id, Some(tenant));
        written["tenant_id"] = json!("not-a-uuid");
        assert!(serde_json::from_value::<AuditEntry>(written).is_err());
    }
}
