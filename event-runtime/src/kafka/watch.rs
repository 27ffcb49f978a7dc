//! The producer's watch thread: whatever must happen beside the sends, blocking as it may.
//!
//! - A librdkafka producer that raised a fatal error is replaced by a new one (a new producer
//!   id), what it held is drained from it, and the records that waited for the new one are sent.
//! - When a record failed with records behind it in librdkafka's memory, those are taken back
//!   (purged) so that none of its key is delivered before it; their reports spool them, in the
//!   order they were handed over once all are in. A purge first waits for the hand-overs under
//!   way, and until its reports are in new records go behind what it took back, and replay
//!   waits.
//! - While every broker is down (or refuses the client) it probes until one answers, and
//!   confirms or clears a suspected refusal; records in memory are moved to the spool.
//! - With a spool, it checks what an earlier run left there, then replays pending records,
//!   oldest segment first, record by record, a segment while the one before it still awaits
//!   its reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::producer::{Producer as _, PurgeConfig};
use rdkafka::util::Timeout;

use super::apply;
use super::classify::{Class, classify};
use super::clients::{Client, Clients, generation};
use super::fate::{Event, Fate, Origin, Outage, fate, outage};
use super::record::{Tag, base_record, record_bytes};
use super::shared::Shared;
use crate::flow::Backoff;
use crate::message::MessageRef;
use crate::spool::{Caller, Position, Spool};
use crate::stats::Count;

/// How long to wait for something to change before looking again.
const TICK: Duration = Duration::from_millis(100);
/// How long a metadata request may take while probing for a broker: at first, and at most
/// after probes that went unanswered (a slow broker is not a missing one).
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT_MAX: Duration = Duration::from_secs(5);
/// How long the probe that confirms a suspected refusal may take: long enough for librdkafka
/// to reconnect and authenticate again after a refused re-authentication.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest the thread spends on records waiting for a new producer before it looks after
/// its other duties.
const RESEND_TURN: Duration = Duration::from_secs(1);
/// How long the thread sleeps between looks when there is nothing else to wait on.
const IDLE: Duration = Duration::from_millis(250);
/// How often segments an earlier run left that could not be read are tried again.
const RECHECK: Duration = Duration::from_secs(5);
/// How long records waiting behind librdkafka's wait for those to be taken back, or for the
/// spool to take them.
const BEHIND_WAIT: Duration = Duration::from_secs(30);
/// How long a purge waits for the hand-overs under way (each a few microseconds, unless its
/// thread stalls).
const HAND_OVER_WAIT: Duration = Duration::from_secs(1);
/// How long taking records back may last before it is ended all the same (their reports come
/// at once; this only guards against a count that never settles).
const TAKE_BACK_MAX: Duration = Duration::from_secs(30);
/// How long a producer that failed for good is given to report the records it had sent.
const FATAL_DRAIN: Duration = Duration::from_secs(5);

/// Runs the watch thread until stopped.
pub(super) struct Watch {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

struct Stop {
    set: AtomicBool,
    shared: Arc<Shared>,
}

impl Stop {
    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Sleeps up to `timeout`, waking early when stopped or when there is work.
    fn pause(&self, timeout: Duration) {
        let seen = self.shared.wake().rung();
        if !self.is_set() {
            self.shared.wake().wait(seen, timeout);
        }
    }
}

impl Watch {
    pub fn start(clients: Arc<Clients>, shared: Arc<Shared>) -> std::io::Result<Watch> {
        let stop = Arc::new(Stop {
            set: AtomicBool::new(false),
            shared: shared.clone(),
        });
        let watcher = Watcher {
            clients,
            shared,
            stop: stop.clone(),
            taking_back_since: std::cell::Cell::new(None),
            buffer: std::cell::Cell::new(Vec::new()),
        };
        let thread = std::thread::Builder::new()
            .name("kafka-events-watch".into())
            .spawn(move || watcher.run())?;
        Ok(Watch {
            stop,
            thread: Some(thread),
        })
    }

    /// Asks the thread to stop; it does within about [`TICK`], after a send in progress.
    pub fn stop(&self) {
        self.stop.set.store(true, Ordering::Release);
        self.stop.shared.wake_watch();
    }

