//! [`OutboxRelay`]: publishes committed rows through a [`Producer`] and removes each only after
//! the broker acknowledged it. The loop: be the one relay that publishes the table, take a
//! bounded batch in commit order, publish it ([`super::publish`]), delete what was
//! acknowledged and dead-letter what Kafka refuses for good, then either go on, wait for the
//! next commit, or pause (growing pauses while sends fail, so an outage costs no CPU).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::publish::publish;
use super::stats::{RelayStats, Shared};
use super::store::Store;
use crate::producer::Producer;

type Start =
    Box<dyn FnOnce(Arc<Shared>, Settings) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Publishes the rows committed to the outbox table through a [`Producer`] (a
/// [`KafkaProducer`](crate::KafkaProducer) in production, so its topic map, security and
/// partitioner apply), in commit order per key, and deletes each row once the broker
/// acknowledged it. Create it with `OutboxRelay::postgres` or `OutboxRelay::sqlite`, then
/// [`spawn`](Self::spawn) it inside the service or in a process of its own.
///
/// Several relays may run on one table (one per service instance): one publishes, the others
/// wait and take over when its database session ends.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use kafka_events::{AuditEntry, MemoryProducer};
/// use kafka_events::outbox::{self, OutboxRelay, Stage, sqlx};
///
/// # let dir = tempfile::tempdir()?;
/// let pool = sqlx::SqlitePool::connect_with(
///     sqlx::sqlite::SqliteConnectOptions::new()
///         .filename(dir.path().join("app.db"))
///         .create_if_missing(true),
/// )
/// .await?;
/// outbox::sqlite::migrate(&pool).await?;
///
/// let producer = Arc::new(MemoryProducer::new()); // a KafkaProducer in production
/// let relay = OutboxRelay::sqlite(pool.clone(), producer.clone())
///     .batch_size(100)
///     .poll_interval(Duration::from_millis(50))
///     .spawn();
///
/// let entry = AuditEntry::new();
/// let mut tx = pool.begin().await?;
/// entry.stage(&mut tx).await?;
/// tx.commit().await?;
///
/// assert!(relay.wait_until(Duration::from_secs(10), |s| s.published == 1).await);
/// assert_eq!(producer.events::<AuditEntry>()?, [entry]);
/// relay.shutdown().await;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
pub struct OutboxRelay {
    start: Start,
    settings: Settings,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    batch_size: usize,
    poll_interval: Option<Duration>,
    max_backoff: Duration,
}

/// The first pause after a failed attempt; each failure in a row doubles it, up to
/// `max_backoff`.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// How often the backlog is counted while the relay publishes.
const COUNT_EVERY: Duration = Duration::from_secs(1);

impl OutboxRelay {
    /// A relay over `store` (what the backends' constructors call).
    pub(super) fn from_store<S: Store>(store: S, producer: Arc<dyn Producer>) -> OutboxRelay {
        OutboxRelay {
            start: Box::new(move |shared, settings| {
                Box::pin(run(store, producer, shared, settings))
            }),
            settings: Settings {
                batch_size: 500,
                poll_interval: None,
                max_backoff: Duration::from_secs(30),
            },
        }
    }

    /// How many rows one batch takes at most (default 500): also how many a crash between
    /// the acknowledgements and the delete can send twice. At least 1.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")] {
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # let _in_runtime = rt.enter();
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// use std::sync::Arc;
    /// use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).batch_size(1_000);
    /// # }
    /// ```
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.settings.batch_size = rows.max(1);
        self
    }

    /// How often the table is looked at when no commit was announced: on PostgreSQL a
    /// fallback for a lost `LISTEN` connection (default 1 s), on SQLite, which has no such
    /// announcement, the delay between a commit and its publication (default 100 ms). A
    /// relay that waits for another to let go of the table also tries this often.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")] {
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # let _in_runtime = rt.enter();
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// use std::{sync::Arc, time::Duration};
    /// use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new()))
    ///     .poll_interval(Duration::from_millis(20));
    /// # }
    /// ```
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = Some(interval);
        self
    }

    /// The longest pause between attempts while sends keep failing (default 30 s). Pauses
    /// start at 100 ms and double with each failed attempt in a row.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")] {
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # let _in_runtime = rt.enter();
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// use std::{sync::Arc, time::Duration};
    /// use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new()))
    ///     .max_backoff(Duration::from_secs(5));
    /// # }
    /// ```
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.settings.max_backoff = max.max(MIN_BACKOFF);
        self
    }

    /// Starts the relay on a task of the current Tokio runtime (call it inside one).
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// use std::sync::Arc;
    /// use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
    /// // ... serve; at shutdown:
    /// relay.shutdown().await;
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn spawn(self) -> RelayHandle {
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn((self.start)(shared.clone(), self.settings));
        RelayHandle {
            shared,
            task: Some(task),
        }
    }
}

/// A running relay: its [`stats`](Self::stats), and [`shutdown`](Self::shutdown). Dropping
/// the handle asks the relay to stop too (after its current batch), without waiting for it.
///
/// ```
/// # #[cfg(feature = "outbox-sqlite")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
/// use std::sync::Arc;
/// use kafka_events::{MemoryProducer, outbox::{OutboxRelay, RelayHandle}};
/// let relay: RelayHandle = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
/// println!("{:?}", relay.stats());
/// relay.shutdown().await;
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
pub struct RelayHandle {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl RelayHandle {
    /// What the relay has done and what waits (no database query).
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// # use std::sync::Arc;
    /// # use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
    /// let stats = relay.stats();
    /// assert_eq!(stats.published, 0);
    /// # relay.shutdown().await;
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn stats(&self) -> RelayStats {
        self.shared.snapshot()
    }

