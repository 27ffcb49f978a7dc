//! Replay's window: the spooled records librdkafka holds at once.
//!
//! Replay reads records faster than a broker acknowledges them. Left to itself it would fill
//! librdkafka's whole queue (`max_queued_messages`, `max_queued_bytes`), and how much of it
//! the producer held while a backlog drained would depend on how long it drained. Replay waits
//! instead while the spooled records with librdkafka (replayed, or written ahead: those are
//! counted, not held back) fill [`SHARE`] of the queue, in records or in bytes of keys and
//! payloads (headers left out, as in the producer's other byte counts); the record that
//! reaches the bound still goes, however large.
//!
//! The price: replay sends at most a window per acknowledgement round trip (25 000 records or
//! 16 MiB by default, e.g. 160 MiB/s with a 100 ms round trip), and while the spool holds a
//! backlog new detached records go through it too. Raising `max_queued_messages` and
//! `max_queued_bytes` raises the window with them.

use std::sync::atomic::{AtomicI64, Ordering};

/// The part of librdkafka's queue spooled records may fill: a quarter (by default 25 000
/// records, 16 MiB).
const SHARE: u64 = 4;

pub(super) struct ReplayWindow {
    /// Spooled records handed over and not yet reported, and their bytes. Signed: a report
    /// may be counted a moment before its record's hand-over.
    records: AtomicI64,
    bytes: AtomicI64,
    max_records: i64,
    max_bytes: i64,
}

impl ReplayWindow {
    /// The window for a producer whose librdkafka queue holds `max_queued_messages` records
    /// and `max_queued_bytes` bytes.
    pub fn new(max_queued_messages: u32, max_queued_bytes: u64) -> Self {
        let share = |max: u64| (max / SHARE).clamp(1, i64::MAX as u64) as i64;
        ReplayWindow {
            records: AtomicI64::new(0),
            bytes: AtomicI64::new(0),
            max_records: share(max_queued_messages.into()),
            max_bytes: share(max_queued_bytes),
        }
    }

    pub fn handed_over(&self, bytes: u64) {
        self.records.fetch_add(1, Ordering::AcqRel);
        self.bytes.fetch_add(bytes as i64, Ordering::AcqRel);
    }

    pub fn reported(&self, bytes: u64) {
        self.records.fetch_sub(1, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes as i64, Ordering::AcqRel);
    }

    /// Whether replay may hand over another record: while the window is not full (so the
    /// record that fills it goes, whatever its size).
    pub fn has_room(&self) -> bool {
        self.records.load(Ordering::Acquire) < self.max_records
            && self.bytes.load(Ordering::Acquire) < self.max_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_waits_while_a_quarter_of_the_queue_in_bytes_is_its_records() {
        let window = ReplayWindow::new(100_000, 64 << 20);
        assert!(window.has_room());
        window.handed_over((16 << 20) - 1);
        assert!(window.has_room());
        window.handed_over(1);
        assert!(!window.has_room());
        window.reported(1);
        assert!(window.has_room());
    }

    #[test]
    fn replay_waits_while_a_quarter_of_the_queue_in_records_is_its_records() {
        let window = ReplayWindow::new(2000, 64 << 20);
        for _ in 0..499 {
            window.handed_over(10);
        }
        assert!(window.has_room());
        window.handed_over(10);
        assert!(!window.has_room());
        window.reported(10);
        assert!(window.has_room());
    }

    #[test]
    fn a_record_larger_than_the_window_still_goes_alone() {
        let window = ReplayWindow::new(100_000, 1024);
        assert!(window.has_room());
        window.handed_over(4096);
        assert!(!window.has_room());
        window.reported(4096);
        assert!(window.has_room());
        // A report counted before its hand-over leaves room until the hand-over is counted.
        window.reported(10);
        assert!(window.has_room());
        window.handed_over(10);
        assert!(window.has_room());
    }
}
