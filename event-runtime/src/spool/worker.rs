//! The spool's worker thread: every file operation the spool needs after it was opened, so that
//! no thread that emits ever waits for a disk, but for making segments ahead, which the spares
//! thread does (see [`spares::run`]; the worker makes them too between its rounds, and writes
//! out records that found none ready). It `fsync`s by the policy
//! (group commit), writes acknowledgements, indexes of sealed segments and the quarantine,
//! deletes finished segments (backing off when it can't), keeps few files open, recreates the
//! directory if it disappears, and, when the producer closes, puts the files away for the next
//! start (the active segment sealed and indexed, no spare left).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::config::FsyncPolicy;
use super::faults::{self, Fsync};
use super::map::MapFlusher;
use super::spares;
use super::spares::{prepare_spares, write_staged};
use super::state::{Blocked, Inner, OPEN_SEALED, SegState, ToFlush};
use super::store::{self, Index};
use super::unmap::take_sealed;
use super::unreadable;
use crate::flow::{Backoff, lock};

/// How often the worker checks that the spool directory still exists.
const DIR_CHECK: Duration = Duration::from_secs(1);

pub(super) fn run(inner: Arc<Inner>) {
    let mut state = Housekeeping::new(Instant::now() + DIR_CHECK);
    loop {
        #[cfg(test)]
        inner.rounds.fetch_add(1, Ordering::Relaxed);
        let seen = inner.work.rung();
        let stopping = inner.stop.load(Ordering::Acquire);
        run_jobs(&inner);
        let closing = inner.closing.load(Ordering::Acquire);
        if closing && !stopping {
            seal_and_drop_spares(&inner);
        } else if !stopping {
            state.ensure_spare(&inner);
        }
        // Nothing is written in a directory this spool does not hold (see `check_dir`).
        let whole = !state.dir_gone;
        if whole {
            state.sync(&inner, stopping);
            persist_acks(&inner);
        }
        if closing && !stopping {
            // After the acknowledgements are written: a process that exits as soon as `close`
            // returns must not send acknowledged records again at its next start.
            note_put_away(&inner);
        }
        let next_delete = if whole { delete_finished(&inner) } else { None };
        close_old_files(&inner);
        let missing = inner.files_missing.swap(false, Ordering::AcqRel);
        if !stopping && (missing || Instant::now() >= state.dir_check_at) {
            state.check_dir(&inner, missing);
            state.dir_check_at = Instant::now() + DIR_CHECK;
        }
        if stopping && lock(&inner.jobs).is_empty() {
            finish(&inner, &mut state);
            break;
        }
        let now = Instant::now();
        // Segments sealed during the round's flushes are flushed in the next, at once (or when
        // a failed `fsync` is retried). While the directory is not whole, only its next check
        // is waited for.
        let whole = !state.dir_gone;
        let mut wake = if !whole || lock(&inner.segs).to_flush.is_empty() {
            state.dir_check_at
        } else {
            state.retry_at.map_or(now, |at| at.max(now))
        };
        let sync_due = state.sync_due(&inner).filter(|_| whole);
        for due in [sync_due, state.spare_after, next_delete]
            .into_iter()
            .flatten()
        {
            wake = wake.min(due);
        }
        inner.work.wait(seen, wake.saturating_duration_since(now));
    }
}

/// What the worker keeps between its rounds.
struct Housekeeping {
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
    suspect: std::collections::BTreeSet<u64>,
    spare_after: Option<Instant>,
    spare_backoff: Backoff,
    dir_check_at: Instant,
    dir_gone: bool,
}

impl Housekeeping {
    fn new(dir_check_at: Instant) -> Self {
        Housekeeping {
            unsynced_since: None,
            retry_at: None,
            failing: false,
            suspect: Default::default(),
            spare_after: None,
            spare_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            dir_check_at,
            dir_gone: false,
        }
    }

    /// Keeps spare segments ready and writes out the records waiting for one. Appends that found
    /// none ready mean the spares ran out between two rounds: more are kept from then on.
    fn ensure_spare(&mut self, inner: &Inner) {
        if self.spare_after.is_some_and(|at| Instant::now() < at) {
            return;
        }
        spares::grow_target(&mut lock(&inner.active));
        let ready = loop {
            if !prepare_spares(inner) {
                break false;
            }
            if write_staged(inner) {
                break true;
            }
        };
        if ready {
            self.spare_after = None;
            self.spare_backoff.reset();
        } else {
            self.spare_after = Some(Instant::now() + self.spare_backoff.next());
        }
    }

