//! The spool's ledger: the segments and what is done of each, the active segment appends go to,
//! the segments prepared ahead, records waiting for a segment, the quarantine jobs waiting for
//! the worker, and the counters. Every other file of the spool reads and changes it through
//! [`Inner`]; what is decided here is only what the ledger itself implies (a record done, a
//! segment sealed, finished, or done with a replay).

use std::collections::{BTreeMap, VecDeque};
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

/// How many segments the spool keeps ready at first; it keeps more (up to [`MAX_SPARES`]) when
/// appends use them up faster than they are made.
pub(super) const SPARES: usize = 4;
pub(super) const MAX_SPARES: usize = 16;

/// The most bytes of records waiting in memory for a segment (see [`Active::staged`]).
pub(super) const MAX_STAGED_BYTES: usize = 16 << 20;

/// The most bytes of records waiting in memory for the quarantine.
pub(super) const MAX_QUARANTINE_QUEUE_BYTES: u64 = 64 << 20;

/// How many sealed segments keep their file open (so a removed directory can be written back
/// with them); older ones are opened when read. With the active segment, the spares and the lock
/// file, this bounds the spool's open files whatever the length of an outage.
pub(super) const OPEN_SEALED: usize = 8;

/// How many distinct key buckets a segment remembers as held before it holds them all.
const MAX_HELD: usize = 1024;

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
    /// Records not yet done that are not with librdkafka either: waiting to be replayed. While
    /// there are any, new records of the producer go behind them (the order per key).
    pub waiting: AtomicU64,
    /// Segments an earlier run left wait to be checked: their records are not counted in
    /// `waiting` yet, and new records go behind them all the same.
    pub unsettled: AtomicBool,
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
    /// Wakes the unmapper thread: a segment was sealed, or the spool stops.
    pub unmap: Bell,
    /// Wakes the spares thread: a segment was sealed, records wait for one, or the spool stops.
    pub make: Bell,
    /// The spool is closing: no appends; the worker finishes and lets go.
    pub stop: AtomicBool,
    /// The producer is closing: the worker keeps no spare segments and seals the active one,
    /// so that the next start finds only indexed segments (see [`worker::put_away`]).
    ///
    /// [`worker::put_away`]: super::worker::put_away
    pub closing: AtomicBool,
    /// Set by the worker once, while `closing`, no segment is active, spare or unindexed.
    pub put_away: AtomicBool,
    pub quarantine: Quarantine,
    pub jobs: Mutex<Vec<Job>>,
    /// Quarantine jobs not written yet, and the bytes their records hold in memory.
    pub jobs_queued: AtomicU64,
    pub jobs_bytes: AtomicU64,
    /// Held as long as this spool is alive.
    pub lock: DirLock,
    /// Held while spare segments are made or taken away (by the worker, and by the spares
    /// thread, which tops them up after each seal): segments are made one at a time, in the
    /// order of their ids, and none once the spool closes.
    pub preparing: Mutex<()>,
    /// A segment file was made since the directory was last synced: the next `fsync` syncs the
    /// directory too, before it counts records as synced.
    pub dir_unsynced: AtomicBool,
    /// A segment file was not found where it should be: the worker writes back those it still
    /// has open and forgets the others (see [`unreadable`](super::unreadable)).
    pub files_missing: AtomicBool,
    /// `fsync`s that failed (each retried).
    pub fsync_failures: AtomicU64,
    #[cfg(test)]
    pub faults: super::faults::Faults,
    /// Rounds the worker made: a test tells a worker that waits from one that spins.
    #[cfg(test)]
    pub rounds: AtomicU64,
}

