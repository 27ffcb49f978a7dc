//! The outbox on SQLite: the schema ([`SCHEMA`], [`migrate`]), staging through a
//! `Transaction<'_, Sqlite>` or a `SqliteConnection`, and the relay's side
//! ([`OutboxRelay::sqlite`]).
//!
//! SQLite lets one transaction write at a time, so rows are inserted in commit order and the
//! rowid (`position`) is that order: the relay publishes by it. It has no `LISTEN`: the relay
//! looks at the table every poll interval (100 ms by default). One relay publishes at a time:
//! it holds an exclusive lock on the file `<database>-relay.lock` beside the database (the
//! operating system releases it when the process ends); a second relay, in this process or
//! another, waits and takes over. A database without a file (`sqlite::memory:`) is private to
//! its process: run one relay on it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::error::OutboxError;
use super::relay::OutboxRelay;
use super::row::{DeadRow, NewRow, PendingRow};
use super::stage::Insert;
use super::store::{Backlog, Store};
use crate::producer::Producer;

/// The outbox schema, for teams that run their own migrations; [`migrate`] runs it. Safe to
/// run again. The columns are PostgreSQL's (see
/// [`postgres::SCHEMA`](super::postgres::SCHEMA) where that feature is on) without `xid`:
/// `id` is the UUID as text, `created_at` Unix milliseconds.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")] {
/// assert!(kafka_events::outbox::sqlite::SCHEMA.contains("kafka_outbox_dead_letters"));
/// # }
/// ```
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kafka_outbox (
    position      INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    aggregatetype TEXT    NOT NULL,
    aggregateid   TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    topic         TEXT    NOT NULL,
    headers       TEXT    NOT NULL,
    created_at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))
);
CREATE TABLE IF NOT EXISTS kafka_outbox_dead_letters (
    position         INTEGER NOT NULL,
    id               TEXT    NOT NULL,
    aggregatetype    TEXT    NOT NULL,
    aggregateid      TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    headers          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    reason           TEXT    NOT NULL,
    dead_lettered_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))
);
"#;

/// Creates the outbox tables ([`SCHEMA`]) if they are missing.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use kafka_events::outbox::{self, sqlx};
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// outbox::sqlite::migrate(&pool).await?;
/// outbox::sqlite::migrate(&pool).await?; // again: nothing to do
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
pub async fn migrate(pool: &SqlitePool) -> Result<(), OutboxError> {
    let mut tx = pool.begin().await.map_err(OutboxError::Database)?;
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *tx)
        .await
        .map_err(OutboxError::Database)?;
    tx.commit().await.map_err(OutboxError::Database)
}

fn database_error(error: sqlx::Error) -> OutboxError {
    match &error {
        sqlx::Error::Database(e) if e.message().starts_with("no such table") => {
            OutboxError::MissingSchema {
                table: "kafka_outbox",
                migrate: "kafka_events::outbox::sqlite::migrate",
            }
        }
        _ => OutboxError::Database(error),
    }
}

const INSERT: &str = "INSERT INTO kafka_outbox \
    (id, aggregatetype, aggregateid, type, payload, topic, headers) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?2, ?6)";

impl Insert for SqliteConnection {
    async fn insert(&mut self, row: NewRow) -> Result<(), OutboxError> {
        sqlx::query(INSERT)
            .bind(row.id.to_string())
            .bind(&row.topic)
            .bind(&row.key)
            .bind(&row.event_type)
            .bind(&row.payload)
            .bind(&row.headers)
            .execute(self)
            .await
            .map_err(database_error)?;
        Ok(())
    }
}

impl Insert for Transaction<'_, Sqlite> {
    async fn insert(&mut self, row: NewRow) -> Result<(), OutboxError> {
        (**self).insert(row).await
    }
}

