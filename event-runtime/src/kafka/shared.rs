//! What the producer, librdkafka's callbacks and the replay thread share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::classify::Class;
use super::config::OverflowPolicy;
use super::config::Redactor;
use super::fate::State;
use super::security::Tokens;
use crate::error::EmitError;
use crate::flow::{Bell, lock};
use crate::message::{Message, MessageRef};
use crate::spool::{Caller, Spool};
use crate::stats::Counters;

/// An awaited `emit`'s outcome: where the broker stored the record, or why it did not (the
/// class and what librdkafka said).
pub(super) type Outcome = Result<(i32, i64), (Class, String)>;

/// Why the brokers refuse this client.
struct Refusal {
    class: Class,
    /// What librdkafka said (never a secret: it does not repeat credentials).
    reason: String,
    /// Whether it stands: the client was never accepted, or a probe after the refusal failed
    /// too. Until then awaited emits go on as in an outage.
    confirmed: bool,
}

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
    /// Why the brokers refuse this client (authentication or TLS), until one accepts it.
    refused: Mutex<Option<Refusal>>,
    /// Replaces the configuration's secrets in what librdkafka says.
    redactor: Redactor,
    /// The last client error librdkafka reported, and when.
    last_client_error: Mutex<Option<(String, Instant)>>,
    /// OAUTHBEARER tokens, when a provider was given.
    tokens: Option<Arc<Tokens>>,
}

impl Shared {
    pub fn new(
        spool: Option<Spool>,
        overflow: OverflowPolicy,
        missing_topic_timeout: Duration,
        tokens: Option<Arc<Tokens>>,
        redactor: Redactor,
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
            refused: Mutex::new(None),
            redactor,
            last_client_error: Mutex::new(None),
            tokens,
        }
    }

    pub fn tokens(&self) -> Option<&Tokens> {
        self.tokens.as_deref()
    }

    /// A broker refused this client (its credentials, or the TLS handshake). One broker's
    /// refusal is not the cluster's: it is suspected until the watch thread asks the cluster
    /// for metadata, which confirms it ([`confirm_refusal`](Self::confirm_refusal)) when no
    /// broker answers, and clears it when one does. Returns whether that is news.
    pub fn mark_client_refused(&self, class: Class, reason: &str) -> bool {
        let reason = self.redactor.redact(reason);
        let mut refused = lock(&self.refused);
        let confirmed = refused.as_ref().is_some_and(|r| r.confirmed);
        let news = refused.is_none();
        *refused = Some(Refusal {
            class,
            reason,
            confirmed,
        });
        news
    }

    /// Whether this client error is the one just reported (within a second): rdkafka passes a
    /// producer's error events to the callback twice, and librdkafka itself already holds
    /// back a broker's identical errors for 30 s.
    pub fn repeated_client_error(&self, error: &rdkafka::error::KafkaError, reason: &str) -> bool {
        let text = format!("{error}: {reason}");
        let mut last = lock(&self.last_client_error);
        let repeated = last
            .as_ref()
            .is_some_and(|(t, at)| *t == text && at.elapsed() < Duration::from_secs(1));
        *last = Some((text, Instant::now()));
        repeated
    }

    /// The suspected refusal stands: no broker answers after it. Records are kept as in an
    /// outage, and every awaited `emit` fails at once with the reason. Returns it, if that is
    /// news.
    pub fn confirm_refusal(&self) -> Option<(Class, String)> {
        let (class, reason) = {
            let mut refused = lock(&self.refused);
            let refusal = refused.as_mut().filter(|r| !r.confirmed)?;
            refusal.confirmed = true;
            (refusal.class, refusal.reason.clone())
        };
        self.mark_brokers_down();
        self.fail_waiters(class, &reason);
        Some((class, reason))
    }

    /// A broker answered after a refusal was suspected: it was one broker's, or passed.
    pub fn clear_suspected_refusal(&self) {
        let mut refused = lock(&self.refused);
        if refused.as_ref().is_some_and(|r| !r.confirmed) {
            *refused = None;
        }
    }

    /// A refusal waits for the watch thread's probe to confirm it.
    pub fn refusal_suspected(&self) -> bool {
        lock(&self.refused).as_ref().is_some_and(|r| !r.confirmed)
    }

    /// Replaces the configuration's secrets in text from librdkafka.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// Every awaited `emit` hears why now, rather than after the delivery timeout; their
    /// records stay queued, as those of callers that stopped waiting.
    fn fail_waiters(&self, class: Class, reason: &str) {
        let waiters: Vec<Waiter> = lock(&self.waiters).drain().map(|(_, w)| w).collect();
        for waiter in waiters {
            let _ = waiter.reply.send(Err((class, reason.to_owned())));
        }
    }

    /// Why the brokers refuse this client, once confirmed.
    pub fn client_refused(&self) -> Option<(Class, String)> {
        lock(&self.refused)
            .as_ref()
            .filter(|r| r.confirmed)
            .map(|r| (r.class, r.reason.clone()))
    }

    pub fn overflow(&self) -> OverflowPolicy {
        self.overflow
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
            refused_client: self.brokers_down.load(Ordering::Acquire)
                && lock(&self.refused).as_ref().is_some_and(|r| r.confirmed),
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
        // Under the refusal's lock, so a refusal reported meanwhile is not lost between the two.
        let news = {
            let mut refused = lock(&self.refused);
            refused.take();
            self.brokers_down.swap(false, Ordering::AcqRel)
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared::new(
            None,
            OverflowPolicy::DropNewest,
            Duration::from_secs(60),
            None,
            Redactor::default(),
        )
    }

    #[test]
    fn a_refusal_is_suspected_until_a_probe_confirms_it() {
        let shared = shared();
        let (_, mut reply, _guard) = shared.expect_reply();
        assert!(shared.mark_client_refused(Class::Authentication, "invalid-proof"));
        // One broker's refusal is not an outage, and nobody is told yet.
        assert!(shared.refusal_suspected() && !shared.brokers_down());
        assert!(reply.try_recv().is_err(), "still waiting");
        assert!(!shared.state().refused_client);
        // The probe found no broker that answers: it stands.
        assert_eq!(
            shared.confirm_refusal(),
            Some((Class::Authentication, "invalid-proof".to_owned()))
        );
        assert_eq!(
            reply.try_recv().unwrap(),
            Err((Class::Authentication, "invalid-proof".to_owned()))
        );
        assert!(shared.state().refused_client && shared.brokers_down());
        assert!(shared.confirm_refusal().is_none());
        // A broker accepting the client ends it.
        assert!(shared.mark_brokers_up());
        assert!(!shared.state().refused_client && shared.client_refused().is_none());
    }

    #[test]
    fn a_refusal_a_broker_contradicts_is_cleared() {
        let shared = shared();
        let (_, mut reply, _guard) = shared.expect_reply();
        shared.mark_client_refused(Class::Tls, "handshake");
        shared.clear_suspected_refusal();
        assert!(!shared.refusal_suspected() && shared.client_refused().is_none());
        assert!(reply.try_recv().is_err(), "still waiting");
        assert!(shared.confirm_refusal().is_none());
    }

    #[test]
    fn an_error_repeated_at_once_is_recognised() {
        let shared = shared();
        let error = rdkafka::error::KafkaError::Global(
            rdkafka::error::RDKafkaErrorCode::BrokerTransportFailure,
        );
        assert!(!shared.repeated_client_error(&error, "a"));
        assert!(shared.repeated_client_error(&error, "a"));
        assert!(!shared.repeated_client_error(&error, "b"));
    }
}
