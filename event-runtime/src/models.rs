//! Ready-made events that write what the Go services' structs read, and read what they write:
//! [`AuditEntry`] and [`AuthEvent`] on the logical topic `audit`, [`UsageEvent`] (the Go
//! `UsageEntry`) on `usage`. Each is keyed by its `id`; timestamps are RFC 3339 in UTC.
//!
//! The wire format follows Go's `encoding/json`: every Go field is written, with the JSON type
//! Go reads; a UUID is always a UUID string, the zero UUID when unknown (an `Option<Uuid>` that
//! is `None` is written as `"00000000-0000-0000-0000-000000000000"`, and read back from it, from
//! `null` and from `""`); a `time.Time` that Go leaves zero is an `Option<DateTime<Utc>>` here.
//! Fields this crate adds come after the Go ones; Go consumers ignore them, and they are
//! optional when read, so a Rust consumer reads events Go services produced.
//!
//! ```
//! use kafka_events::{AuthEvent, KafkaEvent};
//!
//! let event = AuthEvent::login_failure("accounts", "alice@example.com", "bad password");
//! let json = serde_json::to_value(&event).unwrap();
//! assert_eq!(json["type"], "login.failure");
//! assert_eq!(event.event_type(), Some("login.failure"));
//! assert_eq!(event.key().as_ref(), event.id.to_string().as_bytes());
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::KafkaEvent;

/// RFC 3339 in UTC exactly as chrono's `Serialize` writes it (`SecondsFormat::AutoSi`, `Z`),
/// without going through `fmt`: timestamps are a large part of an event's serialization cost.
mod rfc3339 {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        let year = at.year();
        if !(0..=9999).contains(&year) {
            return serde::Serialize::serialize(at, serializer);
        }
        // A leap second shows as nanos past 1e9, as chrono writes it.
        let nanos = at.nanosecond();
        let mut buf = [0u8; 30];
        let mut put = |at: usize, value: u32, width: usize| {
            let mut value = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year as u32, 4);
        put(5, at.month(), 2);
        put(8, at.day(), 2);
        put(11, at.hour(), 2);
        put(14, at.minute(), 2);
        put(17, at.second() + nanos / 1_000_000_000, 2);
        let fraction = nanos % 1_000_000_000;
        let digits = if fraction == 0 {
            0
        } else if fraction.is_multiple_of(1_000_000) {
            3
        } else if fraction.is_multiple_of(1_000) {
            6
        } else {
            9
        };
        if digits > 0 {
            put(20, fraction / 10u32.pow(9 - digits as u32), digits);
        }
        for (i, b) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ] {
            buf[i] = b;
        }
        let end = if digits > 0 { 20 + digits } else { 19 };
        buf[end] = b'Z';
        let text = std::str::from_utf8(&buf[..=end]).expect("ASCII");
        serializer.serialize_str(text)
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, TimeZone, Utc};
        use proptest::prelude::*;

        #[derive(serde::Serialize)]
        struct Fast(#[serde(serialize_with = "super::serialize")] DateTime<Utc>);

        proptest! {
            #[test]
            fn writes_what_chrono_writes(secs in -62_135_596_800i64..253_402_300_799, nanos in prop_oneof![
                Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000), (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..1_999_999_999
            ]) {
                let Some(at) = Utc.timestamp_opt(secs, nanos).single() else { return Ok(()) };
                let ours = serde_json::to_string(&Fast(at)).unwrap();
                let chrono = serde_json::to_string(&at).unwrap();
                prop_assert_eq!(ours, chrono);
            }
        }

        #[test]
        fn outside_four_digit_years_falls_back() {
            let far = DateTime::<Utc>::from_timestamp(300_000_000_000, 0).unwrap();
            assert_eq!(
                serde_json::to_string(&Fast(far)).unwrap(),
                serde_json::to_string(&far).unwrap()
            );
        }
    }
}

/// `Option<Uuid>` as Go's `uuid.UUID`: `None` is the zero UUID; the zero UUID, `null` and `""`
/// read as `None`.
mod uuid_or_zero {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(id: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        id.unwrap_or(Uuid::nil()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Uuid>, D::Error> {
        let text: Option<std::borrow::Cow<'de, str>> = Option::deserialize(deserializer)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => {
                let id = Uuid::parse_str(text).map_err(serde::de::Error::custom)?;
                Ok((!id.is_nil()).then_some(id))
            }
        }
    }
}

