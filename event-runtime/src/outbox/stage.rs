//! Staging: [`Stage::stage`] writes what `emit` would send into the outbox table, inside the
//! caller's transaction. Nothing is sent until that transaction commits and the relay picks
//! the row up.

use std::future::Future;

use uuid::Uuid;

use super::error::OutboxError;
use super::row::NewRow;
use crate::envelope::EnvelopeSettings;
use crate::event::KafkaEvent;
use crate::message::Message;

/// `event.stage(&mut tx).await?`: for every [`KafkaEvent`], inside a sqlx transaction.
///
/// The row holds exactly what [`emit`](KafkaEvent::emit) would send: the logical topic, the
/// key, the `content-type` and `event-type` headers and the JSON (with `#[event(redact)]`
/// fields masked), plus a fresh id (UUID v7) that the relay sends in the [`ID_HEADER`](super::ID_HEADER).
/// If the transaction rolls back, so does the row, and nothing is ever sent.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use kafka_events::KafkaEvent;
/// use kafka_events::outbox::{self, Stage, sqlx};
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent)]
/// #[event(topic = "orders", key = "order_id", type = "order.placed")]
/// struct OrderPlaced {
///     order_id: i64,
///     total_cents: i64,
/// }
///
/// # let dir = tempfile::tempdir()?;
/// # let options = sqlx::sqlite::SqliteConnectOptions::new()
/// #     .filename(dir.path().join("app.db")).create_if_missing(true);
/// let pool = sqlx::SqlitePool::connect_with(options).await?;
/// outbox::sqlite::migrate(&pool).await?;
/// sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, total_cents INTEGER)")
///     .execute(&pool)
///     .await?;
///
/// let mut tx = pool.begin().await?;
/// sqlx::query("INSERT INTO orders VALUES (42, 1999)").execute(&mut *tx).await?;
/// let id = OrderPlaced { order_id: 42, total_cents: 1999 }.stage(&mut tx).await?;
/// tx.commit().await?; // the order and its event, or neither
///
/// let (topic, key): (String, String) =
///     sqlx::query_as("SELECT topic, aggregateid FROM kafka_outbox WHERE id = ?")
///         .bind(id.to_string())
///         .fetch_one(&pool)
///         .await?;
/// assert_eq!((topic.as_str(), key.as_str()), ("orders", "42"));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
pub trait Stage: KafkaEvent + Sized {
    /// Writes this event into the outbox table through `transaction` (a
    /// `sqlx::Transaction` or a connection inside one) and returns the row's id. The event is
    /// serialized before this returns, so the future does not borrow it.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use kafka_events::outbox::{self, sqlx};
    /// # let dir = tempfile::tempdir()?;
    /// # let options = sqlx::sqlite::SqliteConnectOptions::new()
    /// #     .filename(dir.path().join("app.db")).create_if_missing(true);
    /// # let pool = sqlx::SqlitePool::connect_with(options).await?;
    /// # outbox::sqlite::migrate(&pool).await?;
    /// use kafka_events::AuditEntry;
    /// use kafka_events::outbox::Stage;
    ///
    /// let mut tx = pool.begin().await?;
    /// AuditEntry::new().stage(&mut tx).await?;
    /// tx.rollback().await?; // and the event with it: nothing will be sent
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    fn stage<'c, T>(
        &self,
        transaction: &'c mut T,
    ) -> impl Future<Output = Result<Uuid, OutboxError>> + Send + use<'c, T, Self>
    where
        T: Staging + ?Sized,
    {
        insert(NewRow::from_event(self), transaction)
    }

    /// Like [`stage`](Self::stage), for a topic the relay's producer writes in the `EventJson`
    /// envelope: the row holds the envelope (README "Wire formats"), made now, so a row sent
    /// twice carries the same envelope `id` both times and consumers can drop the second.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use kafka_events::outbox::{self, sqlx};
    /// # let dir = tempfile::tempdir()?;
    /// # let options = sqlx::sqlite::SqliteConnectOptions::new()
    /// #     .filename(dir.path().join("app.db")).create_if_missing(true);
    /// # let pool = sqlx::SqlitePool::connect_with(options).await?;
    /// # outbox::sqlite::migrate(&pool).await?;
    /// use kafka_events::AuditEntry;
    /// use kafka_events::envelope::EnvelopeSettings;
    /// use kafka_events::outbox::Stage;
    ///
    /// let settings = EnvelopeSettings::new("commerce.orders.api.v1", "orders-api")?;
    /// let mut tx = pool.begin().await?;
    /// let entry = AuditEntry::new();
    /// entry.stage_in_envelope(&mut tx, &settings).await?;
    /// tx.commit().await?;
    ///
    /// let (key, payload): (String, String) =
    ///     sqlx::query_as("SELECT aggregateid, payload FROM kafka_outbox").fetch_one(&pool).await?;
    /// assert_eq!(key, entry.id.to_string()); // the envelope's id
    /// assert!(payload.contains(r#""event_type":"audit.log""#));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    fn stage_in_envelope<'c, T>(
        &self,
        transaction: &'c mut T,
        settings: &EnvelopeSettings,
    ) -> impl Future<Output = Result<Uuid, OutboxError>> + Send + use<'c, T, Self>
    where
        T: Staging + ?Sized,
    {
        let row = Message::from_event_in_envelope(self, settings)
            .map_err(OutboxError::Encode)
            .and_then(NewRow::from_message);
        insert(row, transaction)
    }
}

/// Inserts `row`, once encoded, and returns its id.
async fn insert<T: Staging + ?Sized>(
    row: Result<NewRow, OutboxError>,
    transaction: &mut T,
) -> Result<Uuid, OutboxError> {
    let row = row?;
    let id = row.id;
    transaction.insert(row).await?;
    Ok(id)
}

impl<E: KafkaEvent> Stage for E {}

/// Where [`Stage::stage`] can write: `sqlx::Transaction<'_, Postgres>` and `PgConnection`
/// (feature `outbox-postgres`), `sqlx::Transaction<'_, Sqlite>` and `SqliteConnection`
/// (feature `outbox-sqlite`). A connection outside a transaction commits the row on its own.
/// Sealed: the backends implement it.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")] {
/// use kafka_events::outbox::{Staging, sqlx};
/// fn takes<T: Staging + ?Sized>() {}
/// takes::<sqlx::Transaction<'static, sqlx::Sqlite>>();
/// takes::<sqlx::SqliteConnection>();
/// # }
/// ```
pub trait Staging: Insert + Send {}

impl<T: Insert + Send + ?Sized> Staging for T {}

/// The backends' insert. Public in a private module: nameable by the backends only.
pub trait Insert {
    /// Inserts `row` through this connection.
    fn insert(&mut self, row: NewRow) -> impl Future<Output = Result<(), OutboxError>> + Send + '_;
}
