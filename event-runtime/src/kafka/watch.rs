//! The producer's watch thread. While every broker is down (or refuses the client) it probes
//! until one answers, and confirms or clears a suspected refusal; with a spool, it checks what
//! an earlier run left there, then replays pending spooled records, oldest segment first,
//! record by record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::producer::{Producer as _, PurgeConfig, ThreadedProducer};

use super::apply;
use super::classify::classify;
use super::delivery::Context;
use super::fate::{Event, Fate, Origin, Outage, fate, outage};
use super::record::{Tag, base_record};
use super::shared::Shared;
use crate::flow::{Backoff, Bell};
use crate::spool::{Position, Spool};
use crate::stats::Counters;

/// How long to wait for something to change before looking again.
const TICK: Duration = Duration::from_millis(100);
/// How long a metadata request may take while probing for a broker.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the probe that confirms a suspected refusal may take: long enough for librdkafka
/// to reconnect and authenticate again after a refused re-authentication.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the thread sleeps between looks when there is no spool.
const IDLE: Duration = Duration::from_millis(250);
/// How often segments an earlier run left that could not be read are tried again.
const RECHECK: Duration = Duration::from_secs(5);

/// Runs the watch thread until stopped.
pub(super) struct Watch {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Stop {
    set: AtomicBool,
    bell: Bell,
}

impl Stop {
    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Sleeps up to `timeout`, waking early when stopped.
    fn pause(&self, timeout: Duration) {
        let seen = self.bell.rung();
        if !self.is_set() {
            self.bell.wait(seen, timeout);
        }
    }
}

impl Watch {
    pub fn start(
        producer: ThreadedProducer<Context>,
        awaited: Option<ThreadedProducer<Context>>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Watch> {
        let stop = Arc::new(Stop::default());
        let watcher = Watcher {
            producer,
            awaited,
            shared,
            stop: stop.clone(),
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
        self.stop.bell.ring();
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
    producer: ThreadedProducer<Context>,
    awaited: Option<ThreadedProducer<Context>>,
    shared: Arc<Shared>,
    stop: Arc<Stop>,
}

impl Watcher {
    /// A broker refused the client: asks the cluster for metadata. No broker answering
    /// confirms the refusal (awaited emits then fail at once); one answering clears it (it was
    /// one broker's, or a re-authentication that failed once). Blocks up to
    /// [`CONFIRM_TIMEOUT`], on this thread.
    fn check_refusal(&self) {
        if !self.shared.refusal_suspected() {
            return;
        }
        if self
            .producer
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

    fn run(self) {
        let stopped = || self.stop.is_set();
        let spool = self.shared.spool();
        if let Some(spool) = spool {
            spool.recover(stopped);
        }
        let mut recheck_at = Instant::now() + RECHECK;
        let mut probe = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
        let mut purged_for_outage = false;
        while !stopped() {
            self.check_refusal();
            if self.shared.brokers_down() {
                if !purged_for_outage && outage(&self.shared.state()) == Outage::Purge {
                    // The purge fails them, and their delivery reports spool them (or tell the
                    // callers awaiting them).
                    for producer in std::iter::once(&self.producer).chain(&self.awaited) {
                        producer.purge(PurgeConfig::default().queue().inflight());
                    }
                    purged_for_outage = true;
                }
                if self
                    .producer
                    .client()
                    .fetch_metadata(None, PROBE_TIMEOUT)
                    .is_ok()
                {
                    if self.shared.mark_brokers_up() {
                        tracing::info!("kafka-events: a broker answers again");
                    }
                    probe.reset();
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
            let seen = spool.bell().rung();
            let Some(ticket) = spool.next_to_replay() else {
                spool.bell().wait(seen, TICK);
                continue;
            };
            let loaded = match spool.load(&ticket) {
                Ok(loaded) => loaded,
                Err(error) => {
                    tracing::error!(%error, "kafka-events: could not read the spool; retrying");
                    spool.replayed(ticket.segment);
                    continue;
                }
            };
            for (index, span) in &loaded.records {
                if stopped() {
                    break;
                }
                let position = Position {
                    segment: ticket.segment,
                    index: *index,
                };
                match loaded.record(*span) {
                    Some(record) => self.send(spool, position, &record.as_ref()),
                    // The scan checked every record; a record that does not decode can't be here.
                    None => {
                        tracing::error!(?position, "kafka-events: a spooled record does not decode")
                    }
                }
            }
            // Its records' reports decide what is left of the segment; what failed is replayed
            // after a pause, without holding up the segments after it.
            while !spool
                .bell()
                .wait_until(TICK, || stopped() || spool.in_flight(ticket.segment) == 0)
            {
                self.check_refusal();
            }
            spool.replayed(ticket.segment);
        }
    }

    /// Hands one spooled record to librdkafka, waiting for room if its queue is full.
    fn send(&self, spool: &Spool, position: Position, record: &crate::message::MessageRef<'_>) {
        loop {
            spool.sending(position);
            let error = match self
                .producer
                .send(base_record(record, Tag::Spooled(position)))
            {
                Ok(()) => {
                    Counters::add(&self.shared.counters().enqueued, 1);
                    return;
                }
                Err((error, _)) => error,
            };
            spool.release(position);
            let class = classify(&error);
            let mut state = self.shared.state_for(class, record.topic);
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
}