pub(super) struct Active {
    pub current: Option<Current>,
    /// Segments made ahead of time.
    pub spare: Vec<Prepared>,
    /// How many spare segments the spool keeps ready.
    pub spare_target: usize,
    /// Spares appends took since the spares were last topped up (deleted ones do not count).
    pub spares_used: usize,
    /// Why no spare segment can be made now.
    pub blocked: Option<Blocked>,
    /// Encoded records that found no segment ready (a burst faster than segments are made, on a
    /// busy machine): they are written into the next segment, in order, and every append
    /// waits its turn behind them. Bounded by [`MAX_STAGED_BYTES`].
    pub staged: VecDeque<Vec<u8>>,
    pub staged_bytes: usize,
}

/// Why appends that find no segment ready are refused.
#[derive(Clone, Debug)]
pub(super) enum Blocked {
    /// A segment could not be made: the disk is full. Cleared by the next segment made.
    Full,
    /// A segment could not be made for another reason. Cleared by the next segment made.
    Unavailable(String),
    /// The directory (or the active segment's file) went, and the worker has not yet made it
    /// whole again: recreated, locked and the segments it holds written back. No segment is made
    /// meanwhile, and only the worker clears it (see [`recreate`](super::recreate)).
    Directory(String),
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
    /// The segments mapped: the active one, and sealed ones not yet taken off (see
    /// [`unmap::take_sealed`]).
    ///
    /// [`unmap::take_sealed`]: super::unmap::take_sealed
    pub mapped: Vec<(u64, MapFlusher)>,
    /// Sealed segments taken off `mapped`, for the worker to flush and index, oldest first.
    pub to_flush: VecDeque<(u64, ToFlush)>,
}

/// A segment to flush: through its file (a sealed one already unmapped, or the file a mapping
/// maps), or through its mapping when its file was closed meanwhile (the last handle unmaps it
/// after).
pub(super) enum ToFlush {
    File(Arc<File>),
    Mapping(MapFlusher),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SegState {
    /// Found at open; the watch thread checks it before anything else touches it.
    Unchecked,
    Active,
    Sealed,
}

/// Where a segment is in a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Replay {
    Idle,
    /// Its records are being handed to librdkafka.
    Sending,
    /// All handed over; their reports are awaited.
    Sent,
}

/// Key buckets whose records a segment still holds after its last replay: records of those
/// buckets in later segments wait behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Held {
    #[default]
    Nothing,
    Buckets(Vec<u16>),
    Everything,
}

impl Held {
    pub fn holds(&self, bucket: u16) -> bool {
        match self {
            Held::Nothing => false,
            Held::Buckets(buckets) => buckets.binary_search(&bucket).is_ok(),
            Held::Everything => true,
        }
    }

    fn from_buckets(mut buckets: Vec<u16>) -> Held {
        buckets.sort_unstable();
        buckets.dedup();
        match buckets.len() {
            0 => Held::Nothing,
            n if n > MAX_HELD => Held::Everything,
            _ => Held::Buckets(buckets),
        }
    }
}

