//! What can go wrong when staging an event or migrating the outbox schema.

use crate::error::EmitError;

/// Why an event could not be staged, or the outbox schema not created.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use kafka_events::AuditEntry;
/// use kafka_events::outbox::{OutboxError, Stage, sqlx};
///
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let mut tx = pool.begin().await?;
/// // The table was never created: the error says how to create it.
/// let error = AuditEntry::new().stage(&mut tx).await.unwrap_err();
/// assert!(matches!(error, OutboxError::MissingSchema { .. }));
/// assert!(error.to_string().contains("outbox::sqlite::migrate"));
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The event could not be encoded (its JSON could not be written).
    #[error("the event could not be encoded: {0}")]
    Encode(#[source] EmitError),
    /// The event's key or a header value is not UTF-8 text, which the outbox table stores them
    /// as (derived events' keys always are).
    #[error("the event's {what} is not UTF-8 text, which the outbox table stores it as")]
    NotText {
        /// `"key"`, or the header's name.
        what: String,
    },
    /// The outbox tables do not exist in this database (or are not on the `search_path`).
    #[error("the outbox table `{table}` does not exist: create it first with `{migrate}(&pool)`")]
    MissingSchema {
        /// The table that was not found.
        table: &'static str,
        /// The function that creates the schema.
        migrate: &'static str,
    },
    /// The database refused the statement or could not be reached.
    #[error("the database failed: {0}")]
    Database(#[source] sqlx::Error),
}
