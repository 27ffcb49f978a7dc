//! What runs on librdkafka's callbacks: delivery reports and client errors.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::producer::{DeliveryResult, ProducerContext};

use crate::producer::{Message, MessageRef};
use crate::spool::{Spool, SpoolError};
use crate::stats::Counters;

/// Which path a record took, and when it was handed over, carried through librdkafka as the
/// delivery opaque: a plain integer, so a detached send allocates nothing for it. (The record's
/// own timestamp can't serve for latency: a broker may replace it with its log-append time.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    /// Enqueued at this many microseconds after [`now_micros`]'s epoch.
    Detached(u64),
    /// The id of the waiter in [`Shared::waiters`].
    Emit(u64),
    /// A spooled record, replayed at this time.
    Replay(u64),
}

const SHIFT: u32 = usize::BITS - 2;
const LOW: usize = (1 << SHIFT) - 1;

impl Tag {
    pub fn encode(self) -> usize {
        match self {
            Tag::Detached(at) => at as usize & LOW,
            Tag::Emit(id) => (1 << SHIFT) | (id as usize & LOW),
            Tag::Replay(at) => (2 << SHIFT) | (at as usize & LOW),
        }
    }

    fn decode(raw: usize) -> Tag {
        let low = (raw & LOW) as u64;
        match raw >> SHIFT {
            1 => Tag::Emit(low),
            2 => Tag::Replay(low),
            _ => Tag::Detached(low),
        }
    }
}

/// Microseconds since the first call in this process.
pub(super) fn now_micros() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

pub(super) type Acked = Result<(i32, i64), KafkaError>;

/// An `emit` waiting for its acknowledgement.
pub(super) struct Waiter {
    pub enqueued_at: u64,
    pub reply: tokio::sync::oneshot::Sender<Acked>,
}

/// State shared by the producer, its callbacks and its replay thread.
pub(super) struct Shared {
    pub counters: Counters,
    pub spool: Option<Spool>,
    pub waiters: Mutex<HashMap<u64, Waiter>>,
    pub next_waiter: AtomicU64,
    /// Set when librdkafka reports every broker down; cleared when a replay gets through.
    pub brokers_down: AtomicBool,
    /// Set by `close`: without a spool, failed records are collected for the caller.
    pub closing: AtomicBool,
    pub returned: Mutex<Vec<Message>>,
    pub replay: Batch,
    pub room: Room,
}

impl Shared {
    pub fn new(spool: Option<Spool>) -> Self {
        Shared {
            counters: Counters::default(),
            spool,
            waiters: Mutex::new(HashMap::new()),
            next_waiter: AtomicU64::new(0),
            brokers_down: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            returned: Mutex::new(Vec::new()),
            replay: Batch::default(),
            room: Room::default(),
        }
    }

    pub fn waiters(&self) -> MutexGuard<'_, HashMap<u64, Waiter>> {
        lock(&self.waiters)
    }

    /// A detached record that was not delivered: spool it, hand it back at close, or drop it.
    fn keep(&self, error: &KafkaError, message: &BorrowedMessage<'_>) {
        let topic = message.topic();
        let key = message.key().unwrap_or_default();
        if is_permanent(error) {
            Counters::add(&self.counters.dropped, 1);
            tracing::error!(
                %error,
                topic,
                key = %String::from_utf8_lossy(key),
                "kafka-events: dropped a record the broker will never accept"
            );
            return;
        }
        let headers: Vec<(&str, &[u8])> = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key, h.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let record = MessageRef {
            topic,
            key,
            payload: message.payload().unwrap_or_default(),
            headers: &headers,
        };
        if self.spool.is_some() {
            match self.spool_record(record) {
                Ok(()) => return,
                Err(spool_error) => tracing::error!(
                    %spool_error,
                    topic,
                    key = %String::from_utf8_lossy(key),
                    "kafka-events: could not spool an undelivered record"
                ),
            }
        } else if self.closing.load(Ordering::Acquire) {
            lock(&self.returned).push(record.into());
            return;
        }
        Counters::add(&self.counters.dropped, 1);
        tracing::error!(
            %error,
            topic,
            key = %String::from_utf8_lossy(key),
            "kafka-events: lost a record that could not be delivered (configure a spool to keep such records)"
        );
    }

    /// Appends to the spool (which must exist) and counts it.
    pub fn spool_record(&self, record: MessageRef<'_>) -> Result<(), SpoolError> {
        let spool = self.spool.as_ref().expect("spool configured");
        spool.append(record)?;
        Counters::add(&self.counters.spooled, 1);
        Ok(())
    }

    fn acked(&self, enqueued_at: u64) {
        Counters::add(&self.counters.delivered, 1);
        // Truncated to the tag's bits on 32-bit targets; a wrapped value is skipped.
        if let Some(micros) = (now_micros() & LOW as u64).checked_sub(enqueued_at) {
            self.counters.latency(micros / 1000);
        }
    }
}