pub(super) struct Seg {
    /// Open while the segment is active or among the newest sealed ones ([`OPEN_SEALED`]).
    pub file: Option<Arc<File>>,
    pub state: SegState,
    /// Records in the segment (for the active one, as of sealing).
    pub records: u32,
    /// Where its records end (for the active one, as of sealing).
    pub end: usize,
    pub done_bits: Vec<u64>,
    pub done: u32,
    pub in_flight: Arc<AtomicU32>,
    pub acks_dirty: bool,
    /// Its index is on disk: the next start need not scan it.
    pub indexed: bool,
    /// When to try deleting it again after a failure.
    pub delete_after: Option<Instant>,
    pub delete_backoff: Backoff,
    /// When to replay it again after some of its records failed.
    pub retry_after: Option<Instant>,
    pub replay_backoff: Backoff,
    pub replay: Replay,
    /// The key buckets of the records its last load took, by index: what it holds if they stay.
    pub buckets: Vec<(u32, u16)>,
    pub held: Held,
    /// Never deleted: damaged bytes in it could not be set aside.
    pub keep: bool,
    /// For the active segment replayed in place (records are read back while appends go on,
    /// rather than sealing it for each replay): the index and offset of the first record no
    /// replay has read yet.
    pub cursor: Option<(u32, usize)>,
    /// For the active segment replayed in place: the first record a replay held back behind an
    /// older segment (read again once that one holds nothing), and the key buckets held back,
    /// which this segment then holds for later ones.
    pub held_back: Option<(u32, usize)>,
    pub held_back_buckets: Vec<u16>,
    /// The active segment must be sealed before its next replay: a record read in place failed
    /// or was damaged, and only a sealed segment's replay goes back to it.
    pub reseal: bool,
    /// How many records the last replay left waiting behind an older segment that holds their
    /// key bucket.
    pub skipped: u32,
    /// Its last replay sent everything it could; the rest waits until no older segment holds
    /// keys (no pause, no reading it again before).
    pub waits_behind: bool,
    /// A record of it came back undelivered and the replay that will hold its key has not ended
    /// yet: later segments wait, lest a record of that key overtake it meanwhile.
    pub failed: bool,
    /// Since when its file could not be read, while it can't (see
    /// [`unreadable`](super::unreadable)).
    pub unreadable_since: Option<Instant>,
    /// Since when its file has been missing, at every read since (see
    /// [`unreadable::gone`](super::unreadable::gone)).
    pub missing_since: Option<Instant>,
}

