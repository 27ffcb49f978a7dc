//! The outbox on PostgreSQL (13 or later): the schema ([`SCHEMA`], [`migrate`]), staging
//! through a `Transaction<'_, Postgres>` or a `PgConnection`, and the relay's side
//! ([`OutboxRelay::postgres`]).
//!
//! **Commit order.** Sequence numbers taken at insert follow the order transactions *started
//! writing*, not the order they committed; and a relay that remembers "published up to id N"
//! skips a row whose transaction commits after N was published (the known outbox gap). Here
//! each row records its transaction (`xid`, an `xid8`), and a deferred constraint trigger —
//! the last thing a transaction does before it commits — gives the transaction its place in
//! `kafka_outbox_commits` from a sequence, and announces the commit with `NOTIFY
//! kafka_outbox`. The relay publishes rows ordered by that place, then by insert order, and
//! keeps no high-water mark: each batch is the oldest committed rows still in the table, so a
//! transaction that commits late is published when it commits, never skipped, and a
//! long-running transaction delays nothing but itself. A transaction that saw another's
//! change commits after it, so it gets the later place: one key's rows reach Kafka in the
//! order their transactions committed. (Ordering by `xid` below
//! `pg_snapshot_xmin(pg_current_snapshot())`, the other known fix for the gap, loses that:
//! a transaction that wrote something early takes a low `xid`, and its later change to a key
//! would be published before a change to the same key it saw committed.)
//!
//! **One relay at a time.** The relay holds a session-level advisory lock on a connection of
//! its own, and reads and deletes through that connection; a second relay on the same
//! database waits, trying the lock every poll interval, and takes over when the first one's
//! session ends (shutdown, crash, lost connection).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};

use super::error::OutboxError;
use super::relay::OutboxRelay;
use super::row::{DeadRow, NewRow, PendingRow};
use super::stage::Insert;
use super::store::{Backlog, Store};
use crate::producer::Producer;