impl OutboxRelay {
    /// A relay for the outbox in the SQLite database of `pool` (it reads and deletes through
    /// the pool).
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use kafka_events::MemoryProducer;
    /// use kafka_events::outbox::{self, OutboxRelay, sqlx};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let options = sqlx::sqlite::SqliteConnectOptions::new()
    ///     .filename(dir.path().join("app.db"))
    ///     .create_if_missing(true);
    /// let pool = sqlx::SqlitePool::connect_with(options).await?;
    /// outbox::sqlite::migrate(&pool).await?;
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
    /// relay.shutdown().await;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn sqlite(pool: SqlitePool, producer: Arc<dyn Producer>) -> OutboxRelay {
        OutboxRelay::from_store(SqliteStore { pool, lock: None }, producer)
    }
}

struct SqliteStore {
    pool: SqlitePool,
    /// The relay lock beside the database file, held while leading (`Some(None)`: the
    /// database has no file).
    lock: Option<Option<File>>,
}

impl SqliteStore {
    /// `<database>-relay.lock`, or `None` for a database without a file.
    async fn lock_path(&self) -> Result<Option<PathBuf>, sqlx::Error> {
        let rows = sqlx::query("PRAGMA database_list")
            .fetch_all(&self.pool)
            .await?;
        let file = rows
            .iter()
            .find(|row| row.try_get::<String, _>("name").is_ok_and(|n| n == "main"))
            .and_then(|row| row.try_get::<String, _>("file").ok())
            .filter(|file| !file.is_empty());
        Ok(file.map(|file| PathBuf::from(format!("{file}-relay.lock"))))
    }
}

fn io_error(error: std::io::Error) -> sqlx::Error {
    sqlx::Error::Io(error)
}

impl Store for SqliteStore {
    async fn lead(&mut self) -> Result<bool, sqlx::Error> {
        if self.lock.is_some() {
            return Ok(true);
        }
        let Some(path) = self.lock_path().await? else {
            self.lock = Some(None);
            return Ok(true);
        };
        // Opening and locking a file is blocking I/O: not on the async worker.
        let file = tokio::task::spawn_blocking(move || {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => Ok(Some(file)),
                Err(TryLockError::WouldBlock) => Ok(None),
                Err(TryLockError::Error(error)) => Err(error),
            }
        })
        .await
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .map_err(io_error)?;
        let leading = file.is_some();
        if leading {
            self.lock = Some(file);
        }
        Ok(leading)
    }

    async fn fetch(&mut self, limit: usize) -> Result<Vec<PendingRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT position, id, topic, aggregateid, payload, headers FROM kafka_outbox \
             ORDER BY position LIMIT ?1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let position: i64 = row.try_get("position")?;
                Ok(PendingRow {
                    commit: position,
                    position,
                    id: id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    topic: row.try_get("topic")?,
                    key: row.try_get("aggregateid")?,
                    payload: row.try_get("payload")?,
                    headers: row.try_get("headers")?,
                })
            })
            .collect()
    }

    async fn finish(
        &mut self,
        published: &[i64],
        dead: &[DeadRow],
        _through: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for row in dead {
            sqlx::query(
                "INSERT INTO kafka_outbox_dead_letters (position, id, aggregatetype, aggregateid, \
                 type, payload, topic, headers, created_at, reason) \
                 SELECT position, id, aggregatetype, aggregateid, type, payload, topic, headers, \
                 created_at, ?2 FROM kafka_outbox WHERE position = ?1",
            )
            .bind(row.position)
            .bind(&row.reason)
            .execute(&mut *tx)
            .await?;
        }
        let positions: Vec<i64> = published
            .iter()
            .copied()
            .chain(dead.iter().map(|d| d.position))
            .collect();
        let positions = serde_json::to_string(&positions).expect("integers serialize");
        sqlx::query("DELETE FROM kafka_outbox WHERE position IN (SELECT value FROM json_each(?1))")
            .bind(positions)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn backlog(&mut self) -> Result<Backlog, sqlx::Error> {
        let (rows, age_ms): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), \
             CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - min(created_at) \
             FROM kafka_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            rows: rows.max(0) as u64,
            oldest: Duration::from_millis(age_ms.unwrap_or(0).max(0) as u64),
        })
    }

    async fn wait_for_commit(&mut self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }

    fn resign(&mut self) {
        // Closing the file releases the lock; closing is file I/O, so not here.
        if let Some(Some(file)) = self.lock.take() {
            tokio::task::spawn_blocking(move || drop(file));
        }
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
}
