//! Delivery counters, readable at any time with [`KafkaProducer::stats`](crate::KafkaProducer::stats).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::striped::{Padded, STRIPES, stripe};

/// A snapshot of what a producer did with the records it was given.
///
/// Every record `emit_detached` accepted ends in exactly one of `delivered`, `quarantined` or
/// `dropped`, or is still on its way: in librdkafka's memory (`queue_depth`) or in the spool
/// (`spool_depth`; with write-ahead durability a record being sent is in both). An awaited
/// `emit` that fails hands its record back to the caller with the error, and `close` hands back
/// what it could not deliver without a spool; neither counts them as dropped. `spooled` counts
/// records written to the spool, `replayed` those of them the broker acknowledged (with
/// write-ahead, every acknowledged detached record); `failed` and `retried` count attempts.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 1)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// AuditEntry::new().emit(&producer).await?;
/// assert!(producer.wait_until(Duration::from_secs(5), |stats| stats.delivered == 1).await);
///
/// let stats = producer.stats(); // cheap: read it for metrics and health checks
/// assert_eq!((stats.enqueued, stats.delivered, stats.dropped), (1, 1, 0));
/// assert!(!stats.brokers_down);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryStats {
    /// Records handed to librdkafka's queue (sends, detached sends and replays).
    pub enqueued: u64,
    /// Records the broker acknowledged.
    pub delivered: u64,
    /// Delivery attempts that failed (the record was then spooled, returned or dropped).
    pub failed: u64,
    /// Spooled records sent again after a replay attempt failed.
    pub retried: u64,
    /// Records written to the spool (with `durability = "write_ahead"`, every detached record).
    pub spooled: u64,
    /// Records sent from the spool that the broker acknowledged.
    pub replayed: u64,
    /// Records given up, each logged as an error: the overflow policy refused them, they failed
    /// with no spool to keep them, the spool could not take them (disk full, directory gone),
    /// or spooled records were damaged or their segment file removed.
    /// [`dropped_by`](Self::dropped_by) says which.
    pub dropped: u64,
    /// [`dropped`](Self::dropped), by reason; the reasons add up to it.
    pub dropped_by: DroppedBy,
    /// Records the broker refused for good, moved to the spool's quarantine.
    pub quarantined: u64,
    /// Records in librdkafka's queue or awaiting acknowledgement now.
    pub queue_depth: u64,
    /// Records in the spool now (being replayed or waiting to be).
    pub spool_depth: u64,
    /// Bytes of the records counted in `queue_depth`: keys and payloads of those librdkafka
    /// holds (headers are not counted), whole records (topic and headers too) of those waiting
    /// in this crate's memory for librdkafka.
    pub queue_bytes: u64,
    /// Bytes the spool's segments holding records not yet done take on disk (the records
    /// already done in them included, until the whole segment is done and deleted).
    pub spool_bytes: u64,
    /// Spool segments whose file could not be read at their last try (an I/O error, a file
    /// removed or replaced): their records stay in the spool and reading is retried; later
    /// segments wait for them for up to a minute, which keeps each key's order. A health check
    /// can report it; the error is logged.
    pub spool_unreadable: u64,
    /// `fsync`s of the spool that failed (a disk error, say); the first of a run is logged as an
    /// error. A segment an `fsync` failed for is written anew to a new file (the active one
    /// sealed first; tried every second), and no record counts as on disk (`close` waits for
    /// them) until that succeeds.
    pub spool_fsync_failures: u64,
    /// librdkafka reported every broker down and none has answered since: detached records go
    /// straight to the spool (when there is one) until a broker answers.
    pub brokers_down: bool,
    /// Fatal errors librdkafka raised (an idempotent producer fenced, or out of sequence after
    /// a broker lost its state): each was logged, and the librdkafka producer that raised it
    /// replaced by a new one; nothing it held was lost.
    pub fatal_errors: u64,
    /// A fatal error was raised and the librdkafka producer that raised it is not replaced yet:
    /// records wait (in the spool, or in memory without one). A health check can report it.
    pub replacing_client: bool,
    /// Acknowledged records whose latency was measured.
    pub latency_samples: u64,
    /// Mean time from enqueue to acknowledgement, in milliseconds.
    pub latency_mean_ms: u64,
    /// Longest time from enqueue to acknowledgement, in milliseconds.
    pub latency_max_ms: u64,
}

/// Why records were given up: [`DeliveryStats::dropped`] by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedBy {
    /// Refused for lack of room: librdkafka's queue full under `drop_newest` (or past `block`'s
    /// timeout), or the memory for records waiting in order full.
    pub overflow: u64,
    /// Not delivered, and no spool to keep them (or the producer closed).
    pub undeliverable: u64,
    /// Refused by the broker for good, with no spool (whose quarantine would keep them).
    pub refused: u64,
    /// Needed the spool, which could not take them (disk full, directory gone).
    pub spool: u64,
    /// Still in memory when the producer shut down, with no spool to keep them.
    pub shutdown: u64,
    /// Spooled records found damaged or whose segment file was removed (one this process did
    /// not hold open, so it could not write it back), or records that could not be quarantined.
    pub damaged: u64,
}

impl DroppedBy {
    /// Each reason's name and count, in a fixed order; the names are the values of the
    /// `kafka_events.drop.reason` attribute (feature `otel`).
    ///
    /// ```
    /// let by = kafka_events::DroppedBy::default();
    /// assert_eq!(by.reasons()[0], ("overflow", 0));
    /// ```
    pub fn reasons(&self) -> [(&'static str, u64); 6] {
        [
            ("overflow", self.overflow),
            ("undeliverable", self.undeliverable),
            ("refused", self.refused),
            ("spool", self.spool),
            ("shutdown", self.shutdown),
            ("damaged", self.damaged),
        ]
    }
}

/// Why a record is dropped, for [`Counters::dropped`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropReason {
    Overflow,
    Undeliverable,
    Refused,
    Spool,
    Shutdown,
}

