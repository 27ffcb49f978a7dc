//! What the producer, librdkafka's callbacks and the replay thread share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;

use super::classify::Class;
use super::config::OverflowPolicy;
use super::fate::State;
use crate::error::EmitError;
use crate::flow::{Bell, lock};
use crate::message::{Message, MessageRef};
use crate::spool::{Caller, Spool};
use crate::stats::Counters;

/// An awaited `emit`'s outcome: where the broker stored the record, or why it did not.
pub(super) type Outcome = Result<(i32, i64), (Class, KafkaError)>;

/// An awaited `emit` waiting for its delivery report.
pub(super) struct Waiter {
    pub enqueued_at: u64,
    pub reply: tokio::sync::oneshot::Sender<Outcome>,
}

pub(super) struct Shared {
    counters: Counters,
    spool: Option<Spool>,
    overflow: OverflowPolicy,
    waiters: Mutex<HashMap<u64, Waiter>>,
    next_waiter: AtomicU64,
    /// librdkafka reported every broker down, and none has answered since.
    brokers_down: AtomicBool,
    closing: AtomicBool,
    close_waits: AtomicBool,
    handed_back: Mutex<Vec<Message>>,
    /// Rung by every delivery report: there is room in librdkafka's queue again, and progress
    /// for whoever waits for everything to be delivered.
    reports: Bell,
    missing_topics: Mutex<HashMap<String, Instant>>,
    any_missing: AtomicBool,
    missing_topic_timeout: Duration,
}

impl Shared {
    pub fn new(
        spool: Option<Spool>,
        overflow: OverflowPolicy,
        missing_topic_timeout: Duration,
    ) -> Self {
        Shared {
            counters: Counters::default(),
            spool,
            overflow,
            waiters: Mutex::new(HashMap::new()),
            next_waiter: AtomicU64::new(0),
            brokers_down: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close_waits: AtomicBool::new(false),
            handed_back: Mutex::new(Vec::new()),
            reports: Bell::default(),
            missing_topics: Mutex::new(HashMap::new()),
            any_missing: AtomicBool::new(false),
            missing_topic_timeout,
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn spool(&self) -> Option<&Spool> {
        self.spool.as_ref()
    }

    pub fn reports(&self) -> &Bell {
        &self.reports
    }

    /// The producer's state, as the fate of a record needs it.
    pub fn state(&self) -> State {
        State {
            spool: self.spool.as_ref().map(Spool::durability),
            brokers_down: self.brokers_down.load(Ordering::Acquire),
            closing: self.closing.load(Ordering::Acquire),
            close_waits: self.close_waits.load(Ordering::Acquire),
            overflow: self.overflow,
            may_block: false,
            out_of_time: false,
            topic_gone: false,
        }
    }

    /// librdkafka reported every broker down. Returns whether that is news.
    pub fn mark_brokers_down(&self) -> bool {
        let news = !self.brokers_down.swap(true, Ordering::AcqRel);
        if let Some(spool) = &self.spool {
            spool.bell().ring();
        }
        self.reports.ring();
        news
    }

    /// A broker answered (an acknowledgement, or metadata). Returns whether that is news.
    pub fn mark_brokers_up(&self) -> bool {
        // Read first: this runs for every acknowledgement.
        if !self.brokers_down.load(Ordering::Acquire) {
            return false;
        }
        let news = self.brokers_down.swap(false, Ordering::AcqRel);
        if let Some(spool) = &self.spool {
            spool.bell().ring();
        }
        self.reports.ring();
        news
    }

    pub fn brokers_down(&self) -> bool {
        self.brokers_down.load(Ordering::Acquire)
    }

    /// Stops taking records. Returns whether this call did it. With `close_waits`, records
    /// that can't be delivered (and can't be spooled) are kept for the caller to take back.
    pub fn start_closing(&self, close_waits: bool) -> bool {
        self.close_waits.fetch_or(close_waits, Ordering::AcqRel);
        !self.closing.swap(true, Ordering::AcqRel)
    }

    /// The state for a record that librdkafka said `class` about: whether its topic has been
    /// missing too long is looked up only when that is what it said.
    pub fn state_for(&self, class: Class, topic: &str) -> State {
        let mut state = self.state();
        if class == Class::TopicMissing {
            state.topic_gone = self.topic_missing(topic);
        }
        state
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Registers an awaited `emit`. The guard forgets it if the `emit` is dropped before its
    /// record was handed to librdkafka, so cancelled emits leave nothing behind.
    pub fn expect_reply(
        &self,
    ) -> (
        u64,
        tokio::sync::oneshot::Receiver<Outcome>,
        WaiterGuard<'_>,
    ) {
        let id = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (reply, receiver) = tokio::sync::oneshot::channel();
        lock(&self.waiters).insert(
            id,
            Waiter {
                enqueued_at: super::record::now_micros(),
                reply,
            },
        );
        (
            id,
            receiver,
            WaiterGuard {
                shared: self,
                id,
                armed: true,
            },
        )
    }

    pub fn take_waiter(&self, id: u64) -> Option<Waiter> {
        lock(&self.waiters).remove(&id)
    }

    /// Keeps a record for `close` to hand back.
    pub fn hand_back(&self, message: Message) {
        lock(&self.handed_back).push(message);
    }

    pub fn take_handed_back(&self) -> Vec<Message> {
        std::mem::take(&mut *lock(&self.handed_back))
    }

    /// Notes that `topic` is missing; returns whether it has been for longer than the bound.
    pub fn topic_missing(&self, topic: &str) -> bool {
        self.any_missing.store(true, Ordering::Release);
        let mut missing = lock(&self.missing_topics);
        let since = *missing.entry(topic.to_owned()).or_insert_with(Instant::now);
        since.elapsed() >= self.missing_topic_timeout
    }

    /// A record reached `topic`: it exists.
    pub fn topic_exists(&self, topic: &str) {
        if self.any_missing.load(Ordering::Acquire) {
            let mut missing = lock(&self.missing_topics);
            missing.remove(topic);
            self.any_missing
                .store(!missing.is_empty(), Ordering::Release);
        }
    }

    /// Writes a record to the spool and counts it; a record the spool can't take is counted as
    /// dropped, logged, and returned as the error.
    pub fn spool_record(&self, message: MessageRef<'_>, caller: Caller) -> Result<(), EmitError> {
        let spool = self.spool.as_ref().ok_or(EmitError::Closed)?;
        match spool.append(message, false, caller) {
            Ok(_) => {
                Counters::add(&self.counters.spooled, 1);
                Ok(())
            }
            Err(error) => {
                Counters::add(&self.counters.dropped, 1);
                tracing::error!(
                    %error,
                    topic = message.topic,
                    key = %String::from_utf8_lossy(message.key),
                    "kafka-events: a record that needed the spool could not be written there; it is dropped"
                );
                Err(EmitError::Spool(error))
            }
        }
    }
}

/// Forgets a waiter unless [`WaiterGuard::handed_over`] was called.
pub(super) struct WaiterGuard<'a> {
    shared: &'a Shared,
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
            self.shared.take_waiter(self.id);
        }
    }
}
