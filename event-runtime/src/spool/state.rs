//! The spool's ledger: the segments and what is done of each, the active segment appends go to,
//! the segments prepared ahead, the quarantine jobs waiting for the worker, and the counters.
//! Every other file of the spool reads and changes it through [`Inner`]; what is decided here
//! is only what the ledger itself implies (a record done, a segment sealed or finished).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::codec::FILE_HEADER;
use super::config::{Durability, FsyncPolicy};
use super::lock::DirLock;
use super::map::{MapFlusher, MapWriter};
use super::quarantine::Quarantine;
use super::store::Prepared;
use crate::error::SpoolError;
use crate::flow::{Backoff, Bell, lock};
use crate::message::Message;
use crate::stats::SpoolCounts;

/// How many segments the worker keeps ready, so that a burst of appends does not outrun it.
pub(super) const SPARES: usize = 2;

/// The most bytes of records waiting in memory for the quarantine.
pub(super) const MAX_QUARANTINE_QUEUE_BYTES: u64 = 64 << 20;

/// Where a record is in the spool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub segment: u64,
    pub index: u32,
}

pub(super) struct Inner {
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub durability: Durability,
    /// The size of a segment.
    pub capacity: usize,
    pub active: Mutex<Active>,
    pub segs: Mutex<Segs>,
    /// Records not yet done.
    pub pending: AtomicU64,
    /// Records appended so far; `fsync` progress is measured against it.
    pub appended: AtomicU64,
    /// `appended` as of the last completed `fsync`.
    pub synced: AtomicU64,
    /// `appended` as of the last explicit request for an `fsync` (`close`).
    pub sync_wanted: AtomicU64,
    pub quarantined: AtomicU64,
    pub lost: AtomicU64,
    /// Rung when records change state: appended, done, released, segments sealed.
    pub bell: Bell,
    /// Wakes the worker thread.
    pub work: Bell,
    /// The spool is closing: no appends; the worker finishes and lets go.
    pub stop: AtomicBool,
    pub quarantine: Quarantine,
    pub jobs: Mutex<Vec<Job>>,
    /// Quarantine jobs not written yet, and the bytes their records hold in memory.
    pub jobs_queued: AtomicU64,
    pub jobs_bytes: AtomicU64,
    /// Held as long as this spool is alive.
    pub lock: DirLock,
}

pub(super) struct Active {
    pub current: Option<Current>,
    /// Segments made ahead of time, up to [`SPARES`].
    pub spare: Vec<Prepared>,
    /// Why no spare segment can be made now.
    pub blocked: Option<Blocked>,
}

#[derive(Clone, Debug)]
pub(super) enum Blocked {
    Full,
    Unavailable(String),
}

/// The segment appends go to.
pub(super) struct Current {
    pub id: u64,
    pub writer: MapWriter,
    pub offset: usize,
    pub records: u32,
    pub in_flight: Arc<AtomicU32>,
}

pub(super) struct Segs {
    pub map: BTreeMap<u64, Seg>,
    pub next_id: u64,
    /// Mappings to flush: the active segment's, and sealed ones not yet flushed.
    pub mapped: Vec<(u64, MapFlusher)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SegState {
    /// Found at open; the replay thread checks it before anything else touches it.
    Unchecked,
    Active,
    Sealed,
}

pub(super) struct Seg {
    pub file: Arc<File>,
    pub state: SegState,
    /// Records in the segment (for the active one, as of sealing).
    pub records: u32,
    /// Where its records end (for the active one, as of sealing).
    pub end: usize,
    pub done_bits: Vec<u64>,
    pub done: u32,
    pub in_flight: Arc<AtomicU32>,
    pub acks_dirty: bool,
    /// When to try deleting it again after a failure.
    pub delete_after: Option<Instant>,
    pub delete_backoff: Backoff,
    /// When to replay it again after some of its records failed.
    pub retry_after: Option<Instant>,
    pub replay_backoff: Backoff,
    /// Never deleted: damaged bytes in it could not be set aside.
    pub keep: bool,
}

impl Seg {
    pub fn new(file: File, state: SegState) -> Self {
        Seg {
            file: Arc::new(file),
            state,
            records: 0,
            end: FILE_HEADER,
            done_bits: Vec::new(),
            done: 0,
            in_flight: Arc::new(AtomicU32::new(0)),
            acks_dirty: false,
            delete_after: None,
            delete_backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            retry_after: None,
            replay_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            keep: false,
        }
    }

