//! The durable spool: an on-disk log of records the broker has not acknowledged, replayed when
//! a broker is reachable and on the next start.
//!
//! Layout: a directory of segment files (`00000000000000000001.seg`, …; format in [`codec`]),
//! an `.acks` file beside each segment that says which of its records are done, `quarantine/`
//! for records the broker refused for good, and a `spool.lock` that one producer holds.
//!
//! Who does what:
//! - an emitting thread appends: one copy into the mapped active segment (no system call), so
//!   a killed process leaves the record to the kernel;
//! - the spool's unmapper thread unmaps each segment as soon as it is sealed, so that a burst
//!   does not keep them in memory while the worker waits on a disk;
//! - the spool's spares thread allocates the next segments ahead of time, so that a burst finds
//!   them while the worker waits on a disk;
//! - the spool's worker thread does every other file operation: it `fsync`s by the
//!   [`FsyncPolicy`] (group commit), records acknowledgements, deletes finished segments
//!   (backing off when it can't), writes the quarantine, recreates the directory if it
//!   disappears, and makes segments too when the spares thread is behind;
//! - the producer's watch thread reads segments and sends their pending records, one record's
//!   outcome at a time: an acknowledged record is never sent again, a failed one is retried
//!   later, a poison one is quarantined.
//!
//! Opening the spool only lists its files; the watch thread checks each old segment (checksums,
//! torn tails, which records were acknowledged) before replaying it.
//!
//! One file per job: [`Spool`] here is the face the producer sees; [`state`] is the ledger the
//! others share; [`append`], [`replay`] and [`recover`] are what their names say; [`worker`] is
//! the I/O thread, with its [`fsync`]s and its check of the directory ([`recreate`]); [`unmap`]
//! the unmapper and [`spares`] the segments made ahead; [`lock`] keeps one producer per directory;
//! [`codec`], [`store`], [`map`] and [`quarantine`] are the bytes on disk; [`unreadable`] is
//! what becomes of a segment whose file can't be read; [`faults`] is where tests fail `fsync`s.

mod append;
mod codec;
mod config;
mod faults;
mod fsync;
mod lock;
mod map;
mod quarantine;
mod recover;
mod recreate;
mod replay;
mod spares;
mod state;
mod store;
mod unmap;
mod unreadable;
mod worker;

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub(crate) use append::{Appended, Caller};
pub(crate) use codec::check as check_record;
pub use config::{Durability, FsyncPolicy, SpoolConfig};
pub use quarantine::QuarantinedRecord;
pub use recover::SpoolRecovery;
pub(crate) use replay::{Loaded, Ticket};
pub(crate) use state::Position;

use self::codec::FILE_HEADER;
use self::lock::DirLock;
use self::quarantine::Quarantine;
use self::state::{Active, Inner, SPARES, Seg, SegState, Segs};
use crate::error::SpoolError;
use crate::flow::Bell;
use crate::message::{Message, MessageRef};
use crate::stats::SpoolCounts;

/// The spool as the producer sees it. Dropping it stops intake; its worker thread finishes
/// (quarantine jobs, the last `fsync`, acknowledgements) and its unmapper thread stops; the
/// directory is released when the last of them has let go.
pub(crate) struct Spool {
    inner: Arc<Inner>,
    /// What the first check of an earlier run's segments found, once it ran.
    recovery: OnceLock<SpoolRecovery>,
}

