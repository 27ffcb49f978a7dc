//! [`AuthEvent`]: a login or authorization decision, and [`AuthEventType`], which one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::wire::{rfc3339, uuid_or_zero};
use kafka_events_macros::KafkaEvent;

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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[event(
    crate = "crate",
    topic = "audit",
    key = "id",
    types = ["login.success", "login.failure", "authz.denied", "authz.error"],
    contract = "contracts/audit/auth.json"
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
    #[cfg_attr(feature = "schema", schemars(with = "Uuid"))]
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