    /// Stops and waits for the thread. Blocks: for the producer's own shutdown thread.
    pub fn join(mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watch {
    /// A handle dropped without `join` (a `close` future never polled) still stops the thread,
    /// which lets go of the producer and the spool.
    fn drop(&mut self) {
        self.stop();
    }
}

struct Watcher {
    clients: Arc<Clients>,
    shared: Arc<Shared>,
    stop: Arc<Stop>,
    /// Since when records taken back have been waiting for their reports.
    taking_back_since: std::cell::Cell<Option<Instant>>,
    /// What replay reads segments into, kept from one segment to the next while it replays
    /// (a segment's worth of memory, allocated and zeroed once rather than per segment).
    buffer: std::cell::Cell<Vec<u8>>,
}

/// Why a replay stopped sending a segment's records.
#[derive(PartialEq)]
enum Interrupted {
    No,
    /// Records behind a failed one were taken back: the rest waits for the next replay.
    Purged,
    Stopped,
}

impl Watcher {
    fn run(self) {
        let stopped = || self.stop.is_set();
        let spool = self.shared.spool();
        if let Some(spool) = spool {
            spool.recover(stopped);
        }
        let mut recheck_at = Instant::now() + RECHECK;
        let mut probe = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        let mut probe_timeout = Backoff::new(PROBE_TIMEOUT, PROBE_TIMEOUT_MAX);
        let mut replace = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut purged_for_outage = false;
        while !stopped() {
            self.shared.check_fatal();
            if self.shared.take_replace_due() && !self.replace_fatal() {
                self.shared.replace_failed();
                self.stop.pause(replace.next());
                continue;
            }
            replace.reset();
            self.finish_taking_back();
            self.resend();
            self.purge_for_order();
            self.move_behind();
            self.check_refusal();
            if self.shared.brokers_down() {
                // Replay's buffer is not kept through an outage.
                self.buffer.take();
                if !purged_for_outage && outage(&self.shared.state()) == Outage::Purge {
                    // Records waiting in memory for brokers that are gone are safer on disk:
                    // the purge fails them, and their reports spool them (or tell the callers
                    // awaiting them).
                    self.purge(&self.clients.all());
                    purged_for_outage = true;
                }
                if self.probe(probe_timeout.next()) {
                    if self.shared.mark_brokers_up() {
                        tracing::info!("kafka-events: a broker answers again");
                    }
                    probe.reset();
                    probe_timeout.reset();
                } else {
                    self.stop.pause(probe.next());
                }
                continue;
            }
            let Some(spool) = spool else {
                self.stop.pause(IDLE);
                continue;
            };
            purged_for_outage = false;
            if Instant::now() >= recheck_at {
                if spool.has_unchecked() {
                    spool.recover(stopped);
                }
                recheck_at = Instant::now() + RECHECK;
            }
            let seen = self.shared.reports().rung();
            if !self.finish_taking_back() {
                // Replay waits until what was taken back is reported: then nothing it hands
                // over keeps the taking back going, and new records go to librdkafka again.
                self.shared.reports().wait(seen, TICK);
                continue;
            }
            let seen = spool.bell().rung();
            match spool.next_to_replay() {
                Some(ticket) => self.replay(spool, ticket.segment, &ticket),
                None => {
                    // Nothing to replay: its buffer is not kept for the next backlog.
                    self.buffer.take();
                    spool.bell().wait(seen, TICK);
                }
            }
        }
    }

    /// Sends the records of one segment to send now; the segment is done with once their
    /// reports are in (the next one may be replayed meanwhile). A segment that can't be read
    /// stays in the spool, logged, and is read again later (the spool decides how later
    /// segments wait for it).
    fn replay(&self, spool: &Spool, segment: u64, ticket: &crate::spool::Ticket) {
        let Ok(loaded) = spool.load(ticket, self.buffer.take()) else {
            return;
        };
        let mut interrupted = Interrupted::No;
        let mut headers = Vec::new();
        for (index, span) in &loaded.records {
            interrupted = self.interruption();
            if interrupted != Interrupted::No {
                break;
            }
            let position = Position {
                segment,
                index: *index,
            };
            match loaded.record(*span, &mut headers) {
                Some(record) => self.send(spool, position, &record),
                // The load decoded every record it returns.
                None => {
                    tracing::error!(?position, "kafka-events: a spooled record does not decode")
                }
            }
        }
        spool.sent(segment);
        if interrupted == Interrupted::Purged {
            self.purge(&[self.clients.detached().clone()]);
        }
        self.buffer.set(loaded.into_buffer());
    }

    /// Whether a replay must stop sending: the thread is stopping, the producer failed for
    /// good, or a record failed and what is behind it must be taken back. Waits while replay's
    /// window is full: its records' reports make room, whether they are delivered or fail (by
    /// the delivery timeout at the latest; a failure then takes back what is behind it).
    fn interruption(&self) -> Interrupted {
        loop {
            let seen = self.shared.reports().rung();
            if self.stop.is_set() || self.shared.is_replacing() {
                return Interrupted::Stopped;
            } else if self.shared.take_order_purge() {
                return Interrupted::Purged;
            } else if self.shared.replay_has_room() {
                return Interrupted::No;
            }
            self.shared.reports().wait(seen, TICK);
            // As while waiting for room in librdkafka's queue: a refusal suspected meanwhile
            // is confirmed or cleared.
            self.check_refusal();
        }
    }

    /// Hands one spooled record to librdkafka, waiting for room if its queue is full.
    fn send(&self, spool: &Spool, position: Position, record: &MessageRef<'_>) {
        loop {
            spool.sending(position);
            let client = self.clients.detached();
            let tag = Tag::Spooled(position);
            let sent = client.send(base_record(record, tag));
            let error = match sent {
                Ok(()) => {
                    self.shared.handed_over(record_bytes(record), tag);
                    self.shared.counters().add(Count::Enqueued, 1);
                    return;
                }
                Err((error, _)) => error,
            };
            spool.release(position);
            let class = classify(&error);
            let mut state = self
                .shared
                .state_for(class, record.topic, generation(&client));
            // This thread may wait; it stops waiting when asked to stop.
            state.may_block = true;
            state.out_of_time = self.stop.is_set();
            match fate(Origin::Spooled, Event::Refused(class), &state) {
                Fate::WaitForRoom => {
                    let seen = self.shared.reports().rung();
                    self.shared.reports().wait(seen, TICK);
                    self.check_refusal();
                }
                Fate::Quarantine => {
                    spool.sending(position);
                    apply::quarantine(
                        &self.shared,
                        (*record).into(),
                        error.to_string(),
                        class,
                        Some(position),
                    );
                    return;
                }
                // Retry: it stays in the spool, for the segment's next replay.
                _ => return,
            }
        }
    }

    /// A librdkafka producer raised a fatal error: it is replaced by a new one built from the
    /// same configuration, given a while to report the records it had sent, and dropped (which
    /// takes back the rest: their reports send them to the spool, or to the new producer).
    /// Returns false when a new one could not be built yet.
    fn replace_fatal(&self) -> bool {
        let reason = self.clients.fatal();
        self.shared.next_generation();
        let old = match self.clients.replace_failed() {
            Ok(old) => old,
            Err(error) => {
                tracing::error!(%error, "kafka-events: could not build a producer to replace one that failed for good; trying again");
                return false;
            }
        };
        for client in old {
            let _ = client.flush(Timeout::After(FATAL_DRAIN));
            drop_last(client);
        }
        tracing::warn!(
            reason = reason.map(|r| self.shared.redact(&r)),
            "kafka-events: replaced the librdkafka producer that could not go on (a new producer id)"
        );
        true
    }

    /// Sends the records that waited for a new producer, in order; the replacement is over when
    /// none is left. A record that finds no room waits for it, a while: this thread has other
    /// duties, and comes back. One the new producer refuses for good is answered (an awaited
    /// caller hears why) or dropped, counted and logged; a new fatal error sends the thread
    /// back to replace that producer too.
    fn resend(&self) {
        let started = Instant::now();
        while let Some((message, tag)) = self.shared.next_resend() {
            let client = match tag {
                Tag::Awaited(_) => self.clients.awaited(),
                _ => self.clients.detached(),
            };
            // A detached record takes its place in the order as it is handed over.
            let tag = match tag {
                Tag::Detached { at, .. } => Tag::Detached {
                    seq: self.shared.direct_sending(),
                    at,
                },
                other => other,
            };
            let sent = message.with_ref(|m| {
                client
                    .send(base_record(&m, tag))
                    .map(|()| record_bytes(&m))
                    .map_err(|(e, _)| e)
            });
            let error = match sent {
                Ok(bytes) => {
                    self.shared.handed_over(bytes, tag);
                    self.shared.counters().add(Count::Enqueued, 1);
                    continue;
                }
                Err(error) => error,
            };
            if matches!(tag, Tag::Detached { .. }) {
                self.shared.direct_reported();
            }
            let class = classify(&error);
            match class {
                Class::QueueFull => {
                    self.shared.put_back_resend(message, tag);
                    if self.stop.is_set() || started.elapsed() >= RESEND_TURN {
                        return;
                    }
                    let seen = self.shared.reports().rung();
                    self.shared.reports().wait(seen, TICK);
                }
                Class::Fatal => {
                    self.shared
                        .state_for(class, &message.topic, generation(&client));
                    self.shared.put_back_resend(message, tag);
                    return;
                }
                _ => {
                    let reason = error.to_string();
                    let waiter = match tag {
                        Tag::Awaited(id) => self.shared.waiters().take(id),
                        _ => None,
                    };
                    let unheard =
                        waiter.is_none_or(|w| w.reply.send(Err((class, reason.clone()))).is_err());
                    if unheard {
                        message.with_ref(|message| {
                            apply::drop(&self.shared, message, &reason, class);
                        });
                    }
                }
            }
        }
    }

    /// Moves the records that wait behind librdkafka's into the spool, in order, once the
    /// reports of those are in. In an outage, with a producer being replaced, or when records
    /// pile up behind a broker that stalls, librdkafka's are taken back (their reports come at
    /// once); otherwise they are delivered or fail in
    /// their own time (within the delivery timeout), and this thread does not wait for them.
    /// Moves at most what waited when it started, so that a steady stream of records keeps
    /// none of its other duties waiting.
    fn move_behind(&self) {
        let waiting = self.shared.behind_len();
        if waiting == 0 {
            return;
        }
        if self.shared.direct_pending() > 0 {
            // With every broker down, a producer being replaced, or a broker that stalls (its
            // reports come only at the records' timeout while callers' records pile up behind
            // them), librdkafka's records are taken back: their reports spool them at once.
            if self.shared.brokers_down()
                || self.shared.is_replacing()
                || self.shared.behind_piling_up()
            {
                self.purge(&[self.clients.detached().clone()]);
            }
            return;
        }
        self.shared.drain_behind(waiting, |message| {
            let caller = Caller::MayWaitUntil(Instant::now() + BEHIND_WAIT);
            // Counted and logged there, whatever the outcome.
            let _ = message.with_ref(|m| apply::spool(&self.shared, m, caller));
        });
    }

    /// Takes back what librdkafka holds when a record failed with records behind it.
    fn purge_for_order(&self) {
        if self.shared.take_order_purge() {
            self.purge(&[self.clients.detached().clone()]);
        }
    }

    /// Ends the taking back once what was taken back is reported (see
    /// [`Shared::finish_taking_back`]); returns whether it is over. One that lasts past
    /// [`TAKE_BACK_MAX`] is ended all the same, with a warning, rather than hold replay (the
    /// records taken back still wait for the last report to reach the spool).
    fn finish_taking_back(&self) -> bool {
        if self.shared.finish_taking_back() {
            self.taking_back_since.set(None);
            return true;
        }
        let since = *self
            .taking_back_since
            .get()
            .get_or_insert_with(Instant::now);
        self.taking_back_since.set(Some(since));
        if since.elapsed() < TAKE_BACK_MAX {
            return false;
        }
        tracing::warn!(
            direct = self.shared.direct_pending(),
            "kafka-events: records taken back from librdkafka were not all reported within {TAKE_BACK_MAX:?}; replay goes on without waiting for them (the order per key of what it sends meanwhile is not ensured)"
        );
        self.shared.end_taking_back();
        self.taking_back_since.set(None);
        true
    }

    /// Takes back what the clients hold. New records go behind what is taken back until its
    /// reports are in ([`Shared::finish_taking_back`]); and the purge waits for the hand-overs
    /// under way, since an emit that read the state before what asked for this purge (an
    /// outage, a failed record) may be about to send, and its record must not stay behind in
    /// librdkafka, to reach the broker ahead of older records of its key.
    fn purge(&self, clients: &[Arc<Client>]) {
        self.shared.start_taking_back();
        if !self.shared.wait_for_hand_overs(HAND_OVER_WAIT) {
            tracing::warn!(
                "kafka-events: an emit handing a record to librdkafka stalled for {HAND_OVER_WAIT:?}; purging without it (that record may reach the broker ahead of older records of its key)"
            );
        }
        for client in clients {
            client.purge(PurgeConfig::default().queue().inflight());
        }
    }

    /// Whether a broker answers a metadata request within `timeout`.
    fn probe(&self, timeout: Duration) -> bool {
        self.clients
            .detached()
            .client()
            .fetch_metadata(None, timeout)
            .is_ok()
    }

    /// A broker refused the client: asks the cluster for metadata. No broker answering
    /// confirms the refusal (awaited emits then fail at once); one answering clears it (it was
    /// one broker's, or a re-authentication that failed once). Blocks up to
    /// [`CONFIRM_TIMEOUT`], on this thread.
    fn check_refusal(&self) {
        if !self.shared.refusal_suspected() {
            return;
        }
        if self
            .clients
            .detached()
            .client()
            .fetch_metadata(None, CONFIRM_TIMEOUT)
            .is_ok()
        {
            self.shared.clear_suspected_refusal();
        } else if let Some((class, reason)) = self.shared.confirm_refusal() {
            tracing::error!(
                reason,
                "kafka-events: {}; awaited emits fail until a broker accepts the client",
                class.refusal()
            );
        }
    }
}

/// Drops a replaced producer on this thread, once the sends that were using it let go of it:
/// dropping the last handle takes back what it holds and joins its thread, which no emitting
/// thread may do.
fn drop_last(mut client: Arc<Client>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Arc::try_unwrap(client) {
            Ok(client) => return drop(client),
            Err(shared) if Instant::now() < deadline => {
                client = shared;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(shared) => {
                tracing::warn!(
                    "kafka-events: a replaced librdkafka producer is still in use; it is dropped by its last user"
                );
                return drop(shared);
            }
        }
    }
}
