//! What the producer, librdkafka's callbacks and the watch thread share: the producer's state
//! (brokers down, closing, the client refused), the awaited emits' waiters, the spool, the
//! counters. Its fields are private; its methods say what happened. Those that keep each
//! key's order around librdkafka (records taken back, held behind, the gate) are in `order`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::classify::Class;
use super::config::OverflowPolicy;
use super::fate::ProducerState;
use super::held::HeldQueue;
use super::missing::MissingTopics;
use super::record::Tag;
use super::refusal::Refusals;
use super::security::Tokens;
use super::waiters::Waiters;
use crate::flow::{Bell, lock};
use crate::gate::Gate;
use crate::message::Message;
use crate::otel::Telemetry;
use crate::secret::Redactor;
use crate::spool::Spool;
use crate::stats::Counters;
use crate::striped::{Padded, StripedSum};

mod order;
mod window;

use window::ReplayWindow;

pub(super) struct Shared {
    counters: Counters,
    /// Spans and instruments (feature `otel`; nothing without it).
    telemetry: Telemetry,
    spool: Option<Spool>,
    overflow: OverflowPolicy,
    waiters: Waiters,
    /// librdkafka reported every broker down, and none has answered since.
    brokers_down: AtomicBool,
    closing: AtomicBool,
    close_waits: AtomicBool,
    handed_back: Mutex<Vec<Message>>,
    /// Rung by every delivery report: there is room in librdkafka's queue again, and progress
    /// for whoever waits for everything to be delivered.
    /// On a cache line of its own, as `direct`: rung at every report.
    reports: Padded<Bell>,
    /// A record failed with records behind it in librdkafka's memory: the watch thread takes
    /// them back, so that none of its key is delivered before it.
    order_purge: AtomicBool,
    /// librdkafka raised a fatal error: records wait (in the spool, or in memory) for the
    /// producer that replaces the one that did, until none is left waiting.
    replacing: AtomicBool,
    /// A producer that raised a fatal error waits for the watch thread to replace it.
    replace_due: AtomicBool,
    /// Which librdkafka clients are the current ones: the count of replacements begun.
    generation: AtomicU64,
    /// One more than the newest generation whose fatal error was taken note of (0: none).
    fatal_seen: AtomicU64,
    fatal_errors: AtomicU64,
    /// Records waiting, in order, for the producer that replaces one that failed for good.
    resend: HeldQueue<Tag>,
    /// Detached records from `emit_detached` (not replayed ones) handed to librdkafka, or
    /// being handed over, so far: the count gives each its place in the order
    /// ([`Tag::Detached`]). Those whose reports have not come yet are `sent - reported`.
    /// On a cache line of its own: every emit changes it, and the state every emit reads must
    /// not share its line.
    sent: Padded<AtomicU64>,
    /// Of `sent`, those whose reports came (or that librdkafka refused).
    reported: Padded<AtomicU64>,
    /// Records that came back from librdkafka bound for the spool (failed, or taken back by a
    /// purge), by their place in the order: librdkafka may report them out of it. Sorted, and
    /// written to the spool, once every detached record's report is in; ahead of `behind`.
    taken: HeldQueue<u32>,
    /// Records bound for the spool that wait behind the detached records librdkafka still
    /// holds: those are taken back and reach the spool first, then these, in order.
    behind: HeldQueue<()>,
    /// Records were taken back from librdkafka and their reports are not all in: they are on
    /// their way to the spool (or back to it), and new records go behind them. Set and cleared
    /// by the watch thread only.
    taking_back: AtomicBool,
    /// Passed by an `emit_detached` from reading the state to handing its record to librdkafka:
    /// a purge waits for the hand-overs under way, so that it takes back every record sent on
    /// the state before it was asked for (a record handed over just after the purge would
    /// otherwise stay in librdkafka and reach the broker ahead of older records of its key).
    handovers: Gate,
    /// Bytes of the records librdkafka holds (handed over, not yet reported). Signed: a report
    /// may be counted a moment before its record's hand-over. Striped: every emit adds to it
    /// and every report takes away.
    librdkafka_bytes: StripedSum,
    /// The spooled records (replayed or written ahead) librdkafka holds: replay keeps them
    /// within it.
    replay_window: ReplayWindow,
    /// Rung when the watch thread has something to do now.
    wake: Bell,
    /// Whether a librdkafka client of this producer raised a fatal error (librdkafka says so in
    /// its client's state, not in the error it reports).
    client_failed: OnceLock<Box<dyn Fn() -> Option<u64> + Send + Sync>>,
    missing: MissingTopics,
    /// Why the brokers refuse this client (authentication or TLS), until one accepts it.
    refusals: Refusals,
    /// Replaces the configuration's secrets in what librdkafka says.
    redactor: Redactor,
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
        telemetry: Telemetry,
        max_queued: (u32, u64),
    ) -> Self {
        Shared {
            counters: Counters::default(),
            telemetry,
            spool,
            overflow,
            waiters: Waiters::default(),
            brokers_down: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close_waits: AtomicBool::new(false),
            handed_back: Mutex::new(Vec::new()),
            reports: Padded::default(),
            order_purge: AtomicBool::new(false),
            replacing: AtomicBool::new(false),
            replace_due: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            fatal_seen: AtomicU64::new(0),
            fatal_errors: AtomicU64::new(0),
            resend: HeldQueue::new(),
            sent: Padded::default(),
            reported: Padded::default(),
            taken: HeldQueue::new(),
            behind: HeldQueue::new(),
            taking_back: AtomicBool::new(false),
            handovers: Gate::default(),
            librdkafka_bytes: StripedSum::default(),
            replay_window: ReplayWindow::new(max_queued.0, max_queued.1),
            wake: Bell::default(),
            client_failed: OnceLock::new(),
            missing: MissingTopics::new(missing_topic_timeout),
            refusals: Refusals::default(),
            redactor,
            tokens,
        }
    }

    pub fn tokens(&self) -> Option<&Tokens> {
        self.tokens.as_deref()
    }

    pub fn waiters(&self) -> &Waiters {
        &self.waiters
    }

    pub fn overflow(&self) -> OverflowPolicy {
        self.overflow
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
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

    /// Replaces the configuration's secrets in text from librdkafka.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// The producer's state, as the fate of a record needs it.
    pub fn state(&self) -> ProducerState {
        let brokers_down = self.brokers_down.load(Ordering::Acquire);
        // In the order records move: taken back, then out of memory (counted there until they
        // are in the spool), then out of the spool's waiting ones. Read the other way, a
        // record moving meanwhile would be in neither place.
        let taking_back = self.taking_back.load(Ordering::Acquire);
        let held = self.behind_len() > 0;
        let spool_backlog = held || self.spool.as_ref().is_some_and(Spool::has_waiting);
        ProducerState {
            spool: self.spool.as_ref().map(Spool::durability),
            brokers_down,
            closing: self.closing.load(Ordering::Acquire),
            close_waits: self.close_waits.load(Ordering::Acquire),
            overflow: self.overflow,
            may_block: false,
            out_of_time: false,
            topic_gone: false,
            refused_client: brokers_down && self.refusals.is_confirmed(),
            spool_backlog,
            replacing: self.replacing.load(Ordering::Acquire),
            taking_back,
        }
    }

    /// The state for a record that a librdkafka client of `generation` said `class` about:
    /// whether its topic has been missing too long is looked up only when that is what it
    /// said; a fatal error is taken note of (the watch thread replaces the producer that raised
    /// it). A fatal error from a client already replaced is old news: it replaces the current
    /// ones only if they raised one themselves.
    pub fn state_for(&self, class: Class, topic: &str, generation: u64) -> ProducerState {
        match class {
            // Whatever librdkafka's client says of itself: its producer id can't go on.
            Class::Fatal => {
                self.mark_fatal(generation);
            }
            Class::Purged => {
                self.check_fatal();
            }
            _ => {}
        }
        let mut state = self.state();
        if class == Class::TopicMissing {
            state.topic_gone = self.missing.missing(topic);
        }
        state
    }

    /// The generation of the current librdkafka clients.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The clients built from now on are a new generation: the ones they replace are old.
    pub fn next_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A record reached `topic`: it exists.
    pub fn topic_exists(&self, topic: &str) {
        self.missing.exists(topic);
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

    /// A broker answered (an acknowledgement, or metadata); it accepted the client. Returns
    /// whether that is news.
    pub fn mark_brokers_up(&self) -> bool {
        // Read first: this runs for every acknowledgement.
        if !self.brokers_down.load(Ordering::Acquire) {
            return false;
        }
        let news = self
            .refusals
            .clear_with(|| self.brokers_down.swap(false, Ordering::AcqRel));
        if let Some(spool) = &self.spool {
            spool.bell().ring();
        }
        self.reports.ring();
        news
    }

    pub fn brokers_down(&self) -> bool {
        self.brokers_down.load(Ordering::Acquire)
    }

    /// A broker refused this client (its credentials, or the TLS handshake): suspected until
    /// the watch thread's probe confirms ([`confirm_refusal`](Self::confirm_refusal)) or clears
    /// it. Returns whether that is news.
    pub fn mark_client_refused(&self, class: Class, reason: &str) -> bool {
        self.refusals.suspect(class, self.redactor.redact(reason))
    }

    /// Whether this client error is the one just reported (see [`Refusals::repeated`]).
    pub fn repeated_client_error(&self, error: &rdkafka::error::KafkaError, reason: &str) -> bool {
        self.refusals.repeated(format!("{error}: {reason}"))
    }

    /// The suspected refusal stands: no broker answers after it. Records are kept as in an
    /// outage, and every awaited `emit` fails at once with the reason. Returns it, if that is
    /// news.
    pub fn confirm_refusal(&self) -> Option<(Class, String)> {
        let (class, reason) = self.refusals.confirm()?;
        self.mark_brokers_down();
        self.waiters.fail_all(class, &reason);
        Some((class, reason))
    }

    /// A broker answered after a refusal was suspected: it was one broker's, or passed.
    pub fn clear_suspected_refusal(&self) {
        self.refusals.clear_suspected();
    }

    /// A refusal waits for the watch thread's probe to confirm it.
    pub fn refusal_suspected(&self) -> bool {
        self.refusals.suspected()
    }

    /// Why the brokers refuse this client, once confirmed.
    pub fn client_refused(&self) -> Option<(Class, String)> {
        self.refusals.confirmed()
    }

    /// Asks the watch thread to take back what librdkafka holds (see
    /// [`keeps_order_by_purging`](super::fate::keeps_order_by_purging)).
    pub fn request_order_purge(&self) {
        if !self.order_purge.swap(true, Ordering::AcqRel) {
            self.wake_watch();
        }
    }

    /// The bell the watch thread waits on when it has nothing to do.
    pub fn wake(&self) -> &Bell {
        &self.wake
    }

    /// Wakes the watch thread, wherever it waits.
    pub fn wake_watch(&self) {
        self.wake.ring();
        if let Some(spool) = &self.spool {
            spool.bell().ring();
        }
        self.reports.ring();
    }

    /// A librdkafka client of `generation` raised a fatal error: records wait (in the spool,
    /// or in memory without one) while the watch thread replaces it. Returns whether that is
    /// news: each generation fails once, and what its clients say after they were replaced
    /// (their reports keep coming for a while) is old news.
    pub fn mark_fatal(&self, generation: u64) -> bool {
        let seen = self.fatal_seen.fetch_max(generation + 1, Ordering::AcqRel);
        if seen > generation {
            return false;
        }
        self.replacing.store(true, Ordering::Release);
        self.replace_due.store(true, Ordering::Release);
        self.fatal_errors.fetch_add(1, Ordering::Relaxed);
        // Only news wakes anyone: an awaited emit that keeps hearing of it waits for the new
        // producer rather than trying again at once.
        self.wake_watch();
        true
    }

    /// Tells how to find out whether a current client raised a fatal error (and its
    /// generation).
    pub fn set_client_failed(
        &self,
        client_failed: impl Fn() -> Option<u64> + Send + Sync + 'static,
    ) {
        let _ = self.client_failed.set(Box::new(client_failed));
    }

    /// Marks a fatal error if a current client raised one; returns whether that is news.
    pub fn check_fatal(&self) -> bool {
        !self.replace_due.load(Ordering::Acquire)
            && self
                .client_failed
                .get()
                .and_then(|failed| failed())
                .is_some_and(|generation| self.mark_fatal(generation))
    }

    /// Whether a producer waits to be replaced: taken by the watch thread, which replaces it
    /// (and calls [`replace_failed`](Self::replace_failed) if it could not).
    pub fn take_replace_due(&self) -> bool {
        self.replace_due.swap(false, Ordering::AcqRel)
    }

    /// A replacement could not be built: it is due again.
    pub fn replace_failed(&self) {
        self.replace_due.store(true, Ordering::Release);
    }

    /// Whether a fatal error waits for its producer to be replaced.
    pub fn is_replacing(&self) -> bool {
        self.replacing.load(Ordering::Acquire)
    }

    /// Fatal errors raised so far.
    pub fn fatal_errors(&self) -> u64 {
        self.fatal_errors.load(Ordering::Relaxed)
    }

    /// Keeps a record that came back from a producer that failed for good, in order, for the
    /// one that replaces it.
    pub fn queue_resend(&self, message: Message, tag: Tag) {
        self.resend.push_back(message, tag);
        self.wake_watch();
    }

    /// Keeps a caller's detached record for the new producer, unless the records waiting for
    /// it fill their memory ([`MAX_HELD_BYTES`](super::held::MAX_HELD_BYTES)).
    pub fn admit_resend(&self, message: Message, tag: Tag) -> Result<(), Message> {
        self.resend.admit(message, tag)?;
        self.wake_watch();
        Ok(())
    }

    /// The next record waiting for the new producer; when none is left, the replacement is over
    /// (checked under the queue's lock, so no record is queued after the last look).
    pub fn next_resend(&self) -> Option<(Message, Tag)> {
        self.resend.pop_front_or(|| {
            if !self.replace_due.load(Ordering::Acquire)
                && self.replacing.swap(false, Ordering::AcqRel)
            {
                self.reports.ring();
            }
        })
    }

    /// Puts a record that could not be resent yet back at the front of the queue.
    pub fn put_back_resend(&self, message: Message, tag: Tag) {
        self.resend.push_front(message, tag);
    }

    /// How many records wait for a new producer.
    pub fn resend_len(&self) -> usize {
        self.resend.len()
    }

    /// Records waiting for a new producer: what `close` hands back (no spool), or counts.
    pub fn take_resends(&self) -> Vec<Message> {
        self.resend.take_all().into_iter().map(|(m, _)| m).collect()
    }

    /// Whether a purge was asked for since the last call.
    pub fn take_order_purge(&self) -> bool {
        self.order_purge.swap(false, Ordering::AcqRel)
    }

    /// librdkafka took a record of `bytes` (see [`record_bytes`](super::record::record_bytes)).
    pub fn handed_over(&self, bytes: u64, tag: Tag) {
        self.librdkafka_bytes.add(bytes as i64);
        if let Tag::Spooled(_) = tag {
            self.replay_window.handed_over(bytes);
        }
    }

    /// librdkafka reported a record of `bytes`, whatever became of it.
    pub fn reported(&self, bytes: u64, tag: Tag) {
        self.librdkafka_bytes.add(-(bytes as i64));
        if let Tag::Spooled(_) = tag {
            self.replay_window.reported(bytes);
        }
    }

    /// Whether replay may hand another spooled record to librdkafka (see [`window`]).
    pub fn replay_has_room(&self) -> bool {
        self.replay_window.has_room()
    }

    /// Bytes of the records in memory: in librdkafka, waiting behind its records, and
    /// waiting for a new producer.
    pub fn bytes_in_memory(&self) -> u64 {
        self.librdkafka_bytes.sum().max(0) as u64
            + (self.taken.bytes() + self.behind.bytes()) as u64
            + self.resend.bytes() as u64
    }

    /// Whether the records waiting behind fill a good part of their memory.
    pub fn behind_piling_up(&self) -> bool {
        self.behind.bytes() >= super::held::PILING_UP_BYTES
    }

    /// Stops taking records. Returns whether this call did it. With `close_waits`, records
    /// that can't be delivered (and can't be spooled) are kept for the caller to take back.
    pub fn start_closing(&self, close_waits: bool) -> bool {
        self.close_waits.fetch_or(close_waits, Ordering::AcqRel);
        !self.closing.swap(true, Ordering::AcqRel)
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Keeps a record for `close` to hand back.
    pub fn hand_back(&self, message: Message) {
        lock(&self.handed_back).push(message);
    }

    pub fn take_handed_back(&self) -> Vec<Message> {
        std::mem::take(&mut *lock(&self.handed_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn shared() -> Shared {
        Shared::new(
            None,
            OverflowPolicy::DropNewest,
            Duration::from_secs(60),
            None,
            Redactor::default(),
            Telemetry::new("test", &[]),
            (100_000, 64 << 20),
        )
    }

    #[test]
    fn a_refusal_is_suspected_until_a_probe_confirms_it() {
        let shared = shared();
        let (_, mut reply, _guard) = shared.waiters().register();
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
        let (_, mut reply, _guard) = shared.waiters().register();
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
