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

#[macro_use]
mod event_json;
mod audit;
mod auth;
mod json;
mod usage;
mod wire;

pub use audit::{AuditEntry, RequestOutcome};
pub use auth::{AuthEvent, AuthEventType};
pub use json::JsonText;
pub(crate) use usage::usage_metadata;
pub use usage::{UsageEvent, UsageStatus};
