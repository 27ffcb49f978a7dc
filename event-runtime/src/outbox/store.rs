//! What the relay asks of a database backend ([`super::postgres`], [`super::sqlite`]): who
//! publishes, the committed rows in commit order, removing rows once they are acknowledged or
//! dead-lettered, the backlog, and waiting for the next commit.

use std::future::Future;
use std::time::Duration;

use super::row::{DeadRow, PendingRow};

/// Committed rows waiting, and the age of the oldest.
pub(super) struct Backlog {
    pub rows: u64,
    pub oldest: Duration,
}

pub(super) trait Store: Send + 'static {
    /// Takes, or keeps, the right to publish this table: one relay at a time. `false`: another
    /// relay holds it.
    fn lead(&mut self) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;

    /// Up to `limit` committed rows, oldest commit first, and within a transaction in insert
    /// order.
    fn fetch(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PendingRow>, sqlx::Error>> + Send;

    /// Deletes the rows the broker acknowledged and moves the dead ones to the dead-letter
    /// table, in one transaction. `through`: the last commit the batch read.
    fn finish(
        &mut self,
        published: &[i64],
        dead: &[DeadRow],
        through: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Counts the committed rows waiting.
    fn backlog(&mut self) -> impl Future<Output = Result<Backlog, sqlx::Error>> + Send;

    /// Returns when a transaction that staged rows may have committed, or after `timeout`.
    fn wait_for_commit(&mut self, timeout: Duration) -> impl Future<Output = ()> + Send;

    /// After a database error: lets go of the connections (and with them the right to publish);
    /// the next [`lead`](Store::lead) starts over.
    fn resign(&mut self);

    /// How long to wait between looks at the table when nothing announces commits.
    fn poll_interval(&self) -> Duration;
}
