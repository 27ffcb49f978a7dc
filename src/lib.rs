//! Typed audit, authentication and usage events for Apache Kafka, checked at compile time.
//!
//! `#[derive(KafkaEvent)]` turns a serde struct into a Kafka event with a fixed topic and key,
//! and refuses to compile when the event would break what its consumers rely on: a topic name
//! Kafka rejects, a key field that is missing, skipped or optional, JSON field names that break
//! the naming convention or collide, a field that looks like a secret. Sending never slows the
//! request that caused it and loses nothing it accepted: [`emit_detached`](KafkaEvent::emit_detached)
//! hands the record to a bounded pipeline (with a durable spool, when you configure one) and
//! returns at once, and
//! [`emit`](KafkaEvent::emit) waits for the broker's acknowledgement when the caller needs it.
//! The ready-made [`AuditEntry`], [`AuthEvent`] and [`UsageEvent`] write exactly the JSON the Go
//! services on the same topics write, and the [`middleware`] layers emit them for every HTTP
//! request of an axum, tonic or hyper service.
//!
//! # Start
//!
//! ```toml
//! [dependencies]
//! kafka-events = "0.1"
//! serde = { version = "1", features = ["derive"] }
//!
//! [dev-dependencies]
//! kafka-events = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use kafka_events::{KafkaConfig, KafkaEvent, KafkaProducer, MemoryProducer};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, KafkaEvent)]
//! #[event(topic = "orders", key = "order_id", type = "order.placed")]
//! struct OrderPlaced {
//!     order_id: u64,
//!     customer: String,
//!     total_cents: i64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: a KafkaProducer, configured in code, from a file or from the environment.
//! # if false {
//! let producer = KafkaProducer::new(&KafkaConfig::from_env()?)?;
//! # }
//! // In tests: a MemoryProducer keeps every record.
//! let producer = MemoryProducer::new();
//!
//! let order = OrderPlaced { order_id: 42, customer: "alice".into(), total_cents: 1999 };
//! order.emit_detached(&producer)?; // returns at once; never waits for the broker
//! let delivery = order.emit(&producer).await?; // waits for the acknowledgement
//! assert_eq!(delivery.topic, "orders");
//!
//! let sent: Vec<OrderPlaced> = producer.events()?;
//! assert_eq!(sent.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # The parts
//!
//! - **Events.** [`macro@KafkaEvent`] (the derive: its attributes and what it checks) implements
//!   the [`KafkaEvent`] trait: [`emit`](KafkaEvent::emit), [`emit_detached`](KafkaEvent::emit_detached),
//!   the topic, the key ([`EventKey`]: UUIDs, integers, strings), the `event-type` header.
//! - **Producers.** [`Producer`] is the object-safe trait (`Arc<dyn Producer>` works).
//!   [`KafkaProducer`] sends to Kafka through librdkafka with `acks=all` and idempotence, built
//!   from a [`KafkaConfig`] (serde-loadable, or [`KafkaConfig::from_env`]); its delivery
//!   guarantees, the [`SpoolConfig`] that keeps undelivered records on disk, the
//!   [`OverflowPolicy`] and [`KafkaProducer::close`](Producer::close) are on its page.
//!   [`MemoryProducer`] keeps records in memory for your tests.
//! - **Secured clusters.** [`SecurityConfig`]: TLS ([`TlsConfig`]) and SASL ([`SaslConfig`]: PLAIN,
//!   SCRAM-SHA-256/512, OAUTHBEARER with your [`TokenProvider`]). Secrets are [`Secret`]s and never
//!   show in `Debug`, errors or logs.
//! - **Models.** [`AuditEntry`], [`AuthEvent`] (with [`AuthEventType`]) and [`UsageEvent`], the Go
//!   services' wire format, field for field ([`models`]).
//! - **HTTP middleware.** [`middleware::AuditLayer`] and [`middleware::UsageLayer`]: an audit
//!   entry and a usage event for every request, bodies captured and masked, nothing on the
//!   request's path but a copy.
//! - **Tests.** [`MemoryProducer`] (`events::<T>()` picks each event type out of a shared topic),
//!   and with the `testing` feature the `testing` module: an embedded Kafka-protocol broker on
//!   127.0.0.1 (librdkafka's mock cluster), with outages and injected errors, and readers that
//!   consume a topic back.
//! - **Contracts** (feature `schema`). `contract`: each event's JSON Schema exactly as its records
//!   are written, a contract file per event committed with the code, `contract::verify` in your
//!   tests to refuse breaking changes (`order.placed: field total_cents: integer → string`), and
//!   an AsyncAPI 3.0 document for other teams.
//! - **Errors.** [`ConfigError`] when a configuration is wrong (it names the field),
//!   [`EmitError`] when a send fails (one variant per thing a caller can act on),
//!   [`CloseError`] when `close` hands records back.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `middleware` | yes | the tower layers in [`middleware`] (any tower HTTP stack) |
//! | `axum` | no | the layers read axum's `MatchedPath` (route templates) and `ConnectInfo` (peer address); [`middleware::AuditContext`] is an extractor |
//! | `testing` | no | the `testing` module: the embedded broker and topic readers (enable it in `[dev-dependencies]`) |
//! | `ssl` | no | TLS, SASL SCRAM and OAUTHBEARER: librdkafka built with the system's OpenSSL (Debian: `libssl-dev`, `pkg-config`) |
//! | `ssl-vendored` | no | the same with OpenSSL built from source |
//! | `outbox-postgres` | no | the transactional outbox on PostgreSQL (sqlx 0.8): `outbox` |
//! | `outbox-sqlite` | no | the transactional outbox on SQLite (sqlx 0.8, SQLite bundled): `outbox` |
//! | `schema` | no | `contract`: each event's JSON Schema, committed contract files checked for breaking changes in your tests (and, with `#[event(contract = "..")]`, at compile time), AsyncAPI documents |
//!
//! The default build needs a C compiler and no system library: librdkafka is built from source
//! by the `rdkafka` crate.
//!
//! This crate re-exports the [`chrono`], [`uuid`] and [`serde_json`] its public types use, so
//! your code can name the same versions.
//!
//! The [README](https://github.com/kafka-events/kafka-events#readme) has the longer tour: the
//! delivery guarantees and the fault matrix behind them, the Go interop, the benchmarks.

#![warn(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use kafka_events_runtime::*;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
