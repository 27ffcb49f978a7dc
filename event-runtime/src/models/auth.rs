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
// The derived (de)serializers are the flat document's; the trait impls below read both formats.
#[serde(remote = "Self")]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "AuthEvent")
)]
#[event(
    crate = "crate",
    topic = "audit",
    key = "id",
    types = ["login.success", "login.failure", "authz.denied", "authz.error"],
    contract = "contracts/audit/auth.json",
    envelope_with = "in_envelope",
    fast_json
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
    #[event(write_json_with = "uuid_or_zero::write_json")]
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
    #[event(write_json_with = "rfc3339::write_json")]
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

both_formats!(AuthEvent, in_envelope::deserialize);

/// [`AuthEvent`] in the `EventJson` envelope (see `event_json.rs`): what it puts in the envelope's
/// fields, the payload keys of the Go middleware's event type, and reading them back.
mod in_envelope {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serialize};

    use super::super::event_json::{nonzero, parse_uuid, read_either, text, uuid_text};
    use super::{AuthEvent, AuthEventType};
    use crate::envelope::{self, EnvelopeFields};

    /// The auth event types' payload. Go's keys: `login.success`: `cls`, `jti`, `path`,
    /// `remote_addr`, `subject`, `tenant_id`, `user_agent`; `login.failure`: `path`, `remote_addr`,
    /// `subject`, `user_agent`; `authz.denied` and `authz.error`: `error` (string or `null`),
    /// `path`, `remote_addr`, `status_code`, `subject`, `user_agent`.
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    struct AuthPayload<'a> {
        cls: Cow<'a, str>,
        error: Option<Cow<'a, str>>,
        jti: Cow<'a, str>,
        path: Cow<'a, str>,
        remote_addr: Cow<'a, str>,
        service_name: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status_code: Option<u16>,
        subject: Cow<'a, str>,
        tenant_id: Cow<'a, str>,
        user_agent: Cow<'a, str>,
    }

    pub fn fields(event: &AuthEvent) -> EnvelopeFields<'_> {
        EnvelopeFields {
            id: Some(event.id),
            tenant_id: event.tenant_id,
            timestamp: Some(event.timestamp),
            ..EnvelopeFields::default()
        }
    }

    pub fn write_payload(event: &AuthEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        // The status the Go middleware answers with (inferred from its handlers: 403 for a
        // denial, 500 for an error while deciding).
        let status_code = match event.r#type {
            AuthEventType::AuthzDenied => Some(403),
            AuthEventType::AuthzError => Some(500),
            AuthEventType::LoginSuccess | AuthEventType::LoginFailure => None,
        };
        let payload = AuthPayload {
            cls: text(""),
            error: (!event.error.is_empty()).then(|| text(&event.error)),
            jti: text(""),
            path: text(&event.path),
            remote_addr: text(&event.remote_addr),
            service_name: text(&event.service_name),
            status_code,
            subject: text(&event.subject),
            tenant_id: uuid_text(event.tenant_id),
            user_agent: text(&event.user_agent),
        };
        serde_json::to_writer(out, &payload)
    }

    /// `None` when the envelope's type is not an auth event's.
    fn read(head: envelope::EventJson, payload: AuthPayload<'static>) -> Option<AuthEvent> {
        let r#type = AuthEventType::ALL
            .into_iter()
            .find(|t| t.as_str() == head.event_type)?;
        Some(AuthEvent {
            id: head.id,
            service_name: payload.service_name.into_owned(),
            r#type,
            subject: payload.subject.into_owned(),
            tenant_id: nonzero(head.tenant_id).or_else(|| parse_uuid(&payload.tenant_id)),
            error: payload.error.map(Cow::into_owned).unwrap_or_default(),
            path: payload.path.into_owned(),
            user_agent: payload.user_agent.into_owned(),
            remote_addr: payload.remote_addr.into_owned(),
            timestamp: head.timestamp,
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AuthEvent, D::Error> {
        let types = AuthEventType::ALL.map(AuthEventType::as_str);
        read_either(deserializer, AuthEvent::deserialize, &types, read)
    }
}