/// Counts of what the spool did on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpoolCounts {
    /// Records in the spool not yet done (delivered or quarantined).
    pub pending: u64,
    /// Records written to the quarantine.
    pub quarantined: u64,
    /// Records lost to damage found while running, with a segment file removed, or that could
    /// not be quarantined.
    pub lost: u64,
    /// Bytes of the segments holding records not yet done.
    pub bytes: u64,
    /// Segments whose file could not be read at their last try.
    pub unreadable: u64,
    /// `fsync`s that failed.
    pub fsync_failures: u64,
}

/// What [`Counters::add`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    Enqueued,
    Delivered,
    Failed,
    Retried,
    Spooled,
    Replayed,
}

/// One thread's share of the counts (see [`crate::striped`]): emitting threads and
/// librdkafka's thread each count on a cache line of their own.
#[derive(Default)]
struct Stripe {
    enqueued: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    /// By reason; `dropped` is their sum.
    overflow: AtomicU64,
    undeliverable: AtomicU64,
    refused: AtomicU64,
    spool: AtomicU64,
    shutdown: AtomicU64,
    latency_samples: AtomicU64,
    latency_sum_ms: AtomicU64,
    latency_max_ms: AtomicU64,
}

impl Stripe {
    fn count(&self, count: Count) -> &AtomicU64 {
        match count {
            Count::Enqueued => &self.enqueued,
            Count::Delivered => &self.delivered,
            Count::Failed => &self.failed,
            Count::Retried => &self.retried,
            Count::Spooled => &self.spooled,
            Count::Replayed => &self.replayed,
        }
    }

    fn dropped(&self, reason: DropReason) -> &AtomicU64 {
        match reason {
            DropReason::Overflow => &self.overflow,
            DropReason::Undeliverable => &self.undeliverable,
            DropReason::Refused => &self.refused,
            DropReason::Spool => &self.spool,
            DropReason::Shutdown => &self.shutdown,
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Padded<Stripe>; STRIPES],
}

impl Counters {
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe()]
    }

    fn total(&self, read: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes.iter().map(|s| read(s).load(Relaxed)).sum()
    }

    pub fn add(&self, count: Count, n: u64) {
        self.mine().count(count).fetch_add(n, Relaxed);
    }

    /// `n` records given up, for `reason`.
    pub fn dropped(&self, reason: DropReason, n: u64) {
        self.mine().dropped(reason).fetch_add(n, Relaxed);
    }

    pub fn latency(&self, ms: u64) {
        let mine = self.mine();
        mine.latency_samples.fetch_add(1, Relaxed);
        mine.latency_sum_ms.fetch_add(ms, Relaxed);
        mine.latency_max_ms.fetch_max(ms, Relaxed);
    }

    pub fn snapshot(&self, queue: (u64, u64), spool: SpoolCounts) -> DeliveryStats {
        let (queue_depth, queue_bytes) = queue;
        let count = |c: Count| self.total(|s| s.count(c));
        let dropped = |r: DropReason| self.total(|s| s.dropped(r));
        let dropped_by = DroppedBy {
            overflow: dropped(DropReason::Overflow),
            undeliverable: dropped(DropReason::Undeliverable),
            refused: dropped(DropReason::Refused),
            spool: dropped(DropReason::Spool),
            shutdown: dropped(DropReason::Shutdown),
            damaged: spool.lost,
        };
        let samples = self.total(|s| &s.latency_samples);
        DeliveryStats {
            enqueued: count(Count::Enqueued),
            delivered: count(Count::Delivered),
            failed: count(Count::Failed),
            retried: count(Count::Retried),
            spooled: count(Count::Spooled),
            replayed: count(Count::Replayed),
            dropped: dropped_by.reasons().iter().map(|(_, n)| n).sum(),
            dropped_by,
            quarantined: spool.quarantined,
            queue_depth,
            spool_depth: spool.pending,
            queue_bytes,
            spool_bytes: spool.bytes,
            spool_unreadable: spool.unreadable,
            spool_fsync_failures: spool.fsync_failures,
            brokers_down: false,
            fatal_errors: 0,
            replacing_client: false,
            latency_samples: samples,
            latency_mean_ms: self
                .total(|s| &s.latency_sum_ms)
                .checked_div(samples)
                .unwrap_or(0),
            latency_max_ms: self
                .stripes
                .iter()
                .map(|s| s.latency_max_ms.load(Relaxed))
                .max()
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each thread counts on its own stripe; a snapshot adds every thread's counts up.
    #[test]
    fn counts_from_many_threads_add_up_in_a_snapshot() {
        let counters = std::sync::Arc::new(Counters::default());
        let threads: Vec<_> = (0..40u64)
            .map(|t| {
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        counters.add(Count::Enqueued, 1);
                        counters.add(Count::Delivered, 2);
                    }
                    counters.dropped(DropReason::Overflow, t);
                    counters.latency(t * 10);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let spool = SpoolCounts {
            lost: 3,
            ..SpoolCounts::default()
        };
        let stats = counters.snapshot((0, 0), spool);
        assert_eq!((stats.enqueued, stats.delivered), (4000, 8000));
        let overflow: u64 = (0..40).sum();
        assert_eq!(stats.dropped_by.overflow, overflow);
        // The spool's losses are drops too.
        assert_eq!(stats.dropped, overflow + 3);
        assert_eq!(stats.latency_samples, 40);
        assert_eq!(stats.latency_max_ms, 390);
        assert_eq!(
            stats.latency_mean_ms,
            (0..40).map(|t| t * 10).sum::<u64>() / 40
        );
    }
}