/// `Option<DateTime<Utc>>` as Go's `time.Time`: `None` is Go's zero time,
/// `0001-01-01T00:00:00Z`, which reads back as `None` (as does `null`).
mod time_or_zero {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const ZERO: &str = "0001-01-01T00:00:00Z";

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::rfc3339::serialize(at, serializer),
            None => serializer.serialize_str(ZERO),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let at: Option<DateTime<Utc>> = Option::deserialize(deserializer)?;
        Ok(at.filter(|at| at.timestamp() != zero().timestamp()))
    }

    fn zero() -> DateTime<Utc> {
        ZERO.parse().expect("Go's zero time parses")
    }
}

/// JSON kept as text: a request or response body goes into an event as the (masked) text it
/// was, without being parsed into a tree and written out again. Compare it with `==`, with
/// another `JsonText` or a [`serde_json::Value`] (by value, not by spelling).
///
/// ```
/// use kafka_events::models::JsonText;
/// use serde_json::json;
///
/// let text = JsonText::from_string(r#"{"qty": 2}"#.to_owned()).unwrap();
/// assert_eq!(text, json!({"qty": 2}));
/// assert_eq!(text.as_str(), r#"{"qty": 2}"#);
/// assert_eq!(JsonText::from(json!([1, 2])).to_value(), json!([1, 2]));
/// ```
#[derive(Clone)]
pub struct JsonText(Box<serde_json::value::RawValue>);

impl JsonText {
    /// Takes `text` if it is one valid JSON value.
    pub fn from_string(text: String) -> Result<JsonText, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(JsonText)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("JsonText holds valid JSON")
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText(serde_json::value::to_raw_value(&value).expect("a Value is valid JSON"))
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl PartialEq<serde_json::Value> for JsonText {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_value() == *other
    }
}

impl std::fmt::Debug for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    /// From any deserializer (JSON text keeps its spelling only through `serde_json`'s own).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(JsonText::from)
    }
}

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
#[event(crate = "crate", topic = "audit", key = "id", type = "audit.log")]
pub struct AuditEntry {
    /// The caller's tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    pub tenant_id: Option<Uuid>,
    /// The caller (JWT `sub`); empty when anonymous.
    pub subject: String,
    /// The token id (JWT `jti`), when known.
    #[serde(with = "uuid_or_zero")]
    pub jti: Option<Uuid>,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The first segment of the route (`/users/{id}` → `users`).
    pub resource: String,
    /// The resource the request is about, when the service says so.
    #[serde(with = "uuid_or_zero")]
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
        }
    }
}

impl Default for AuditEntry {
    fn default() -> Self {
        Self::new()
    }
}

/// What an [`AuthEvent`] records; serialized as its wire name and sent as the event type.
///
/// ```
/// use kafka_events::{AuthEvent, AuthEventType, KafkaEvent};
///
/// let denied = AuthEvent::authz_denied("billing-api", "mallory", "not an admin");
/// assert_eq!(denied.r#type, AuthEventType::AuthzDenied);
/// assert_eq!(denied.event_type(), Some("authz.denied")); // the `event-type` header
/// assert_eq!(serde_json::to_value(&denied)?["type"], "authz.denied");
/// // `MemoryProducer::events::<AuthEvent>()` picks out records with these types.
/// assert_eq!(AuthEventType::ALL.map(AuthEventType::as_str), AuthEvent::EVENT_TYPES);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthEventType {
    /// `login.success`
    #[serde(rename = "login.success")]
    LoginSuccess,
    /// `login.failure`
    #[serde(rename = "login.failure")]
    LoginFailure,
    /// `authz.denied`: an authenticated caller may not do what it asked.
    #[serde(rename = "authz.denied")]
    AuthzDenied,
    /// `authz.error`: the authorization check itself failed (policy engine down, ...).
    #[serde(rename = "authz.error")]
    AuthzError,
}

impl AuthEventType {
    /// Every type, in the order above.
    pub const ALL: [AuthEventType; 4] = [
        AuthEventType::LoginSuccess,
        AuthEventType::LoginFailure,
        AuthEventType::AuthzDenied,
        AuthEventType::AuthzError,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthEventType::LoginSuccess => "login.success",
            AuthEventType::LoginFailure => "login.failure",
            AuthEventType::AuthzDenied => "authz.denied",
            AuthEventType::AuthzError => "authz.error",
        }
    }
}

