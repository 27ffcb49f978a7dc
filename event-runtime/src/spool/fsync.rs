//! The spool's `fsync`s, on its worker thread: by the policy (group commit: one for every
//! record appended before it started), the sealed segments' indexes once they are on disk, and
//! what a failed one leaves: a segment written anew, since a second `fsync` of the same file
//! proves nothing, and no record counted as on disk until then.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::config::FsyncPolicy;
use super::faults::{self, Fsync};
use super::map::MapFlusher;
use super::state::{Inner, SegState, ToFlush};
use super::store::{self, Index};
use super::unmap::take_sealed;
use crate::flow::lock;

/// What the `fsync`s keep between the worker's rounds.
#[derive(Default)]
pub(super) struct Fsyncs {
    unsynced_since: Option<Instant>,
    /// An `fsync` failed, or a segment waits to be written anew: the next round of them is
    /// then, not before (while stopping, once more).
    retry_at: Option<Instant>,
    /// A failed `fsync` was logged and none has succeeded since.
    failing: bool,
    /// Segments an `fsync` failed for. Linux reports a failed write-back once and marks the
    /// pages clean, so a later `fsync` of the same file succeeds whether or not they reached
    /// the disk: such a segment is written anew instead (see [`rewrite`]), and until then no
    /// record is counted as on disk.
    suspect: BTreeSet<u64>,
}

impl Fsyncs {
    /// When sealed segments are flushed next, if a failed `fsync` holds them back.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// When the policy wants the next `fsync` (a failed one is retried a second later).
    pub fn due(&self, inner: &Inner) -> Option<Instant> {
        let since = self.unsynced_since?;
        let after = match inner.fsync {
            FsyncPolicy::Always => Duration::ZERO,
            FsyncPolicy::IntervalMs(ms) => Duration::from_millis(ms),
            FsyncPolicy::Never => return None,
        };
        Some(
            self.retry_at
                .map_or(since + after, |at| at.max(since + after)),
        )
    }

    /// Flushes the sealed segments (through their files, or their mappings when the files were
    /// closed) and writes their indexes, and, when the policy says so or `close` asked, the
    /// active one: one `fsync` for every record appended before it started.
    pub fn round(&mut self, inner: &Inner, stopping: bool) {
        // Records still waiting for a segment are not in one to be synced (read after
        // `appended`, so any counted there are left out).
        let appended = inner.appended.load(Ordering::Acquire);
        let appended = appended.saturating_sub(lock(&inner.active).staged.len() as u64);
        let synced = inner.synced.load(Ordering::Acquire);
        if appended > synced {
            self.unsynced_since.get_or_insert_with(Instant::now);
        }
        let wanted = inner.sync_wanted.load(Ordering::Acquire) > synced;
        let due = appended > synced
            && inner.fsync != FsyncPolicy::Never
            && (wanted || stopping || self.due(inner).is_some_and(|at| at <= Instant::now()));
        let flush = inner.fsync != FsyncPolicy::Never;
        take_sealed(inner);
        // Sealed segments wait while a failed `fsync` is not due again.
        let waiting = !stopping && self.retry_at.is_some_and(|at| Instant::now() < at);
        // The segments mapped when the round started are synced first, when an `fsync` is due
        // (if one is sealed meanwhile, the records it holds are still among those counted in
        // `appended`): through their files, so that one sealed while the disk works is unmapped
        // at once rather than staying in the process's memory until its `fsync` returns.
        let (active, sealed) = {
            let segs = lock(&inner.segs);
            let active: Vec<(u64, ToFlush)> = if due {
                segs.mapped
                    .iter()
                    .map(|(id, flusher)| (*id, through_file(flusher)))
                    .collect()
            } else {
                Vec::new()
            };
            (active, segs.to_flush.len())
        };
        let mut failed = false;
        for (id, segment) in active {
            if let Err(error) = faults::flush(inner, Fsync::Active, || segment.flush()) {
                // Written anew once sealed (see `suspect`).
                self.suspect.insert(id);
                self.failed(inner, &error);
                failed = true;
            }
        }
        if !failed {
            // The disk answers again: an active segment an `fsync` failed for is sealed now, to
            // be written anew, not when it fills. (While it fails, appends go on filling it: a
            // segment sealed at every failure would take a new one's space every second.)
            for id in &self.suspect {
                seal_if_active(inner, *id);
            }
        }
        // Those sealed meanwhile are unmapped as they come (by the unmapper), and flushed in the
        // next round. One whose `fsync` fails keeps its place, and is written anew when tried
        // again.
        for _ in 0..if waiting { 0 } else { sealed } {
            let Some((id, sealed)) = lock(&inner.segs).to_flush.pop_front() else {
                break;
            };
            let flushed = match (flush, self.suspect.contains(&id)) {
                (false, _) => Ok(()),
                (true, false) => faults::flush(inner, Fsync::Sealed, || sealed.flush()),
                (true, true) => faults::flush(inner, Fsync::Sealed, || rewrite(inner, id, &sealed)),
            };
            match flushed {
                Ok(()) => {
                    self.suspect.remove(&id);
                    drop(sealed);
                    write_index(inner, id);
                }
                Err(error) => {
                    lock(&inner.segs).to_flush.push_front((id, sealed));
                    self.suspect.insert(id);
                    self.failed(inner, &error);
                    failed = true;
                    break;
                }
            }
        }
        // Records are on disk only once every segment an `fsync` failed for is written anew (or
        // deleted, its records done).
        if !self.suspect.is_empty() {
            let segs = lock(&inner.segs);
            self.suspect.retain(|id| segs.map.contains_key(id));
        }
        let mut behind = failed || !self.suspect.is_empty() || (waiting && sealed > 0);
        if !behind && !waiting {
            self.recovered(inner);
        }
        if !due {
            return;
        }
        // The segments made since the last `fsync` are in the directory for good.
        if !behind
            && inner.dir_unsynced.swap(false, Ordering::AcqRel)
            && let Err(error) =
                faults::flush(inner, Fsync::Directory, || store::sync_dir(&inner.dir))
        {
            inner.dir_unsynced.store(true, Ordering::Release);
            // A directory that went is the directory check's to report (and recreate).
            if error.kind() != std::io::ErrorKind::NotFound {
                self.failed(inner, &error);
            }
            behind = true;
        }
        if behind {
            // Not counted as synced: `sync` (and so `close`) waits on, and the next try is a
            // second away, not at once.
            let now = Instant::now();
            if self.retry_at.is_none_or(|at| at <= now) {
                self.retry_at = Some(now + Duration::from_secs(1));
            }
            return;
        }
        self.recovered(inner);
        inner.synced.fetch_max(appended, Ordering::AcqRel);
        // Records appended during the fsync start the next one's clock.
        self.unsynced_since =
            (inner.appended.load(Ordering::Acquire) > appended).then(Instant::now);
        inner.bell.ring();
    }