impl Spool {
    /// Opens (creating if needed) and locks the spool directory, and starts its worker and
    /// unmapper threads.
    /// Records left by an earlier run are checked later, by [`Spool::recover`].
    ///
    /// `max_record` is the largest record (as [`MessageRef`] bytes) the producer accepts: every
    /// segment has room for at least one.
    pub fn open(config: &SpoolConfig, max_record: usize) -> Result<Spool, SpoolError> {
        let dir = config.dir.clone();
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| SpoolError::Io { path, source }
        };
        store::secure_dir(&dir).map_err(io_err(&dir))?;
        let key = fs::canonicalize(&dir).map_err(io_err(&dir))?;
        let lock = DirLock::take(&dir, key)?;
        store::remove_partials(&dir).map_err(io_err(&dir))?;
        let ids = store::list_segments(&dir).map_err(io_err(&dir))?;
        // Listed, not opened: the watch thread reads each when it checks it.
        let map = ids
            .iter()
            .map(|&id| (id, Seg::new(None, SegState::Unchecked)))
            .collect();
        let capacity = (config.segment_bytes as usize)
            .max(FILE_HEADER + max_record + 64)
            .max(1 << 20)
            .min(u32::MAX as usize);
        let inner = Arc::new(Inner {
            fsync: config.fsync,
            durability: config.durability,
            capacity,
            active: Mutex::new(Active {
                current: None,
                spare: Vec::new(),
                spare_target: SPARES,
                spares_used: 0,
                blocked: None,
                staged: VecDeque::new(),
                staged_bytes: 0,
            }),
            segs: Mutex::new(Segs {
                map,
                next_id: ids.last().map_or(1, |last| last.saturating_add(1)),
                mapped: Vec::new(),
                to_flush: VecDeque::new(),
            }),
            pending: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            unsettled: AtomicBool::new(!ids.is_empty()),
            appended: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            sync_wanted: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            bell: Bell::default(),
            work: Bell::default(),
            unmap: Bell::default(),
            make: Bell::default(),
            stop: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            put_away: AtomicBool::new(false),
            quarantine: Quarantine::new(&dir),
            jobs: Mutex::new(Vec::new()),
            jobs_queued: AtomicU64::new(0),
            jobs_bytes: AtomicU64::new(0),
            lock,
            preparing: Mutex::new(()),
            dir_unsynced: AtomicBool::new(false),
            files_missing: AtomicBool::new(false),
            fsync_failures: AtomicU64::new(0),
            #[cfg(test)]
            faults: Default::default(),
            #[cfg(test)]
            rounds: AtomicU64::new(0),
            dir,
        });
        // The first segments are made here, so the first appends never find none.
        spares::prepare_spares(&inner);
        let spool = Spool {
            inner,
            recovery: OnceLock::new(),
        };
        // On an error the spool is dropped: the threads started stop and let go of the directory.
        spool.spawn("kafka-events-spool", worker::run)?;
        spool.spawn("kafka-events-unmap", unmap::run)?;
        spool.spawn("kafka-events-spares", spares::run)?;
        Ok(spool)
    }

    /// Starts one of the spool's threads.
    fn spawn(&self, name: &str, run: fn(Arc<Inner>)) -> Result<(), SpoolError> {
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(inner))
            .map(drop)
            .map_err(|source| SpoolError::Io {
                path: self.inner.dir.clone(),
                source,
            })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// Whether the spool can hold `message` at all (a record larger than a segment can't be
    /// spooled).
    pub fn fits(&self, message: &MessageRef<'_>) -> bool {
        append::fits(&self.inner, message)
    }

    /// Appends one record (see [`append::append`]); with `in_flight` (write-ahead) and
    /// [`Appended::At`], call [`Spool::release`] if handing it to librdkafka fails.
    pub fn append(
        &self,
        message: MessageRef<'_>,
        in_flight: bool,
        caller: Caller,
    ) -> Result<Appended, SpoolError> {
        append::append(&self.inner, message, in_flight, caller)
    }

    /// Whether records wait in the spool to be replayed: new records of the producer then go
    /// behind them, so that a key's records reach their partition in order.
    pub fn has_waiting(&self) -> bool {
        self.inner.waiting.load(Ordering::Acquire) > 0
            || self.inner.unsettled.load(Ordering::Acquire)
    }

    /// How many records handed to librdkafka from the spool (replayed, or written ahead) have
    /// no outcome yet. Records appended or released while it reads count one too many for a
    /// moment; one replayed while it reads may be missed (ask on the thread that replays).
    pub fn in_flight(&self) -> u64 {
        // `waiting` first: a record released meanwhile is counted, not missed.
        let waiting = self.inner.waiting.load(Ordering::Acquire);
        let pending = self.inner.pending.load(Ordering::Acquire);
        pending.saturating_sub(waiting)
    }

    /// The broker acknowledged a spooled record: it is done.
    pub fn delivered(&self, position: Position) {
        self.inner.done(position);
    }

    /// A spooled record handed to librdkafka came back undelivered: it stays pending, for replay.
    pub fn release(&self, position: Position) {
        self.inner.release(position);
    }

    /// Moves a record the broker refused for good to the quarantine (on the worker thread); a
    /// spooled one (`position`) is done once it is there.
    pub fn quarantine(&self, message: Message, reason: String, position: Option<Position>) {
        self.inner.queue_quarantine(message, reason, position);
    }

    /// Records not yet done, and what the spool quarantined or lost.
    pub fn counts(&self) -> SpoolCounts {
        self.inner.counts()
    }

    /// Whether every record is done (and every segment of an earlier run was checked).
    pub fn is_empty(&self) -> bool {
        self.recovery.get().is_some()
            && self.inner.pending.load(Ordering::Acquire) == 0
            && self.inner.jobs_queued.load(Ordering::Acquire) == 0
            && !self.inner.has_unchecked()
    }

    /// Whether a segment of an earlier run could not be read yet.
    pub fn has_unchecked(&self) -> bool {
        self.inner.has_unchecked()
    }

    /// What the check of an earlier run's records found, once [`Spool::recover`] ran.
    pub fn recovery(&self) -> Option<&SpoolRecovery> {
        self.recovery.get()
    }

    /// The bell rung whenever records change state.
    pub fn bell(&self) -> &Bell {
        &self.inner.bell
    }

    /// Checks every segment an earlier run left (see [`recover::check`]); returns what the
    /// first check found.
    pub fn recover(&self, stop: impl Fn() -> bool) -> &SpoolRecovery {
        let found = recover::check(&self.inner, stop);
        let recovery = self.recovery.get_or_init(|| found);
        // What it found is counted in `waiting` now; a segment it could not read stays unsettled.
        self.inner.settle();
        // Finished segments (all acknowledged, not yet deleted) can go now.
        self.inner.work.ring();
        self.inner.bell.ring();
        recovery
    }

    /// The next segment to replay, once the first check ran (see [`replay::next`]).
    pub fn next_to_replay(&self) -> Option<Ticket> {
        self.recovery.get()?;
        replay::next(&self.inner)
    }

    /// A segment's records to send are all with librdkafka (or its replay stopped): it is done
    /// with once their reports are in.
    pub fn sent(&self, segment: u64) {
        replay::sent(&self.inner, segment);
    }

    /// Reads a segment's records not yet done, into `buffer` (see [`Loaded::into_buffer`]). On
    /// an error the segment's replay is over with nothing sent (do not call [`Spool::sent`]):
    /// the spool logged it and reads it again later (see [`unreadable`]).
    pub fn load(&self, ticket: &Ticket, buffer: Vec<u8>) -> Result<Loaded, SpoolError> {
        replay::load(&self.inner, ticket, buffer)
    }

    /// Counts a record of a loaded segment as handed to librdkafka.
    pub fn sending(&self, position: Position) {
        replay::sending(&self.inner, position);
    }

    /// Asks the worker for an `fsync` of everything appended so far, and the quarantine jobs
    /// queued so far, and waits up to `timeout` for them. Blocks: for `close`'s own thread.
    pub fn sync(&self, timeout: Duration) -> bool {
        fsync::sync(&self.inner, timeout)
    }

    /// Before the producer goes away (after [`Spool::sync`]): asks the worker to seal the
    /// active segment (its index is written once it is flushed) and delete the spare ones, and
    /// waits up to `timeout` for it, so that the next start reads indexes, not segments. Records
    /// appended later still go to a segment, sealed in turn. Blocks: for `close`'s own thread.
    pub fn put_away(&self, timeout: Duration) -> bool {
        worker::put_away(&self.inner, timeout)
    }

    /// Every record in the quarantine, oldest first. Does file I/O.
    pub fn quarantined(&self) -> io::Result<Vec<QuarantinedRecord>> {
        self.inner.quarantine.list()
    }

    /// Deletes a listed quarantined record.
    pub fn remove_quarantined(&self, record: &QuarantinedRecord) -> io::Result<()> {
        self.inner.quarantine.remove(record)
    }

    /// Announces that this spool is going away, so that a producer opened on the same directory
    /// in this process waits for it to let go instead of finding it locked.
    pub fn going_away(&self) {
        self.inner.lock.going_away();
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.going_away();
        self.inner.stop.store(true, Ordering::Release);
        self.inner.work.ring();
        self.inner.unmap.ring();
        self.inner.make.ring();
    }
}

#[cfg(test)]
mod tests;