impl AsRef<str> for AuthEventType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A login attempt or an authorization decision (the Go package's `AuthEvent`).
///
/// ```
/// use kafka_events::{AuthEvent, AuthEventType, KafkaEvent, MemoryProducer};
///
/// let producer = MemoryProducer::new();
/// AuthEvent::login_success("accounts", "ann").emit_detached(&producer)?;
/// AuthEvent::login_failure("accounts", "mallory", "bad password").emit_detached(&producer)?;
///
/// let events = producer.events::<AuthEvent>()?;
/// assert_eq!(events[1].r#type, AuthEventType::LoginFailure);
/// // The type is the `event-type` header, as Go consumers route on it.
/// assert_eq!(producer.records()[1].header("event-type"), Some(&b"login.failure"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(
    crate = "crate",
    topic = "audit",
    key = "id",
    types = ["login.success", "login.failure", "authz.denied", "authz.error"]
)]
pub struct AuthEvent {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The service that authenticated or authorized.
    pub service_name: String,
    /// What happened; also the event type header.
    #[event(type)]
    pub r#type: AuthEventType,
    /// Who tried.
    pub subject: String,
    /// The tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    pub tenant_id: Option<Uuid>,
    /// Why it failed or was denied; empty on success.
    pub error: String,
    /// The request path.
    pub path: String,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The client address.
    pub remote_addr: String,
    /// When it happened.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub timestamp: DateTime<Utc>,
}

impl AuthEvent {
    /// An event of this type, with a new id and the current time.
    pub fn new(r#type: AuthEventType, service_name: &str, subject: &str, error: &str) -> Self {
        AuthEvent {
            id: Uuid::new_v4(),
            service_name: service_name.to_owned(),
            r#type,
            subject: subject.to_owned(),
            tenant_id: None,
            error: error.to_owned(),
            path: String::new(),
            user_agent: String::new(),
            remote_addr: String::new(),
            timestamp: Utc::now(),
        }
    }

    /// A successful login by `subject`.
    pub fn login_success(service_name: &str, subject: &str) -> Self {
        Self::new(AuthEventType::LoginSuccess, service_name, subject, "")
    }

    /// A failed login by `subject`, with the reason.
    pub fn login_failure(service_name: &str, subject: &str, error: &str) -> Self {
        Self::new(AuthEventType::LoginFailure, service_name, subject, error)
    }

    /// `subject` was denied what it asked for, and why.
    pub fn authz_denied(service_name: &str, subject: &str, reason: &str) -> Self {
        Self::new(AuthEventType::AuthzDenied, service_name, subject, reason)
    }

    /// Deciding whether `subject` may do what it asked failed, and why.
    pub fn authz_error(service_name: &str, subject: &str, error: &str) -> Self {
        Self::new(AuthEventType::AuthzError, service_name, subject, error)
    }
}

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
#[event(crate = "crate", topic = "usage", key = "id", type = "usage.record")]
pub struct UsageEvent {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The caller's tenant, when known (the zero UUID on the wire otherwise).
    #[serde(with = "uuid_or_zero")]
    pub tenant_id: Option<Uuid>,
    /// The `X-Owner-ID` header, when sent.
    pub owner_id: Option<String>,
    /// The product billed, from the service's configuration.
    #[serde(with = "uuid_or_zero")]
    pub product_id: Option<Uuid>,
    /// The memory the service is billed for, from its configuration.
    pub memory_mb: i16,
    /// When handling started.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub start_timestamp: DateTime<Utc>,
    /// When handling ended. The Go services misspell this field's wire name, and their
    /// consumers read that name, so it is written as `end_timestmap`.
    #[serde(rename = "end_timestmap", serialize_with = "rfc3339::serialize")]
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
    /// When the event was made.
    #[serde(default = "Utc::now", serialize_with = "rfc3339::serialize")]
    pub timestamp: DateTime<Utc>,
}

impl UsageEvent {
    /// A usage record for `service` spanning `start..end`, with status `draft` and the
    /// middleware's metadata for an anonymous caller.
    pub fn new(service: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
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
            metadata: Some(usage_metadata("", service)),
            tags: None,
            created_at: None,
            created_by: String::new(),
            service: service.to_owned(),
            subject: String::new(),
            endpoint: String::new(),
            duration_ms: (end - start).num_milliseconds().max(0) as u64,
            message: None,
            outcome: RequestOutcome::Completed,
            timestamp: Utc::now(),
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
