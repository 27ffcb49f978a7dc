//! What a relay has done and what it sees waiting: [`RelayStats`], and the state the relay loop
//! shares with its [`RelayHandle`](super::RelayHandle).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Notify;

use crate::flow::lock;

/// A snapshot of a relay: read it with [`RelayHandle::stats`](super::RelayHandle::stats) for
/// metrics and health checks (cheap: no database query).
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
/// let mut tx = pool.begin().await?;
/// AuditEntry::new().stage(&mut tx).await?;
/// tx.commit().await?;
///
/// let relay = OutboxRelay::sqlite(pool, Arc::new(MemoryProducer::new())).spawn();
/// assert!(relay.wait_until(Duration::from_secs(10), |s| s.published == 1).await);
/// let stats = relay.stats();
/// assert!(stats.leader);
/// assert_eq!((stats.dead_lettered, stats.backlog), (0, 0));
/// relay.shutdown().await;
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "outbox-sqlite"))]
/// # fn main() {}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Rows the broker acknowledged (and the relay then deleted).
    pub published: u64,
    /// Rows moved to the dead-letter table because Kafka refuses them for good.
    pub dead_lettered: u64,
    /// Committed rows not yet published, as of the last count (at most a second old while the
    /// relay publishes; 0 once it has caught up).
    pub backlog: u64,
    /// The age of the oldest committed row not yet published, as of the same count: how far
    /// behind the relay is.
    pub lag: Duration,
    /// Publishing attempts that failed and will be retried after a pause (an outage, a timeout,
    /// refused credentials), and database errors.
    pub failed_attempts: u64,
    /// Whether this relay is the one publishing (others on the same table wait).
    pub leader: bool,
    /// The last failure, until an attempt succeeds again.
    pub last_error: Option<String>,
}

/// The relay's state, shared with its handle. Private fields; the relay loop says what
/// happened, the handle reads and waits.
#[derive(Default)]
pub(super) struct Shared {
    stats: Mutex<RelayStats>,
    changed: Notify,
    stopping: AtomicBool,
    stop: Notify,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut RelayStats)) {
        f(&mut lock(&self.stats));
        self.changed.notify_waiters();
    }

    pub fn snapshot(&self) -> RelayStats {
        lock(&self.stats).clone()
    }

    pub fn became_leader(&self, leader: bool) {
        if lock(&self.stats).leader != leader {
            self.update(|s| s.leader = leader);
        }
    }

    pub fn batch_done(&self, published: u64, dead_lettered: u64, failed: Option<String>) {
        self.update(|s| {
            s.published += published;
            s.dead_lettered += dead_lettered;
            s.backlog = s.backlog.saturating_sub(published + dead_lettered);
            match failed {
                Some(error) => {
                    s.failed_attempts += 1;
                    s.last_error = Some(error);
                }
                None => s.last_error = None,
            }
        });
    }

    pub fn database_failed(&self, error: String) {
        self.update(|s| {
            s.failed_attempts += 1;
            s.last_error = Some(error);
        });
    }

    pub fn counted_backlog(&self, rows: u64, lag: Duration) {
        self.update(|s| {
            s.backlog = rows;
            s.lag = lag;
        });
    }

    /// Waits up to `timeout` until `done` holds for the stats.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&RelayStats) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.snapshot()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.snapshot());
            }
        }
    }

    pub fn ask_to_stop(&self) {
        self.stopping.store(true, SeqCst);
        self.stop.notify_waiters();
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(SeqCst)
    }

    /// Sleeps for `pause`, or less if the relay is asked to stop.
    pub async fn pause(&self, pause: Duration) {
        let stop = self.stop.notified();
        tokio::pin!(stop);
        stop.as_mut().enable();
        if self.stopping() {
            return;
        }
        let _ = tokio::time::timeout(pause, stop).await;
    }
}