/// The outbox schema, for teams that run their own migrations; [`migrate`] runs it. Safe to
/// run again.
///
/// - `kafka_outbox`: the staged rows. `id` (UUID, sent as the `id` header), `aggregatetype`
///   (the logical topic), `aggregateid` (the key), `type` (the `event-type` header, or empty)
///   and `payload` (the JSON, `json` so it is kept byte for byte) are the columns Debezium's
///   outbox event router reads; `topic` (logical: the relay's producer maps it), `headers`
///   (`[[name, value], ..]`, in order), `xid` (the writing transaction), `position` (insert
///   order) and `created_at` are the relay's.
/// - `kafka_outbox_commits`: each transaction that staged rows and its place in commit order,
///   written at commit by the `kafka_outbox_committing` deferred trigger, which also sends
///   `NOTIFY kafka_outbox`.
/// - `kafka_outbox_dead_letters`: rows Kafka refuses for good, with `reason` and
///   `dead_lettered_at`.
///
/// ```
/// # #[cfg(feature = "outbox-postgres")] {
/// assert!(kafka_events::outbox::postgres::SCHEMA.contains("aggregateid"));
/// # }
/// ```
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kafka_outbox (
    position      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,
    aggregatetype text        NOT NULL,
    aggregateid   text        NOT NULL,
    type          text        NOT NULL,
    payload       json        NOT NULL,
    topic         text        NOT NULL,
    headers       jsonb       NOT NULL,
    xid           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS kafka_outbox_by_xid ON kafka_outbox (xid, position);

CREATE SEQUENCE IF NOT EXISTS kafka_outbox_commit_order;
CREATE TABLE IF NOT EXISTS kafka_outbox_commits (
    seq          bigint      PRIMARY KEY,
    xid          xid8        NOT NULL UNIQUE,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS kafka_outbox_dead_letters (
    position         bigint      NOT NULL,
    id               uuid        NOT NULL,
    aggregatetype    text        NOT NULL,
    aggregateid      text        NOT NULL,
    type             text        NOT NULL,
    payload          json        NOT NULL,
    topic            text        NOT NULL,
    headers          jsonb       NOT NULL,
    xid              xid8        NOT NULL,
    created_at       timestamptz NOT NULL,
    reason           text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE OR REPLACE FUNCTION kafka_outbox_committing() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    this_xid text := pg_current_xact_id()::text;
BEGIN
    -- Once per transaction, however many rows it staged.
    IF current_setting('kafka_outbox.committing', true) IS DISTINCT FROM this_xid THEN
        INSERT INTO kafka_outbox_commits (seq, xid)
        VALUES (nextval('kafka_outbox_commit_order'), pg_current_xact_id());
        PERFORM set_config('kafka_outbox.committing', this_xid, true);
        PERFORM pg_notify('kafka_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = 'kafka_outbox_committing' AND tgrelid = 'kafka_outbox'::regclass
    ) THEN
        CREATE CONSTRAINT TRIGGER kafka_outbox_committing
            AFTER INSERT ON kafka_outbox
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION kafka_outbox_committing();
    END IF;
END
$$;
"#;

/// Which advisory lock the relays take (in the two-key space, so it can't collide with a
/// single-key lock of the application): "kafk" and "obox".
const LOCK: (i32, i32) = (0x6b61_666b, 0x6f62_6f78);
const CHANNEL: &str = "kafka_outbox";

/// Creates the outbox tables, sequence and trigger ([`SCHEMA`]) if they are missing, in one
/// transaction, under an advisory lock so that instances starting together don't race.
///
/// ```no_run
/// # #[cfg(feature = "outbox-postgres")]
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// use kafka_events::outbox::{self, sqlx};
/// let pool = sqlx::PgPool::connect("postgres://app@db/app").await?;
/// outbox::postgres::migrate(&pool).await?;
/// # Ok(())
/// # }
/// ```
pub async fn migrate(pool: &PgPool) -> Result<(), OutboxError> {
    let mut tx = pool.begin().await.map_err(OutboxError::Database)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK.0)
        .bind(LOCK.1 + 1)
        .execute(&mut *tx)
        .await
        .map_err(OutboxError::Database)?;
    sqlx::raw_sql(SCHEMA)
        .execute(&mut *tx)
        .await
        .map_err(OutboxError::Database)?;
    tx.commit().await.map_err(OutboxError::Database)
}

fn database_error(error: sqlx::Error) -> OutboxError {
    match &error {
        // undefined_table
        sqlx::Error::Database(e) if e.code().as_deref() == Some("42P01") => {
            OutboxError::MissingSchema {
                table: "kafka_outbox",
                migrate: "kafka_events::outbox::postgres::migrate",
            }
        }
        _ => OutboxError::Database(error),
    }
}

const INSERT: &str = "INSERT INTO kafka_outbox \
    (id, aggregatetype, aggregateid, type, payload, topic, headers) \
    VALUES ($1, $2, $3, $4, $5::text::json, $2, $6::text::jsonb)";

impl Insert for PgConnection {
    async fn insert(&mut self, row: NewRow) -> Result<(), OutboxError> {
        sqlx::query(INSERT)
            .bind(row.id)
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

impl Insert for Transaction<'_, Postgres> {
    async fn insert(&mut self, row: NewRow) -> Result<(), OutboxError> {
        (**self).insert(row).await
    }
}

impl OutboxRelay {
    /// A relay for the outbox in the database `pool` connects to. It opens two connections of
    /// its own with the pool's options (one holds the relays' advisory lock and does the
    /// reads and deletes, one `LISTEN`s for commits), so it takes nothing from the pool.
    ///
    /// ```no_run
    /// # #[cfg(feature = "outbox-postgres")]
    /// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use kafka_events::{KafkaConfig, KafkaProducer};
    /// use kafka_events::outbox::{self, OutboxRelay, sqlx};
    ///
    /// let pool = sqlx::PgPool::connect("postgres://app@db/app").await?;
    /// outbox::postgres::migrate(&pool).await?;
    /// let producer = Arc::new(KafkaProducer::new(&KafkaConfig::from_env()?)?);
    /// let relay = OutboxRelay::postgres(pool, producer).spawn();
    /// // ... serve; at shutdown:
    /// relay.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn postgres(pool: PgPool, producer: std::sync::Arc<dyn Producer>) -> OutboxRelay {
        let options = (*pool.connect_options()).clone();
        OutboxRelay::from_store(
            PgStore {
                options,
                connection: None,
                leading: false,
                listener: None,
            },
            producer,
        )
    }
}

struct PgStore {
    options: PgConnectOptions,
    /// Holds the advisory lock while leading; reads and deletes go through it, so a relay
    /// whose session ended (and so lost the lock) can't delete anything.
    connection: Option<PgConnection>,
    leading: bool,
    listener: Option<PgListener>,
}

impl PgStore {
    async fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.connection.is_none() {
            self.connection = Some(PgConnection::connect_with(&self.options).await?);
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    async fn listen(&mut self) -> Result<(), sqlx::Error> {
        // A pool of one, of our own: the listener reconnects through it.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(self.options.clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        self.listener = Some(listener);
        Ok(())
    }
}

const FETCH: &str = "SELECT c.seq, o.position, o.id, o.topic, o.aggregateid, o.payload::text AS payload, \
    o.headers::text AS headers \
    FROM kafka_outbox_commits c JOIN kafka_outbox o ON o.xid = c.xid \
    ORDER BY c.seq, o.position LIMIT $1";

impl Store for PgStore {
    async fn lead(&mut self) -> Result<bool, sqlx::Error> {
        if self.leading {
            return Ok(true);
        }
        let connection = self.connection().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK.0)
            .bind(LOCK.1)
            .fetch_one(connection)
            .await?;
        if locked {
            // Listening before the first read: no commit falls between the two.
            if let Err(error) = self.listen().await {
                tracing::warn!(%error, "outbox relay: LISTEN failed; polling instead");
            }
            self.leading = true;
        }
        Ok(locked)
    }

    async fn fetch(&mut self, limit: usize) -> Result<Vec<PendingRow>, sqlx::Error> {
        let connection = self.connection().await?;
        let rows = sqlx::query(FETCH)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(connection)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(PendingRow {
                    commit: row.try_get("seq")?,
                    position: row.try_get("position")?,
                    id: row.try_get("id")?,
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
        through: i64,
    ) -> Result<(), sqlx::Error> {
        let connection = self.connection().await?;
        let mut tx = connection.begin().await?;
        if !dead.is_empty() {
            let positions: Vec<i64> = dead.iter().map(|d| d.position).collect();
            let reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();
            sqlx::query(
                "WITH moved AS (DELETE FROM kafka_outbox WHERE position = ANY($1) RETURNING *) \
                 INSERT INTO kafka_outbox_dead_letters (position, id, aggregatetype, aggregateid, \
                 type, payload, topic, headers, xid, created_at, reason) \
                 SELECT m.position, m.id, m.aggregatetype, m.aggregateid, m.type, m.payload, \
                 m.topic, m.headers, m.xid, m.created_at, d.reason \
                 FROM moved m JOIN unnest($1::bigint[], $2::text[]) AS d(position, reason) \
                 ON d.position = m.position",
            )
            .bind(&positions)
            .bind(&reasons)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM kafka_outbox WHERE position = ANY($1)")
            .bind(published)
            .execute(&mut *tx)
            .await?;
        // The transactions none of whose rows are left no longer need their place. (A
        // transaction's place and its rows become visible together, at its commit.)
        sqlx::query(
            "DELETE FROM kafka_outbox_commits c WHERE c.seq <= $1 \
             AND NOT EXISTS (SELECT 1 FROM kafka_outbox o WHERE o.xid = c.xid)",
        )
        .bind(through)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn backlog(&mut self) -> Result<Backlog, sqlx::Error> {
        let connection = self.connection().await?;
        let (rows, age): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at))::float8 \
             FROM kafka_outbox",
        )
        .fetch_one(connection)
        .await?;
        Ok(Backlog {
            rows: rows.max(0) as u64,
            oldest: Duration::from_secs_f64(age.unwrap_or(0.0).max(0.0)),
        })
    }

    async fn wait_for_commit(&mut self, timeout: Duration) {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(timeout).await;
            return;
        };
        match tokio::time::timeout(timeout, listener.try_recv()).await {
            // Many commits may have been announced while the relay was busy: one read takes
            // them all.
            Ok(Ok(Some(_))) => while listener.next_buffered().is_some() {},
            // The connection was lost (and remade): a commit may have gone unheard, so look.
            Ok(Ok(None)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "outbox relay: LISTEN failed; polling instead");
                self.listener = None;
            }
            Err(_elapsed) => {}
        }
    }

    fn resign(&mut self) {
        // Closing the session releases the advisory lock.
        self.connection = None;
        self.listener = None;
        self.leading = false;
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(1)
    }
}
