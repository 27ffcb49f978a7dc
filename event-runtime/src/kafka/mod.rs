//! The rdkafka backend: [`KafkaConfig`] and [`KafkaProducer`].
//!
//! ```
//! use kafka_events::{KafkaConfig, KafkaProducer, ConfigError};
//!
//! // Loads from TOML, JSON or the environment through serde; unknown keys are errors.
//! let config: KafkaConfig = serde_json::from_str(r#"{
//!     "brokers": ["127.0.0.1:9092"],
//!     "client_id": "billing-api",
//!     "topics": { "audit": "ds.core.config.compliance.1.0.0", "usage": "ds.core.config.billing.1.0.0" },
//!     "properties": { "linger.ms": "10" }
//! }"#)?;
//! let producer = KafkaProducer::new(&config)?;
//!
//! // Mistakes are typed errors that name the field.
//! let bad = KafkaConfig::new(["localhost"]);
//! assert!(matches!(KafkaProducer::new(&bad), Err(ConfigError::InvalidBroker { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Inside, a record's life is one file per step, each entered once, forward:
//!
//! - [`producer`]: the public face; it hands each job to the file that does it;
//! - [`send`] (an awaited `emit`) and [`detached`] (`emit_detached`) resolve the topic, check
//!   the size ([`outcome`]), ask [`fate`] where the record goes, and hand it to librdkafka as
//!   [`record`] builds it;
//! - [`classify`] reads what librdkafka says about a record, whether it refused it at once or
//!   failed it later; [`fate`] decides what happens to it, from that and the producer's state;
//! - [`delivery`] receives librdkafka's reports and carries out each record's fate, with
//!   [`apply`] (to the spool, the quarantine, back to `close`, or dropped);
//! - [`watch`] probes for brokers in an outage and replays spooled records;
//! - [`outcome`] says what the caller is told; [`shutdown`] is `close` and `Drop`;
//! - [`build`] makes the clients from the [`config`] (and [`security`]); [`pipeline`] is what
//!   every send needs, [`shared`] the state shared with librdkafka's callbacks ([`waiters`],
//!   [`refusal`], [`missing`] topics); [`reaper`] drops the clients a callback on their own
//!   thread may hold last.

mod apply;
mod build;
mod classify;
mod clients;
mod cloudevents;
mod config;
mod delivery;
mod detached;
mod fate;
mod held;
mod missing;
mod outcome;
mod pipeline;
mod producer;
mod reaper;
mod record;
mod refusal;
mod security;
mod send;
mod shared;
mod shutdown;
mod waiters;
mod watch;

pub use config::{KafkaConfig, OverflowPolicy, Partitioner};
pub use producer::KafkaProducer;
pub use security::{
    OAuthToken, PemSource, SaslConfig, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig,
    TokenProvider,
};