    /// An `fsync` failed: counted, logged when the first of a run of failures, and tried again
    /// a second later.
    fn failed(&mut self, inner: &Inner, error: &std::io::Error) {
        inner.fsync_failures.fetch_add(1, Ordering::Relaxed);
        if !self.failing {
            tracing::error!(%error, dir = %inner.dir.display(), "spool: fsync failed; the segment it was for is written anew to a new file, and no record is counted as on disk until that succeeds (tried every second)");
            self.failing = true;
        }
        self.retry_at = Some(Instant::now() + Duration::from_secs(1));
    }

    /// A round went through without a failed `fsync` or a segment waiting to be written anew.
    fn recovered(&mut self, inner: &Inner) {
        self.retry_at = None;
        if std::mem::take(&mut self.failing) {
            tracing::warn!(dir = %inner.dir.display(), "spool: fsync succeeded again");
        }
    }
}

/// A mapped segment to sync, without keeping its mapping: through the file it maps (see
/// [`MapFlusher::file`]) on Linux; elsewhere, through the mapping.
fn through_file(flusher: &MapFlusher) -> ToFlush {
    if cfg!(target_os = "linux") {
        ToFlush::File(flusher.file().clone())
    } else {
        ToFlush::Mapping(flusher.clone())
    }
}

impl ToFlush {
    /// Writes the segment's dirty pages out and waits for the disk.
    fn flush(&self) -> std::io::Result<()> {
        match self {
            ToFlush::File(file) => file.sync_data(),
            ToFlush::Mapping(flusher) => flusher.flush(),
        }
    }
}

/// Writes a sealed segment an `fsync` failed for anew: a copy of it (read through the page
/// cache, where its bytes still are unless memory ran short; replay checks every record's
/// checksum) in a new file, synced, renamed over it, the directory synced. Nothing to do for a
/// segment deleted meanwhile (its records are done).
fn rewrite(inner: &Inner, id: u64, sealed: &ToFlush) -> std::io::Result<()> {
    if !lock(&inner.segs).map.contains_key(&id) {
        return Ok(());
    }
    let path = store::segment_path(&inner.dir, id);
    let from = match sealed {
        ToFlush::File(file) => file.clone(),
        ToFlush::Mapping(_) => Arc::new(store::open_read(&path)?),
    };
    let new = store::restore(&path, &from)?;
    store::sync_dir(&inner.dir)?;
    if let Some(seg) = lock(&inner.segs).map.get_mut(&id)
        && seg.file.is_some()
    {
        seg.file = Some(Arc::new(new));
    }
    Ok(())
}

/// Seals segment `id` if appends go to it (an `fsync` of it failed while it was active).
fn seal_if_active(inner: &Inner, id: u64) {
    let _one = lock(&inner.preparing);
    let mut active = lock(&inner.active);
    if active.current.as_ref().is_some_and(|c| c.id == id)
        && let Some(current) = active.current.take()
    {
        inner.seal(current);
    }
}

/// Asks the worker for an `fsync` of everything appended so far and waits up to `timeout` for
/// it; quarantine jobs queued before the call are written too, whatever the fsync policy.
/// Blocks: for `close`'s own thread.
pub(super) fn sync(inner: &Inner, timeout: Duration) -> bool {
    let target = match inner.fsync {
        FsyncPolicy::Never => 0,
        _ => inner.appended.load(Ordering::Acquire),
    };
    inner.sync_wanted.fetch_max(target, Ordering::AcqRel);
    inner.work.ring();
    inner.bell.wait_until(timeout, || {
        inner.synced.load(Ordering::Acquire) >= target
            && inner.jobs_queued.load(Ordering::Acquire) == 0
            && lock(&inner.active).staged.is_empty()
    })
}

/// Writes the index of a sealed segment whose records are on disk, so the next start need not
/// read it. A segment without one is scanned then.
fn write_index(inner: &Inner, id: u64) {
    let index = {
        let segs = lock(&inner.segs);
        match segs.map.get(&id) {
            Some(seg) if seg.state == SegState::Sealed && !seg.indexed => Index {
                records: seg.records,
                end: seg.end,
            },
            _ => return,
        }
    };
    // Not synced: its checksum vouches for it, and an index lost to a crash means only that the
    // next start reads the segment through.
    match store::write_index(&inner.dir, id, index, false) {
        Ok(()) => {
            if let Some(seg) = lock(&inner.segs).map.get_mut(&id) {
                seg.indexed = true;
            }
        }
        Err(error) => {
            tracing::warn!(%error, segment = id, "spool: could not write a segment's index; the next start reads the segment instead");
        }
    }
}