/// Errors that no retry can fix: spooling such a record would block the spool forever.
fn is_permanent(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::InvalidTopic
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
        )
    )
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Delivery reports of the spool segment being replayed.
#[derive(Default)]
pub(super) struct Batch {
    state: Mutex<BatchState>,
    done: Condvar,
}

#[derive(Default)]
struct BatchState {
    pending: u64,
    failed: u64,
}

impl Batch {
    pub fn start(&self, records: u64) {
        *lock(&self.state) = BatchState {
            pending: records,
            failed: 0,
        };
    }

    /// Records that were never handed to librdkafka count as failed.
    pub fn abandon(&self, records: u64) {
        let mut state = lock(&self.state);
        state.pending = state.pending.saturating_sub(records);
        state.failed += records;
        self.done.notify_all();
    }

    fn report(&self, ok: bool) {
        let mut state = lock(&self.state);
        state.pending = state.pending.saturating_sub(1);
        if !ok {
            state.failed += 1;
        }
        if state.pending == 0 {
            self.done.notify_all();
        }
    }

    /// Waits for every report of the batch; `None` if `give_up` turns true first.
    pub fn wait(&self, give_up: impl Fn() -> bool) -> Option<u64> {
        let mut state = lock(&self.state);
        while state.pending > 0 {
            if give_up() {
                return None;
            }
            state = self
                .done
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Some(state.failed)
    }
}

/// Signals room in librdkafka's queue to senders waiting for it. Delivery reports only take
/// the lock when someone waits.
#[derive(Default)]
pub(super) struct Room {
    waiting: AtomicUsize,
    lock: Mutex<()>,
    freed: Condvar,
    pub freed_async: tokio::sync::Notify,
}

impl Room {
    fn freed(&self) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            let _guard = lock(&self.lock);
            self.freed.notify_all();
            self.freed_async.notify_waiters();
        }
    }

    /// Retries `attempt` until it stops reporting a full queue or `timeout` passes; returns
    /// the last attempt's result.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut attempt: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = std::time::Instant::now() + timeout;
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let mut guard = lock(&self.lock);
        let result = loop {
            // Tried under the lock, so a report between the attempt and the wait still wakes us.
            if let Some(done) = attempt() {
                break Some(done);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break None;
            }
            guard = self
                .freed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(guard);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        result
    }

    pub fn waiting(&self) -> WaitingGuard<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        WaitingGuard(self)
    }
}

pub(super) struct WaitingGuard<'a>(&'a Room);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The rdkafka context: routes each delivery report by its [`Tag`].
pub(super) struct Context(pub std::sync::Arc<Shared>);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.0.brokers_down.store(true, Ordering::Release);
            if let Some(spool) = &self.0.spool {
                spool.notify();
            }
            tracing::warn!(reason, "kafka-events: no broker is reachable");
        } else {
            tracing::error!(%error, reason, "kafka-events: librdkafka error");
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let shared = &self.0;
        shared.room.freed();
        match (Tag::decode(opaque), result) {
            (Tag::Emit(id), result) => {
                let waiter = shared.waiters().remove(&id);
                let outcome = match result {
                    Ok(message) => {
                        shared.acked(waiter.as_ref().map_or(u64::MAX, |w| w.enqueued_at));
                        Ok((message.partition(), message.offset()))
                    }
                    Err((error, _)) => {
                        Counters::add(&shared.counters.failed, 1);
                        Err(error.clone())
                    }
                };
                if let Some(waiter) = waiter {
                    // The emitter may have stopped waiting; the outcome is counted either way.
                    let _ = waiter.reply.send(outcome);
                }
            }
            (Tag::Detached(at), Ok(_)) => shared.acked(at),
            (Tag::Detached(_), Err((error, message))) => {
                Counters::add(&shared.counters.failed, 1);
                shared.keep(error, message);
            }
            (Tag::Replay(at), Ok(_)) => {
                shared.acked(at);
                shared.replay.report(true);
            }
            (Tag::Replay(_), Err((error, _))) => {
                tracing::debug!(%error, "kafka-events: a replayed record failed");
                Counters::add(&shared.counters.failed, 1);
                shared.replay.report(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tag;

    #[test]
    fn tags_round_trip() {
        for tag in [
            Tag::Detached(7),
            Tag::Replay(0),
            Tag::Emit(0),
            Tag::Emit(12345),
        ] {
            assert_eq!(Tag::decode(tag.encode()), tag);
        }
    }
}
