//! Ready-made events with exactly the JSON field names the Go services send: [`AuditEntry`] and
//! [`AuthEvent`] on the logical topic `audit`, [`UsageEvent`] on `usage`. Each is keyed by its
//! `id`; timestamps are RFC 3339 in UTC.
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

/// One audited request (the Go middleware's `AuditEntry`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(crate = "crate", topic = "audit", key = "id", type = "audit.log")]
pub struct AuditEntry {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The caller's tenant, when known.
    pub tenant_id: Option<Uuid>,
    /// The caller (JWT `sub`); empty when anonymous.
    pub subject: String,
    /// The token id (JWT `jti`); empty when anonymous.
    pub jti: String,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The first segment of the route (`/users/{id}` → `users`).
    pub resource: String,
    /// When the request was handled.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub timestamp: DateTime<Utc>,
    /// The peer address.
    pub source_ip: String,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The service that handled the request.
    pub service: String,
    /// The route template, or the path.
    pub endpoint: String,
    /// The request URL.
    pub full_url: String,
    /// The request body, when it was JSON (sensitive fields masked).
    pub payload: Option<serde_json::Value>,
    /// The request id (`x-request-id`, or the one generated for the request).
    pub request_id: String,
    /// The response status code (500 when the service failed without a response).
    pub status_code: u16,
    /// Time to produce the response, in milliseconds.
    pub duration_ms: f64,
    /// The response body of a failed request (status 400 and up), when it was JSON.
    pub response_payload: Option<serde_json::Value>,
    /// Whether a body was too large to record (`payload`/`response_payload` left empty) or not
    /// valid JSON.
    pub payload_truncated: bool,
}

impl AuditEntry {
    /// An entry with a new id, the current time and everything else empty; fill in the rest
    /// with struct update syntax: `AuditEntry { http_method: "GET".into(), ..AuditEntry::new() }`.
    pub fn new() -> Self {
        AuditEntry {
            id: Uuid::new_v4(),
            tenant_id: None,
            subject: String::new(),
            jti: String::new(),
            http_method: String::new(),
            resource: String::new(),
            timestamp: Utc::now(),
            source_ip: String::new(),
            user_agent: String::new(),
            service: String::new(),
            endpoint: String::new(),
            full_url: String::new(),
            payload: None,
            request_id: String::new(),
            status_code: 0,
            duration_ms: 0.0,
            response_payload: None,
            payload_truncated: false,
        }
    }
}

impl Default for AuditEntry {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a login succeeded; serialized as `login.success` / `login.failure` and sent as the
/// event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthEventType {
    /// `login.success`
    #[serde(rename = "login.success")]
    LoginSuccess,
    /// `login.failure`
    #[serde(rename = "login.failure")]
    LoginFailure,
}

impl AuthEventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthEventType::LoginSuccess => "login.success",
            AuthEventType::LoginFailure => "login.failure",
        }
    }
}

impl AsRef<str> for AuthEventType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A login attempt (the Go package's `AuthEvent`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(crate = "crate", topic = "audit", key = "id")]
pub struct AuthEvent {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The service that authenticated.
    pub service_name: String,
    /// `login.success` or `login.failure`; also the event type header.
    #[event(type)]
    pub r#type: AuthEventType,
    /// Who tried to log in.
    pub subject: String,
    /// The tenant, when known.
    pub tenant_id: Option<Uuid>,
    /// Why the login failed; empty on success.
    pub error: String,
    /// The request path.
    pub path: String,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The peer address.
    pub remote_addr: String,
    /// When it happened.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub timestamp: DateTime<Utc>,
}

impl AuthEvent {
    fn new(r#type: AuthEventType, service_name: &str, subject: &str, error: &str) -> Self {
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
}

/// One billable request (the Go config's `Event.Topic.Usage` stream).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KafkaEvent)]
#[event(crate = "crate", topic = "usage", key = "id", type = "usage.record")]
pub struct UsageEvent {
    /// The event id; also the record key.
    pub id: Uuid,
    /// The service that handled the request.
    pub service: String,
    /// The caller; empty when anonymous.
    pub subject: String,
    /// The caller's tenant, when known.
    pub tenant_id: Option<Uuid>,
    /// The route template, or the path.
    pub endpoint: String,
    /// When handling started.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub start_time: DateTime<Utc>,
    /// When handling ended.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub end_time: DateTime<Utc>,
    /// `end_time - start_time` in milliseconds.
    pub duration_ms: u64,
    /// The `X-Owner-ID` header, when sent.
    pub owner_id: Option<String>,
    /// The `X-Message` header, when sent.
    pub message: Option<String>,
    /// When the event was made.
    #[serde(serialize_with = "rfc3339::serialize")]
    pub timestamp: DateTime<Utc>,
}

impl UsageEvent {
    /// A usage record for `service` spanning `start_time..end_time`.
    pub fn new(service: &str, start_time: DateTime<Utc>, end_time: DateTime<Utc>) -> Self {
        UsageEvent {
            id: Uuid::new_v4(),
            service: service.to_owned(),
            subject: String::new(),
            tenant_id: None,
            endpoint: String::new(),
            start_time,
            end_time,
            duration_ms: (end_time - start_time).num_milliseconds().max(0) as u64,
            owner_id: None,
            message: None,
            timestamp: Utc::now(),
        }
    }
}
