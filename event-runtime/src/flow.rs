//! Waiting primitives that know nothing of Kafka or files.
//!
//! A [`Bell`] is rung when some state changes; threads of the crate's own (the watch and spool
//! worker threads, `close`'s helper thread) wait on it with a timeout, and async code awaits it
//! without blocking its worker. Ringing costs an atomic increment, plus a wake-up only when a
//! thread is waiting. [`run_blocking`] runs blocking work on a thread of its own for async
//! callers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Bell {
    rung: AtomicU64,
    /// Threads in [`Bell::wait`].
    waiting: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
    tasks: Notify,
}

impl Bell {
    /// Wakes every thread and task waiting for a change.
    pub fn ring(&self) {
        self.rung.fetch_add(1, SeqCst);
        if self.waiting.load(SeqCst) > 0 {
            // Taken so that a waiter between its check and its wait still hears this.
            drop(lock(&self.lock));
            self.changed.notify_all();
        }
        self.tasks.notify_waiters();
    }

    /// How many times the bell has rung; pass it to [`Bell::wait`] after looking at the state.
    pub fn rung(&self) -> u64 {
        self.rung.load(SeqCst)
    }

    /// Waits up to `timeout` for a ring after `seen`. For the crate's own threads only: it blocks.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let deadline = deadline(timeout);
        self.waiting.fetch_add(1, SeqCst);
        let mut guard = lock(&self.lock);
        while self.rung.load(SeqCst) == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = self
                .changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(guard);
        self.waiting.fetch_sub(1, SeqCst);
    }

    /// Waits until `done()` holds or `timeout` passes; returns whether it holds. Blocks, like
    /// [`Bell::wait`].
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = deadline(timeout);
        loop {
            let seen = self.rung();
            if done() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.wait(seen, left);
        }
    }

    /// Resolves at the next ring. Create it (and `enable` it) before looking at the state, so a
    /// ring in between is not missed.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.tasks.notified()
    }

    /// Waits without blocking until `done()` holds or `timeout` passes (needs Tokio's timer).
    pub async fn until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done();
            }
        }
    }
}

fn deadline(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// Runs blocking work on a thread of its own and awaits the result, whatever the async runtime.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("kafka-events-io".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    match spawned {
        Ok(_) => rx.await.ok(),
        Err(error) => {
            tracing::error!(%error, "kafka-events: could not start a thread");
            None
        }
    }
}

/// A mutex whose holder panicking leaves nothing half-done that matters here.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A delay that doubles after every failure, up to a maximum, and starts over after a success.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            current: min,
        }
    }

    /// The delay before the next attempt, doubling the one after.
    pub fn next(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_ring_wakes_a_waiting_thread() {
        let bell = Arc::new(Bell::default());
        let seen = bell.rung();
        let ringer = {
            let bell = bell.clone();
            std::thread::spawn(move || bell.ring())
        };
        bell.wait(seen, Duration::from_secs(30));
        assert_ne!(bell.rung(), seen);
        ringer.join().unwrap();
    }

    #[test]
    fn backoff_doubles_to_its_maximum_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<u128> = (0..4).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next().as_millis(), 100);
    }
}
