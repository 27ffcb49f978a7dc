//! The replay thread: sends spooled records again, oldest segment first, and deletes a segment
//! only once the broker acknowledged every record in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer as _, PurgeConfig, ThreadedProducer};

use super::context::{Context, Shared, Tag, now_micros};
use super::owned_headers;
use crate::producer::header_pairs;
use crate::stats::Counters;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(100);

pub(super) struct Replayer {
    pub producer: ThreadedProducer<Context>,
    pub shared: Arc<Shared>,
    pub stop: Arc<Signal>,
    /// Set by `Drop`: stop at once instead of waiting for the current batch's reports.
    pub abandon: Arc<AtomicBool>,
}

impl Replayer {
    pub fn run(self) {
        let Some(spool) = &self.shared.spool else {
            return;
        };
        let stopped = || self.stop.is_set();
        let mut backoff = MIN_BACKOFF;
        let mut purged_for_outage = false;
        while !stopped() {
            if self.shared.brokers_down.load(Ordering::Acquire) {
                if !purged_for_outage {
                    // Records waiting in memory for a broker that is gone are safer on disk: the
                    // purge fails them, and the delivery callback spools the detached ones.
                    self.producer
                        .purge(PurgeConfig::default().queue().inflight());
                    purged_for_outage = true;
                }
            } else {
                purged_for_outage = false;
            }
            spool.sync_if_due();
            let Some(segment) = spool.oldest() else {
                spool.wait_changed(TICK);
                continue;
            };
            let records = match spool.read(&segment) {
                Ok(records) => records,
                Err(error) => {
                    tracing::error!(%error, "kafka-events: could not read the spool");
                    spool.wait_changed(MAX_BACKOFF);
                    continue;
                }
            };
            let count = records.len() as u64;
            self.shared.replay.start(count);
            let mut handed = 0;
            for record in &records {
                let headers = owned_headers(header_pairs(&record.headers));
                let mut pending = Some(
                    BaseRecord::with_opaque_to(&record.topic, Tag::Replay(now_micros()).encode())
                        .key(&record.key[..])
                        .payload(&record.payload[..])
                        .headers(headers),
                );
                let sent = self.shared.room.wait_for(MAX_BACKOFF, || {
                    match self.producer.send(pending.take().expect("record to send")) {
                        Ok(()) => Some(true),
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                            if !stopped() =>
                        {
                            pending = Some(back);
                            None
                        }
                        Err((error, _)) => {
                            tracing::debug!(%error, "kafka-events: replay send refused");
                            Some(false)
                        }
                    }
                });
                if sent != Some(true) {
                    break;
                }
                handed += 1;
            }
            Counters::add(&self.shared.counters.enqueued, handed);
            self.shared.replay.abandon(count - handed);
            let Some(failed) = self
                .shared
                .replay
                .wait(|| self.abandon.load(Ordering::Acquire))
            else {
                return;
            };
            if failed == 0 {
                // Counted before the segment disappears, so whoever sees an empty spool also
                // sees these records as replayed.
                Counters::add(&self.shared.counters.replayed, count);
                if let Err(error) = spool.remove(&segment) {
                    tracing::error!(%error, "kafka-events: could not delete a replayed segment");
                }
                self.shared.brokers_down.store(false, Ordering::Release);
                backoff = MIN_BACKOFF;
            } else {
                // The whole segment goes again: its acknowledged records become duplicates,
                // which consumers recognise by event id.
                Counters::add(&self.shared.counters.retried, count);
                tracing::debug!(failed, ?backoff, "kafka-events: replay failed, retrying");
                self.stop.wait(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A flag that can be waited on.
#[derive(Default)]
pub(super) struct Signal {
    set: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

impl Signal {
    pub fn set(&self) {
        *super::context::lock(&self.set) = true;
        self.changed.notify_all();
    }

    pub fn is_set(&self) -> bool {
        *super::context::lock(&self.set)
    }

    /// Waits up to `timeout` for the flag.
    pub fn wait(&self, timeout: Duration) {
        let set = super::context::lock(&self.set);
        let _ = self.changed.wait_timeout_while(set, timeout, |set| !*set);
    }
}