    /// Waits up to `timeout` until `done` holds for the stats; returns whether it did. For
    /// tests and readiness checks.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let options = kafka_events::outbox::sqlx::sqlite::SqliteConnectOptions::new()
    /// #     .filename(dir.path().join("app.db")).create_if_missing(true);
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_with(options).await.unwrap();
    /// # kafka_events::outbox::sqlite::migrate(&pool).await.unwrap();
    /// # use std::{sync::Arc, time::Duration};
    /// # use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
    /// assert!(relay.wait_until(Duration::from_secs(10), |s| s.leader).await);
    /// # relay.shutdown().await;
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl FnMut(&RelayStats) -> bool,
    ) -> bool {
        self.shared.wait_until(timeout, done).await
    }

    /// Stops the relay: it finishes the batch it is publishing (waiting for those sends'
    /// outcomes, at most the producer's delivery timeout), deletes what was acknowledged, lets
    /// go of the table for another relay, and returns its final stats.
    ///
    /// ```
    /// # #[cfg(feature = "outbox-sqlite")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let pool = kafka_events::outbox::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
    /// # use std::sync::Arc;
    /// # use kafka_events::{MemoryProducer, outbox::OutboxRelay};
    /// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
    /// relay.shutdown().await;
    /// # }
    /// # #[cfg(not(feature = "outbox-sqlite"))]
    /// # fn main() {}
    /// ```
    pub async fn shutdown(mut self) -> RelayStats {
        self.shared.ask_to_stop();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
        self.shared.snapshot()
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.shared.ask_to_stop();
    }
}

/// Growing pauses while attempts fail.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    fn succeeded(&mut self) {
        self.next = MIN_BACKOFF;
    }
}

async fn run<S: Store>(
    mut store: S,
    producer: Arc<dyn Producer>,
    shared: Arc<Shared>,
    settings: Settings,
) {
    let poll = settings.poll_interval.unwrap_or(store.poll_interval());
    let mut backoff = Backoff {
        next: MIN_BACKOFF,
        max: settings.max_backoff,
    };
    let mut counted_at: Option<tokio::time::Instant> = None;
    // Whether the last attempt failed: its failure was logged, and recovery will be.
    let mut failing = false;
    let database_failed = |store: &mut S, error: sqlx::Error, failing: &mut bool| {
        if !*failing {
            tracing::error!(%error, "outbox relay: the database failed; retrying with growing pauses");
            *failing = true;
        }
        shared.database_failed(error.to_string());
        store.resign();
    };
    while !shared.stopping() {
        match store.lead().await {
            Ok(true) => shared.became_leader(true),
            Ok(false) => {
                shared.became_leader(false);
                shared.pause(poll).await;
                continue;
            }
            Err(error) => {
                shared.became_leader(false);
                database_failed(&mut store, error, &mut failing);
                shared.pause(backoff.failed()).await;
                continue;
            }
        }
        let rows = match store.fetch(settings.batch_size).await {
            Ok(rows) => rows,
            Err(error) => {
                database_failed(&mut store, error, &mut failing);
                shared.became_leader(false);
                shared.pause(backoff.failed()).await;
                continue;
            }
        };
        if rows.is_empty() {
            shared.counted_backlog(0, Duration::ZERO);
            if failing {
                tracing::info!("outbox relay: publishing again");
                failing = false;
                backoff.succeeded();
            }
            tokio::select! {
                () = store.wait_for_commit(poll) => {}
                () = shared.pause(poll) => {}
            }
            continue;
        }
        let through = rows.iter().map(|r| r.commit).max().unwrap_or_default();
        let outcome = publish(&*producer, rows).await;
        for dead in &outcome.dead {
            tracing::error!(
                id = %dead.id,
                topic = %dead.topic,
                reason = %dead.reason,
                "outbox relay: Kafka refuses this row for good; moved to the dead-letter table"
            );
        }
        if let Err(error) = store
            .finish(&outcome.published, &outcome.dead, through)
            .await
        {
            // The acknowledged rows stay, and will be sent again: consumers deduplicate on
            // their `id` header.
            database_failed(&mut store, error, &mut failing);
            shared.became_leader(false);
            shared.pause(backoff.failed()).await;
            continue;
        }
        let failure = outcome.failure.as_ref().map(|e| e.to_string());
        shared.batch_done(
            outcome.published.len() as u64,
            outcome.dead.len() as u64,
            failure.clone(),
        );
        if outcome.closed {
            tracing::error!("outbox relay: the producer is closed; the relay stops");
            break;
        }
        match failure {
            Some(error) => {
                if !failing {
                    tracing::warn!(%error, "outbox relay: rows could not be published; retrying with growing pauses");
                    failing = true;
                }
                shared.pause(backoff.failed()).await;
            }
            None => {
                if failing {
                    tracing::info!("outbox relay: publishing again");
                    failing = false;
                }
                backoff.succeeded();
            }
        }
        if counted_at.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
            counted_at = Some(tokio::time::Instant::now());
            match store.backlog().await {
                Ok(backlog) => shared.counted_backlog(backlog.rows, backlog.oldest),
                Err(error) => database_failed(&mut store, error, &mut failing),
            }
        }
    }
    store.resign();
    shared.became_leader(false);
}
