//! Runtime of [`kafka-events`](https://docs.rs/kafka-events): the [`KafkaEvent`] trait the derive
//! implements, the object-safe [`Producer`] trait, the rdkafka backend [`KafkaProducer`], the
//! in-memory [`MemoryProducer`] for tests, the embedded broker in `testing` (feature `testing`), and ready-made
//! [`models`]. Depend on `kafka-events`, which re-exports all of it.

#![warn(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub mod contract;
mod encode;
pub mod envelope;
mod error;
mod event;
mod flow;
mod gate;
mod json;
mod kafka;
mod key;
mod memory;
mod message;
// OpenTelemetry: `otel/` with the feature, its no-op twin `otel/off.rs` without.
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub mod middleware;
pub mod models;
#[cfg_attr(not(feature = "otel"), path = "otel/off.rs")]
mod otel;
#[cfg(any(feature = "outbox-postgres", feature = "outbox-sqlite"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "outbox-postgres", feature = "outbox-sqlite")))
)]
pub mod outbox;
mod producer;
mod redact;
mod rfc3339;
mod secret;
mod spool;
mod stats;
mod striped;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod topic;

pub use error::{CloseError, CloseReport, ConfigError, EmitError, SpoolError};
pub use event::{KafkaEvent, masked_json};
pub use kafka::{
    KafkaConfig, KafkaProducer, OAuthToken, OverflowPolicy, Partitioner, PemSource, SaslConfig,
    SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig, TokenProvider,
};
pub use kafka_events_macros::KafkaEvent;
pub use key::{EventKey, Key};
pub use memory::{MemoryProducer, WaitTimeout};
pub use message::{Delivery, Header, Message, MessageRef, Record, headers};
pub use models::{AuditEntry, AuthEvent, AuthEventType, RequestOutcome, UsageEvent, UsageStatus};
pub use producer::{CloseFuture, Producer, SendFuture};
pub use secret::Secret;
pub use spool::{Durability, FsyncPolicy, QuarantinedRecord, SpoolConfig, SpoolRecovery};
pub use stats::{DeliveryStats, DroppedBy};

/// The `chrono` this crate's models use (`DateTime<Utc>` timestamps).
pub use chrono;
/// The `serde_json` this crate serializes with.
pub use serde_json;
/// The `uuid` this crate's models use (event ids, tenants).
pub use uuid;

/// What generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::envelope::EnvelopeFields;
    pub use crate::event::KafkaEvent;
    pub use crate::key::{EventKey, Key};
    /// What `#[event(fast_json)]` generates calls.
    pub mod json {
        pub use crate::json::{Field, ViaSerde, ViaWriteJson, WriteJson, serialize_with};
    }
    pub use ::core::convert::AsRef;
    pub use ::core::option::Option::{self, None, Some};
    pub use ::core::result::Result;
    pub use ::serde::Serialize;
    pub use ::serde_json::Error as JsonError;
    pub use ::std::vec::Vec;
}