impl Seg {
    pub fn new(file: Option<Arc<File>>, state: SegState) -> Self {
        Seg {
            file,
            state,
            records: 0,
            end: FILE_HEADER,
            done_bits: Vec::new(),
            done: 0,
            in_flight: Arc::new(AtomicU32::new(0)),
            acks_dirty: false,
            indexed: false,
            delete_after: None,
            delete_backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            retry_after: None,
            replay_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            replay: Replay::Idle,
            buckets: Vec::new(),
            held: Held::Nothing,
            keep: false,
            cursor: None,
            held_back: None,
            held_back_buckets: Vec::new(),
            reseal: false,
            skipped: 0,
            waits_behind: false,
            failed: false,
            unreadable_since: None,
            missing_since: None,
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

    /// Takes the records an `.acks` file says are done (of a segment checked at a start, none
    /// done yet): bits past its records are left out. Nothing new to write back.
    pub fn set_all_done(&mut self, mut bits: Vec<u64>) {
        let words = (self.records as usize).div_ceil(64);
        bits.truncate(words);
        if let (Some(last), tail @ 1..) = (bits.get_mut(words.wrapping_sub(1)), self.records % 64) {
            *last &= (1 << tail) - 1;
        }
        self.done = bits.iter().map(|w| w.count_ones()).sum();
        self.done_bits = bits;
    }

    /// Sealed, every record done and none with librdkafka: it can be deleted.
    pub fn finished(&self) -> bool {
        self.state == SegState::Sealed
            && self.done >= self.records
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.keep
    }

    /// Every record of a replay has its report: what failed is replayed after a pause (longer
    /// after each failure), and holds its key buckets until then.
    fn replay_ended(&mut self) {
        self.replay = Replay::Idle;
        self.failed = false;
        let buckets = std::mem::take(&mut self.buckets);
        let left: Vec<u16> = buckets
            .into_iter()
            .filter(|(index, _)| !bit_set(&self.done_bits, *index))
            .map(|(_, bucket)| bucket)
            .collect();
        // A replay in place read only some of the segment's records: those it did not read are
        // not behind, they are next. Records left behind an older segment's wait for it, not
        // for a pause.
        let failed = left.len() > self.skipped as usize;
        self.waits_behind = self.cursor.is_none() && !failed && self.skipped > 0;
        let incomplete = if self.cursor.is_some() {
            !left.is_empty()
        } else {
            self.done < self.records && !self.waits_behind
        };
        if incomplete {
            self.retry_after = Some(Instant::now() + self.replay_backoff.next());
            self.reseal |= self.cursor.is_some();
        } else {
            self.retry_after = None;
            self.replay_backoff.reset();
        }
        let mut held = left;
        held.extend_from_slice(&self.held_back_buckets);
        self.held = Held::from_buckets(held);
    }

    /// Counts one record of the segment back from librdkafka; ends a replay whose records all
    /// reported.
    fn returned(&mut self) {
        let before = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if before == Ok(1) && self.replay == Replay::Sent {
            self.replay_ended();
        }
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

    /// Closes a segment to appends; the unmapper thread unmaps it and the worker flushes it.
    pub fn seal(&self, current: Current) {
        let mut segs = lock(&self.segs);
        if let Some(seg) = segs.map.get_mut(&current.id) {
            seg.state = SegState::Sealed;
            seg.records = current.records;
            seg.end = current.offset;
        }
        // The writer goes while the segment's flusher is still among the mapped ones (only
        // taken off under this lock): it is never the mapping's last handle, so the unmapping
        // never runs here, on what may be an emitting thread.
        drop(current);
        drop(segs);
        // The unmapper wakes the worker once it has taken the segment.
        self.unmap.ring();
        self.make.ring();
    }

    /// A record was handed to librdkafka from the spool (replayed).
    pub fn sending(&self, position: Position) {
        if let Some(seg) = lock(&self.segs).map.get(&position.segment) {
            seg.in_flight.fetch_add(1, Ordering::AcqRel);
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A record handed to librdkafka is done: delivered, or written to the quarantine.
    pub fn done(&self, position: Position) {
        let mut segs = lock(&self.segs);
        let Some(seg) = segs.map.get_mut(&position.segment) else {
            return;
        };
        let newly = seg.set_done(position.index);
        seg.returned();
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

    /// A record handed to librdkafka came back undelivered: it stays pending, waiting to be
    /// replayed.
    pub fn release(&self, position: Position) {
        if let Some(seg) = lock(&self.segs).map.get_mut(&position.segment) {
            seg.failed = true;
            seg.returned();
            self.waiting.fetch_add(1, Ordering::AcqRel);
        }
        self.bell.ring();
    }

    /// The records of a segment's replay are all with librdkafka; the replay ends when their
    /// reports are in (at once, if they are).
    pub fn sent(&self, segment: u64) {
        if let Some(seg) = lock(&self.segs).map.get_mut(&segment) {
            // A replay whose segment could not be read is over already.
            if seg.replay != Replay::Sending {
                return;
            }
            seg.replay = Replay::Sent;
            if seg.in_flight.load(Ordering::Acquire) == 0 {
                seg.replay_ended();
            }
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

    /// Records not yet done, what the spool quarantined or lost, and the segments it can't read.
    pub fn counts(&self) -> SpoolCounts {
        let pending = self.pending.load(Ordering::Acquire);
        // The sealed segments' bytes holding records not yet done, and those it can't read.
        let (sealed, unreadable) = {
            let segs = lock(&self.segs);
            segs.map.values().fold((0, 0), |(bytes, unreadable), s| {
                let holds = s.state != SegState::Active && s.done < s.records;
                (
                    bytes + if holds { s.end as u64 } else { 0 },
                    unreadable + u64::from(s.unreadable_since.is_some()),
                )
            })
        };
        let active = || {
            lock(&self.active)
                .current
                .as_ref()
                .map_or(0, |current| current.offset as u64)
        };
        SpoolCounts {
            pending,
            quarantined: self.quarantined.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            // With nothing pending, what the active segment holds is done.
            bytes: if pending == 0 { 0 } else { sealed + active() },
            unreadable,
            fsync_failures: self.fsync_failures.load(Ordering::Relaxed),
        }
    }

    /// Sets `unsettled` from the ledger. Under the ledger's lock: whichever thread settles
    /// last leaves what the ledger says then.
    pub fn settle(&self) {
        let segs = lock(&self.segs);
        let unchecked = segs.map.values().any(|s| s.state == SegState::Unchecked);
        self.unsettled.store(unchecked, Ordering::Release);
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
