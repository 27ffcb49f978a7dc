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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[event(
    crate = "crate",
    topic = "audit",
    key = "id",
    type = "audit.log",
    contract = "contracts/audit/audit.log.json"
)]
pub struct AuditEntry {
    /// The caller's tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub tenant_id: Option<Uuid>,
    /// The caller (JWT `sub`); empty when anonymous.
    pub subject: String,
    /// The token id (JWT `jti`), when known.
    #[serde(with = "uuid_or_zero")]
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
    pub jti: Option<Uuid>,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The first segment of the route (`/users/{id}` → `users`).
    pub resource: String,
    /// The resource the request is about, when the service says so.
    #[serde(with = "uuid_or_zero")]
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
    /// Whether a body was too large to record (`payload`/`response_payload` left empty) or not
    /// valid JSON.
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
        }
    }
}

impl Default for AuditEntry {
    fn default() -> Self {
        Self::new()
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
