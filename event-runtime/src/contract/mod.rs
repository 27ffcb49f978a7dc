//! Event contracts (feature `schema`): the JSON Schema of every event exactly as its records are
//! written, a contract file per event committed with the code and checked for changes that break
//! its consumers, and an AsyncAPI document for other teams.
//!
//! - [`schema_for`]: an event's JSON Schema (draft 2020-12), from `schemars` in its serialize
//!   mode and what the derive knows (a struct's `tag`, redacted fields).
//! - [`Contract`]: the schema with the event's topic, key and event types, as committed;
//!   [`Contract::changes_since`] lists every [`Change`], breaking or compatible for consumers
//!   that decode as the [`Mode`] says (by default, as the Go services do).
//! - [`verify`] (or [`Contracts`] for another directory or mode): in a test, fails on a breaking
//!   change with one line per change; `KAFKA_EVENTS_CONTRACTS=overwrite cargo test` rewrites the
//!   files on purpose. With `#[event(contract = "contracts/orders/order.placed.json")]` the
//!   derive also refuses, at compile time, a struct that no longer writes a field the committed
//!   file has.
//! - [`models`]: the committed contracts of [`AuditEntry`](crate::AuditEntry),
//!   [`AuthEvent`](crate::AuthEvent) and [`UsageEvent`](crate::UsageEvent).
//! - [`AsyncApi`]: an AsyncAPI 3.0 document for a set of events, as JSON or YAML.
//!
//! ```
//! use kafka_events::KafkaEvent;
//! use kafka_events::contract::{Contract, Mode};
//! use schemars::JsonSchema;
//! use serde::Serialize;
//!
//! mod v1 {
//!     #[derive(serde::Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
//!     #[event(topic = "orders", key = "order_id", type = "order.placed")]
//!     pub struct OrderPlaced { pub order_id: u64, pub total_cents: i64, pub coupon: String }
//! }
//! mod v2 {
//!     #[derive(serde::Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
//!     #[event(topic = "orders", key = "order_id", type = "order.placed")]
//!     pub struct OrderPlaced { pub order_id: u64, pub total_cents: String, pub note: String }
//! }
//!
//! let committed = Contract::of::<v1::OrderPlaced>()?;
//! let changes = Contract::of::<v2::OrderPlaced>()?.changes_since(&committed, Mode::Go);
//! let lines: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
//! assert_eq!(lines, [
//!     "order.placed: field coupon renamed to note",
//!     "order.placed: field total_cents: integer → string",
//! ]);
//! # Ok::<(), kafka_events::contract::SchemaError>(())
//! ```

mod asyncapi;
mod change;
mod diff;
mod error;
mod file;
mod schema;
mod shape;
#[cfg(test)]
mod tests;
mod verify;

pub use asyncapi::AsyncApi;
pub use change::{Change, ChangeKind, Mode};
pub use error::{AsyncApiError, ContractError, SchemaError};
pub use file::{Contract, models};
pub use schema::schema_for;
pub use verify::{Contracts, Outcome, Verified, verify};

/// The `schemars` this module reads schemas with: derive `schemars::JsonSchema` on your events
/// (with `schemars = "1"` in your dependencies, or
/// `#[schemars(crate = "kafka_events::contract::schemars")]`).
pub use schemars;