    /// When the policy wants the next `fsync` (a failed one is retried a second later).
    fn sync_due(&self, inner: &Inner) -> Option<Instant> {
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
    fn sync(&mut self, inner: &Inner, stopping: bool) {
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
            && (wanted || stopping || self.sync_due(inner).is_some_and(|at| at <= Instant::now()));
        let flush = inner.fsync != FsyncPolicy::Never;
        take_sealed(inner);
        // Sealed segments wait while a failed `fsync` is not due again.
        let waiting = !stopping && self.retry_at.is_some_and(|at| Instant::now() < at);
        // The mappings in use when the round started are synced first, when an `fsync` is due
        // (if one is sealed meanwhile, the records it holds are still among those counted in
        // `appended`), each let go as soon as its `msync` returns.
        let (active, sealed) = {
            let segs = lock(&inner.segs);
            let active: Vec<(u64, MapFlusher)> = if due { segs.mapped.clone() } else { Vec::new() };
            (active, segs.to_flush.len())
        };
        let mut failed = false;
        for (id, flusher) in active {
            if let Err(error) = faults::flush(inner, Fsync::Active, || flusher.flush()) {
                // Written anew once sealed (see `suspect`).
                self.suspect.insert(id);
                self.sync_failed(inner, &error);
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
                (true, false) => faults::flush(inner, Fsync::Sealed, || match &sealed {
                    ToFlush::Mapping(flusher) => flusher.flush(),
                    ToFlush::File(file) => file.sync_data(),
                }),
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
                    self.sync_failed(inner, &error);
                    failed = true;
                    break;
                }
            }
        }
        // Records are on disk only once every segment an `fsync` failed for is written anew (or
        // deleted, its records done).
        {
            let segs = lock(&inner.segs);
            self.suspect.retain(|id| segs.map.contains_key(id));
        }
        let mut behind = failed || !self.suspect.is_empty() || (waiting && sealed > 0);
        if !behind && !waiting {
            self.sync_recovered(inner);
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
                self.sync_failed(inner, &error);
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
        self.sync_recovered(inner);
        inner.synced.fetch_max(appended, Ordering::AcqRel);
        // Records appended during the fsync start the next one's clock.
        self.unsynced_since =
            (inner.appended.load(Ordering::Acquire) > appended).then(Instant::now);
        inner.bell.ring();
    }

    /// An `fsync` failed: counted, logged when the first of a run of failures, and tried again
    /// a second later.
    fn sync_failed(&mut self, inner: &Inner, error: &std::io::Error) {
        inner.fsync_failures.fetch_add(1, Ordering::Relaxed);
        if !self.failing {
            tracing::error!(%error, dir = %inner.dir.display(), "spool: fsync failed; the segment it was for is written anew to a new file, and no record is counted as on disk until that succeeds (tried every second)");
            self.failing = true;
        }
        self.retry_at = Some(Instant::now() + Duration::from_secs(1));
    }

    /// A round went through without a failed `fsync` or a segment waiting to be written anew.
    fn sync_recovered(&mut self, inner: &Inner) {
        self.retry_at = None;
        if std::mem::take(&mut self.failing) {
            tracing::warn!(dir = %inner.dir.display(), "spool: fsync succeeded again");
        }
    }

    /// Recreates the spool directory if it disappeared (and the segments with it): every
    /// segment this process still has open is written back; the records of segments it had
    /// closed are lost with the directory, counted and logged. With `missing` (a segment's file
    /// was not found where it should be), the same for segment files gone from a directory
    /// still there.
    fn check_dir(&mut self, inner: &Inner, missing: bool) {
        let active_id = lock(&inner.active).current.as_ref().map(|c| c.id);
        let active_file = active_id.and_then(|id| {
            let file = lock(&inner.segs).map.get(&id)?.file.clone()?;
            Some((id, file))
        });
        // Looked at without holding a lock: these are system calls.
        let dir_there = inner.dir.is_dir();
        // Still its directory: the lock file it holds is there (another producer may have
        // recreated and locked it while this one's active segment was sealed).
        let healthy = dir_there
            && inner.lock.holds(&inner.dir)
            && active_file.is_none_or(|(id, file)| {
                store::same_file(&store::segment_path(&inner.dir, id), &file)
            });
        // Once the directory went, it is made whole (recreated, locked, written back) before
        // anything else is written in it, however it looks in between.
        if healthy && !self.dir_gone {
            if missing {
                match write_back_or_forget(inner, false) {
                    // What was written back is in the directory for good.
                    Ok(n) if n > 0 => {
                        if let Err(error) = store::sync_dir(&inner.dir) {
                            tracing::warn!(%error, "spool: could not fsync the directory after writing segments back");
                        }
                    }
                    Ok(_) => {}
                    Err(reason) => {
                        tracing::error!(%reason, "kafka-events: a spool segment could not be written back; retrying");
                    }
                }
                inner.bell.ring();
            }
            return;
        }
        if !self.dir_gone {
            tracing::error!(
                dir = %inner.dir.display(),
                "kafka-events: the spool directory or its active segment disappeared; recreating it and writing the records this process holds back"
            );
            self.dir_gone = true;
        }
        {
            let _one = lock(&inner.preparing);
            let mut active = lock(&inner.active);
            if let Some(current) = active.current.take() {
                inner.seal(current);
            }
            active.spare.clear();
            if !matches!(active.blocked, Some(Blocked::Directory(_))) {
                active.blocked = Some(Blocked::Directory(
                    "the spool directory was removed; it is being recreated".into(),
                ));
            }
        }
        if let Err(error) = store::secure_dir(&inner.dir) {
            refuse_until_whole(inner, format!("it could not be recreated: {error}"));
            return;
        }
        if let Err(error) = inner.lock.retake(&inner.dir) {
            refuse_until_whole(inner, format!("after it was recreated: {error}"));
            return;
        }
        // Another producer may have held the directory meanwhile: segments made from now on
        // take ids past any on disk, so that none is made over (or wipes the index of) its files.
        if let Some(last) = store::list_segments(&inner.dir)
            .ok()
            .and_then(|ids| ids.into_iter().max())
        {
            let mut segs = lock(&inner.segs);
            segs.next_id = segs.next_id.max(last.saturating_add(1));
        }
        // Segments this process had closed went with the directory, not with the active file.
        let restored = match write_back_or_forget(inner, !dir_there) {
            Ok(restored) => restored,
            Err(reason) => {
                refuse_until_whole(inner, reason);
                return;
            }
        };
        if let Err(error) = store::sync_dir(&inner.dir) {
            tracing::warn!(%error, "spool: could not fsync the recreated directory");
        }
        lock(&inner.active).blocked = None;
        self.dir_gone = false;
        self.spare_after = None;
        self.ensure_spare(inner);
        tracing::warn!(
            dir = %inner.dir.display(),
            segments = restored,
            "kafka-events: recreated the spool directory"
        );
        inner.bell.ring();
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

/// The recreated directory can't be used yet (retried at the next check): records that need a
/// new segment are refused with `reason`, logged when it changes.
fn refuse_until_whole(inner: &Inner, reason: String) {
    let mut active = lock(&inner.active);
    if !matches!(&active.blocked, Some(Blocked::Directory(now)) if *now == reason) {
        tracing::error!(%reason, dir = %inner.dir.display(), "kafka-events: the spool directory can't be used; records that need the spool are refused, and it is tried again every second");
        active.blocked = Some(Blocked::Directory(reason));
    }
    drop(active);
    // An emitter waiting for a segment hears at once that it won't come.
    inner.bell.ring();
}

/// Writes back every segment file gone from the directory that this process still has open,
/// and forgets the others that [`unreadable::gone`] takes for gone (`with_directory`: they went
/// with it). Returns how many it wrote back, or why one could not be (it is tried again at the
/// next check).
fn write_back_or_forget(inner: &Inner, with_directory: bool) -> Result<usize, String> {
    let now = Instant::now();
    let segments: Vec<(u64, Option<Arc<std::fs::File>>, bool)> = lock(&inner.segs)
        .map
        .iter()
        .map(|(id, s)| {
            (
                *id,
                s.file.clone(),
                unreadable::gone(s, with_directory, now),
            )
        })
        .collect();
    let mut restored = 0;
    for (id, file, gone) in segments {
        let path = store::segment_path(&inner.dir, id);
        match file {
            Some(file) if store::same_file(&path, &file) => {}
            // Another producer's, made while this one did not hold the directory: not replaced
            // (a copy of this one's, as a directory copied away and back holds, is).
            Some(file) if store::holds_a_segment(&path) && !store::same_bytes(&path, &file) => {
                return Err(format!(
                    "{} is another producer's segment where this one's was (two producers on one \
                     spool directory?); move it away and this producer writes its own back",
                    path.display()
                ));
            }
            Some(file) => match store::restore(&path, &file) {
                Ok(new) => {
                    if let Some(seg) = lock(&inner.segs).map.get_mut(&id) {
                        seg.file = Some(Arc::new(new));
                        seg.acks_dirty = true;
                        seg.indexed = false;
                    }
                    restored += 1;
                }
                Err(error) => {
                    return Err(format!("could not write {} back: {error}", path.display()));
                }
            },
            None if gone && !store::is_there(&path) => {
                unreadable::forget(inner, id, with_directory)
            }
            None => {}
        }
    }
    Ok(restored)
}

/// The spool is closed: records waiting for a segment are written out (if a segment can be
/// had), the active segment is sealed, unused spare segments are deleted, and so are segments
/// whose records are all done.
fn finish(inner: &Inner, state: &mut Housekeeping) {
    while prepare_spares(inner) && !write_staged(inner) {}
    let (spares, left) = {
        // None is made meanwhile (see `spares::top_up`).
        let _one = lock(&inner.preparing);
        let mut active = lock(&inner.active);
        if let Some(current) = active.current.take() {
            inner.seal(current);
        }
        let left = active.staged.len() as u64;
        active.staged.clear();
        active.staged_bytes = 0;
        (std::mem::take(&mut active.spare), left)
    };
    if left > 0 {
        inner.lost.fetch_add(left, Ordering::Relaxed);
        inner.pending.fetch_sub(left, Ordering::AcqRel);
        inner.waiting.fetch_sub(left, Ordering::AcqRel);
        tracing::error!(
            records = left,
            "kafka-events: records waiting for a spool segment when the producer shut down could not be written (the disk is full or the directory unusable); they are lost"
        );
    }
    if state.dir_gone {
        // Not written in a directory this spool does not hold.
        tracing::error!(dir = %inner.dir.display(), "kafka-events: the spool shut down before its directory was whole again; the records it held there are not written back");
        return;
    }
    spares::delete(inner, spares);
    state.sync(inner, true);
    // Until one fails: it is not retried for ever.
    while state.retry_at.is_none() && !lock(&inner.segs).to_flush.is_empty() {
        state.sync(inner, true);
    }
    persist_acks(inner);
    delete_finished(inner);
}

/// Seals segment `id` if appends go to it (an `fsync` of its mapping failed).
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

/// Asks the worker to put the spool's files away for the next start (see [`note_put_away`])
/// and waits up to `timeout` for it. Then the worker goes back to its usual rounds: a record
/// spooled later (a delivery report of the teardown) goes into a mapped segment at once, not
/// into memory to wait for one. One segment is kept ready for those, not as many as a burst
/// needed: a process that exits now leaves it behind. Blocks: for `close`'s own thread.
pub(super) fn put_away(inner: &Inner, timeout: Duration) -> bool {
    inner.closing.store(true, Ordering::Release);
    inner.work.ring();
    let done = inner
        .bell
        .wait_until(timeout, || inner.put_away.load(Ordering::Acquire));
    {
        // Before any is made again (none is while closing). More, if records come after all.
        let mut active = lock(&inner.active);
        active.spare_target = 1;
        active.spares_used = 0;
    }
    inner.closing.store(false, Ordering::Release);
    inner.work.ring();
    done
}

/// The producer is closing: records waiting for a segment are written to one, the active
/// segment is sealed (the round's `sync` flushes it and writes its index) and the spare ones
/// are deleted. A spare left behind has no index, and the next start would read it through.
fn seal_and_drop_spares(inner: &Inner) {
    if !lock(&inner.active).staged.is_empty() {
        while prepare_spares(inner) && !write_staged(inner) {}
    }
    let spares = {
        // None is made meanwhile (see `spares::top_up`).
        let _one = lock(&inner.preparing);
        let mut active = lock(&inner.active);
        if !active.staged.is_empty() {
            // No segment could be had (a full disk): they wait, and so does the rest.
            return;
        }
        if let Some(current) = active.current.take() {
            inner.seal(current);
        }
        std::mem::take(&mut active.spare)
    };
    spares::delete(inner, spares);
}

/// Says whether the spool's files are put away: no active or spare segment, no record waiting
/// for one, every sealed segment flushed and indexed by the round's `sync`, and every
/// acknowledgement written (a record appended later undoes it until the next round).
fn note_put_away(inner: &Inner) {
    let idle = {
        let active = lock(&inner.active);
        active.current.is_none() && active.spare.is_empty() && active.staged.is_empty()
    };
    // Read under one lock: the unmapper moves sealed segments from one to the other.
    let done = idle && {
        let segs = lock(&inner.segs);
        segs.mapped.is_empty()
            && segs.to_flush.is_empty()
            && !segs.map.values().any(|seg| seg.acks_dirty)
    };
    if inner.put_away.swap(done, Ordering::AcqRel) != done {
        inner.bell.ring();
    }
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

/// Keeps the files of the active segment and of the newest sealed ones open, and closes the
/// others: the spool's open files stay bounded however long an outage lasts.
fn close_old_files(inner: &Inner) {
    let mut segs = lock(&inner.segs);
    let open_sealed = segs
        .map
        .values()
        .filter(|s| s.state == SegState::Sealed && s.file.is_some())
        .count();
    let mut to_close = open_sealed.saturating_sub(OPEN_SEALED);
    for seg in segs.map.values_mut() {
        if to_close == 0 {
            break;
        }
        if seg.state == SegState::Sealed && seg.file.is_some() {
            seg.file = None;
            to_close -= 1;
        }
    }
}

fn run_jobs(inner: &Inner) {
    let jobs = std::mem::take(&mut *lock(&inner.jobs));
    let ran = !jobs.is_empty();
    for job in jobs {
        let sync = inner.fsync != FsyncPolicy::Never;
        let topic = job.message.topic.to_string();
        let key = String::from_utf8_lossy(&job.message.key).into_owned();
        match job
            .message
            .with_ref(|m| inner.quarantine.put(&m, &job.reason, sync))
        {
            Ok(file) => {
                inner.quarantined.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    reason = %job.reason,
                    topic,
                    key,
                    file = %file.display(),
                    "kafka-events: the broker refused a record for good; it was moved to the quarantine"
                );
            }
            Err(error) => {
                inner.lost.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    %error,
                    reason = %job.reason,
                    topic,
                    key,
                    "kafka-events: the broker refused a record for good and it could not be quarantined; it is dropped"
                );
            }
        }
        if let Some(position) = job.position {
            inner.done(position);
        }
        inner.jobs_bytes.fetch_sub(job.bytes, Ordering::AcqRel);
        inner.jobs_queued.fetch_sub(1, Ordering::AcqRel);
    }
    if ran {
        inner.bell.ring();
    }
}

/// Writes the acknowledgement files of segments whose records changed state.
fn persist_acks(inner: &Inner) {
    let dirty: Vec<(u64, Vec<u64>)> = {
        let mut segs = lock(&inner.segs);
        segs.map
            .iter_mut()
            .filter(|(_, s)| s.acks_dirty && s.state != SegState::Unchecked)
            .map(|(id, s)| {
                s.acks_dirty = false;
                (*id, s.done_bits.clone())
            })
            .collect()
    };
    for (id, bits) in dirty {
        if let Err(error) = store::write_acks(&inner.dir, id, &bits) {
            tracing::warn!(%error, segment = id, "spool: could not record acknowledgements; those records may be sent again after a restart");
        }
    }
}

/// Deletes segments whose every record is done. One that can't be deleted is kept (its records
/// are done and are not sent again) and retried later, with a growing delay. Returns when to
/// try again.
fn delete_finished(inner: &Inner) -> Option<Instant> {
    let now = Instant::now();
    let due: Vec<u64> = lock(&inner.segs)
        .map
        .iter()
        .filter(|(_, s)| s.finished() && s.delete_after.is_none_or(|at| at <= now))
        .map(|(id, _)| *id)
        .collect();
    for id in due {
        match store::remove(&inner.dir, id) {
            Ok(()) => {
                lock(&inner.segs).map.remove(&id);
                inner.bell.ring();
            }
            Err(error) => {
                let mut segs = lock(&inner.segs);
                if let Some(seg) = segs.map.get_mut(&id) {
                    if seg.delete_after.is_none() {
                        tracing::warn!(%error, segment = id, dir = %inner.dir.display(), "spool: could not delete a replayed segment; it is kept (its records are not sent again) and deleting is retried");
                    }
                    seg.delete_after = Some(now + seg.delete_backoff.next());
                }
            }
        }
    }
    lock(&inner.segs)
        .map
        .values()
        .filter_map(|s| s.delete_after)
        .min()
}
