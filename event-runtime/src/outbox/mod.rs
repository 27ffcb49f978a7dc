//! The transactional outbox (features `outbox-postgres`, `outbox-sqlite`): an event is
//! published if and only if the database transaction that caused it commits.
//!
//! A handler writes its change and [stages](Stage::stage) the event in the same sqlx
//! transaction; the row holds exactly what [`emit`](crate::KafkaEvent::emit) would send. An
//! [`OutboxRelay`] — a task in the service, or a process of its own — publishes committed rows
//! through a [`Producer`](crate::Producer) and deletes each once the broker acknowledged it.
//!
//! - **Atomic**: rolled back, the row is gone and nothing is sent; committed, it is published,
//!   whatever happens to the process in between.
//! - **At least once**: a crash between the acknowledgement and the delete sends the rows of
//!   that batch again, with the same id in the [`ID_HEADER`]; consumers deduplicate on it, as
//!   Debezium's do. Nothing else is ever sent twice.
//! - **Commit order per key**: one key's rows reach its partition in the order their
//!   transactions committed; a relay sends a key's next row once the broker acknowledged the
//!   one before. A transaction that commits late is published when it commits, never skipped
//!   ([`postgres`] says how).
//! - **One relay at a time** per table (an advisory lock on PostgreSQL, a lock file on
//!   SQLite); others wait and take over.
//! - **Dead letters**: a row Kafka refuses for good (too large, not authorized, a topic the
//!   producer does not map) moves to `kafka_outbox_dead_letters` with its reason, is counted and
//!   logged once, and the rows behind it go on.
//! - **Outages**: rows stay; the relay retries after growing pauses (100 ms doubling up to
//!   [`max_backoff`](OutboxRelay::max_backoff)), never spinning.
//!
//! The schema's columns include Debezium's outbox columns (`id`, `aggregatetype`,
//! `aggregateid`, `type`, `payload`), so a team can switch to its outbox event router without
//! rewriting rows. [`postgres::SCHEMA`] and [`sqlite::SCHEMA`] describe them.
//!
//! The sqlx this module takes transactions from is [`sqlx`] (re-exported): 0.8.
//!
//! ```
//! # #[cfg(feature = "outbox-sqlite")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use kafka_events::testing::{EmbeddedKafka, read_topic};
//! use kafka_events::{KafkaEvent, KafkaProducer};
//! use kafka_events::outbox::{self, OutboxRelay, Stage, sqlx};
//! use serde::Serialize;
//!
//! #[derive(Serialize, KafkaEvent)]
//! #[event(topic = "orders", key = "order_id", type = "order.placed")]
//! struct OrderPlaced {
//!     order_id: i64,
//! }
//!
//! # let dir = tempfile::tempdir()?;
//! # let kafka = EmbeddedKafka::start()?;
//! # kafka.create_topic("orders", 1)?;
//! let options = sqlx::sqlite::SqliteConnectOptions::new()
//!     .filename(dir.path().join("app.db"))
//!     .create_if_missing(true);
//! let pool = sqlx::SqlitePool::connect_with(options).await?;
//! outbox::sqlite::migrate(&pool).await?;
//!
//! let producer = Arc::new(KafkaProducer::new(&kafka.producer_config())?);
//! let relay = OutboxRelay::sqlite(pool.clone(), producer).spawn();
//!
//! let mut tx = pool.begin().await?;
//! OrderPlaced { order_id: 1 }.stage(&mut tx).await?;
//! tx.rollback().await?; // never sent
//! let mut tx = pool.begin().await?;
//! OrderPlaced { order_id: 2 }.stage(&mut tx).await?;
//! tx.commit().await?; // sent
//!
//! assert!(relay.wait_until(Duration::from_secs(10), |s| s.published == 1).await);
//! let records = read_topic(kafka.bootstrap_servers(), "orders", 1, Duration::from_secs(10))?;
//! assert_eq!(records[0].key_str(), Some("2"));
//! assert!(records[0].header_str(outbox::ID_HEADER).is_some());
//! relay.shutdown().await;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "outbox-sqlite"))]
//! # fn main() {}
//! ```

mod error;
#[cfg(feature = "outbox-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "outbox-postgres")))]
pub mod postgres;
mod publish;
mod relay;
mod row;
#[cfg(feature = "outbox-sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "outbox-sqlite")))]
pub mod sqlite;
mod stage;
mod stats;
mod store;
mod verdict;

pub use error::OutboxError;
pub use relay::{OutboxRelay, RelayHandle};
pub use row::ID_HEADER;
pub use stage::{Stage, Staging};
pub use stats::RelayStats;

/// The sqlx whose transactions [`Stage::stage`] takes (0.8), so your code can name the same
/// version.
pub use sqlx;