    /// Marks a record done; false if it already was.
    pub fn set_done(&mut self, index: u32) -> bool {
        if bit_set(&self.done_bits, index) {
            return false;
        }
        let (word, bit) = (index as usize / 64, index % 64);
        if self.done_bits.len() <= word {
            self.done_bits.resize(word + 1, 0);
        }
        self.done_bits[word] |= 1 << bit;
        self.done += 1;
        self.acks_dirty = true;
        true
    }

    /// Sealed, every record done and none with librdkafka: it can be deleted.
    pub fn finished(&self) -> bool {
        self.state == SegState::Sealed
            && self.done >= self.records
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.keep
    }
}

/// A record to write to the quarantine, and where it is in the spool (to mark it done after).
pub(super) struct Job {
    pub message: Message,
    pub reason: String,
    pub position: Option<Position>,
    /// What it holds in memory (counted in `jobs_bytes` until it is written).
    pub bytes: u64,
}

impl Job {
    pub fn new(message: Message, reason: String, position: Option<Position>) -> Job {
        let headers: usize = message
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum();
        let bytes =
            (message.topic.len() + message.key.len() + message.payload.len() + headers) as u64;
        Job {
            message,
            reason,
            position,
            bytes,
        }
    }
}

impl Inner {
    pub fn unavailable(&self, reason: &str) -> SpoolError {
        SpoolError::Unavailable {
            dir: self.dir.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Closes a segment to appends; its mapping is flushed and unmapped by the worker.
    pub fn seal(&self, current: Current) {
        let mut segs = lock(&self.segs);
        if let Some(seg) = segs.map.get_mut(&current.id) {
            seg.state = SegState::Sealed;
            seg.records = current.records;
            seg.end = current.offset;
        }
        drop(segs);
        self.work.ring();
    }

    /// A record is done: delivered, or written to the quarantine.
    pub fn done(&self, position: Position) {
        let mut segs = lock(&self.segs);
        let Some(seg) = segs.map.get_mut(&position.segment) else {
            return;
        };
        decrement(&seg.in_flight);
        let newly = seg.set_done(position.index);
        let finished = seg.finished();
        drop(segs);
        if newly {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        if finished {
            self.work.ring();
        }
        self.bell.ring();
    }

    /// A spooled record handed to librdkafka came back undelivered: it stays pending.
    pub fn release(&self, position: Position) {
        if let Some(seg) = lock(&self.segs).map.get(&position.segment) {
            decrement(&seg.in_flight);
        }
        self.bell.ring();
    }

    /// Queues a record the broker refused for good for the quarantine (the worker writes it);
    /// a spooled one (`position`) is done once it is there. Records held in memory for it are
    /// bounded ([`MAX_QUARANTINE_QUEUE_BYTES`]): past that, a record that is not in the spool is
    /// dropped, counted and logged.
    pub fn queue_quarantine(&self, message: Message, reason: String, position: Option<Position>) {
        let job = Job::new(message, reason, position);
        if position.is_none()
            && self.jobs_bytes.load(Ordering::Acquire) + job.bytes > MAX_QUARANTINE_QUEUE_BYTES
        {
            self.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                reason = job.reason,
                topic = %job.message.topic,
                "kafka-events: the broker refused a record for good and the quarantine is behind by \
                 more than {MAX_QUARANTINE_QUEUE_BYTES} bytes; the record is dropped"
            );
            return;
        }
        self.jobs_queued.fetch_add(1, Ordering::AcqRel);
        self.jobs_bytes.fetch_add(job.bytes, Ordering::AcqRel);
        lock(&self.jobs).push(job);
        self.work.ring();
    }

    /// Records not yet done, and what the spool quarantined or lost.
    pub fn counts(&self) -> SpoolCounts {
        SpoolCounts {
            pending: self.pending.load(Ordering::Acquire),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }

    /// Whether a segment of an earlier run could not be read yet.
    pub fn has_unchecked(&self) -> bool {
        lock(&self.segs)
            .map
            .values()
            .any(|s| s.state == SegState::Unchecked)
    }
}

/// Whether bit `index` of a bit set (64 to a word, as `.acks` files hold it) is set.
pub(super) fn bit_set(bits: &[u64], index: u32) -> bool {
    bits.get(index as usize / 64)
        .is_some_and(|word| word & (1 << (index % 64)) != 0)
}

fn decrement(counter: &AtomicU32) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}
