//! Awaited emits waiting for their delivery reports: each registers before its record goes to
//! librdkafka and is answered once, by the report or by a refusal of the client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::classify::Class;
use super::record::now_micros;
use crate::flow::lock;

/// An awaited `emit`'s outcome: where the broker stored the record, or why it did not (the
/// class and what librdkafka said).
pub(super) type Outcome = Result<(i32, i64), (Class, String)>;

/// An awaited `emit` waiting for its delivery report.
pub(super) struct Waiter {
    pub enqueued_at: u64,
    pub reply: tokio::sync::oneshot::Sender<Outcome>,
}

#[derive(Default)]
pub(super) struct Waiters {
    map: Mutex<HashMap<u64, Waiter>>,
    next: AtomicU64,
}

impl Waiters {
    /// Registers an awaited `emit`. The guard forgets it if the `emit` is dropped before its
    /// record was handed to librdkafka, so cancelled emits leave nothing behind.
    pub fn register(
        &self,
    ) -> (
        u64,
        tokio::sync::oneshot::Receiver<Outcome>,
        WaiterGuard<'_>,
    ) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (reply, receiver) = tokio::sync::oneshot::channel();
        lock(&self.map).insert(
            id,
            Waiter {
                enqueued_at: now_micros(),
                reply,
            },
        );
        (
            id,
            receiver,
            WaiterGuard {
                waiters: self,
                id,
                armed: true,
            },
        )
    }

    /// The waiter of a record whose report arrived.
    pub fn take(&self, id: u64) -> Option<Waiter> {
        lock(&self.map).remove(&id)
    }

    /// Registers again a waiter whose record goes to another librdkafka producer.
    pub fn restore(&self, id: u64, waiter: Waiter) {
        lock(&self.map).insert(id, waiter);
    }

    /// Every waiter hears why now, rather than after the delivery timeout; their records stay
    /// queued, as those of callers that stopped waiting.
    pub fn fail_all(&self, class: Class, reason: &str) {
        let waiters: Vec<Waiter> = lock(&self.map).drain().map(|(_, w)| w).collect();
        for waiter in waiters {
            let _ = waiter.reply.send(Err((class, reason.to_owned())));
        }
    }
}

/// Forgets a waiter unless [`WaiterGuard::handed_over`] was called.
pub(super) struct WaiterGuard<'a> {
    waiters: &'a Waiters,
    id: u64,
    armed: bool,
}

impl WaiterGuard<'_> {
    /// The record is with librdkafka: its delivery report removes the waiter.
    pub fn handed_over(mut self) {
        self.armed = false;
    }
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.waiters.take(self.id);
        }
    }
}
