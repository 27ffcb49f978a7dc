//! The spool's worker thread: every file operation the spool needs after it was opened, so that
//! no thread that emits ever waits for a disk, but for making segments ahead, which the spares
//! thread does (see [`spares::run`]; the worker makes them too between its rounds, and writes
//! out records that found none ready). Each round it `fsync`s by the policy
//! ([`fsync`](super::fsync)), writes acknowledgements and the quarantine, deletes finished
//! segments (backing off when it can't), keeps few files open, checks the directory is still
//! its own ([`recreate`](super::recreate)), and, when
//! the producer closes, puts the files away for the next start (the active segment sealed and
//! indexed, no spare left).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::config::FsyncPolicy;
use super::fsync::Fsyncs;
use super::recreate::DirWatch;
use super::spares;
use super::spares::{prepare_spares, write_staged};
use super::state::{Inner, OPEN_SEALED, SegState};
use super::store;
use crate::flow::{Backoff, lock};

pub(super) fn run(inner: Arc<Inner>) {
    let mut state = Housekeeping::new();
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
        // Nothing is written in a directory this spool does not hold (see `recreate`).
        let whole = !state.dir.gone;
        if whole {
            state.fsyncs.round(&inner, stopping);
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
        if !stopping && state.dir.check_if_due(&inner, missing) {
            state.spare_after = None;
            state.ensure_spare(&inner);
        }
        if stopping && lock(&inner.jobs).is_empty() {
            finish(&inner, &mut state);
            break;
        }
        let now = Instant::now();
        // Segments sealed during the round's flushes are flushed in the next, at once (or when
        // a failed `fsync` is retried). While the directory is not whole, only its next check
        // is waited for.
        let whole = !state.dir.gone;
        let mut wake = if !whole || lock(&inner.segs).to_flush.is_empty() {
            state.dir.check_at
        } else {
            state.fsyncs.retry_at().map_or(now, |at| at.max(now))
        };
        let sync_due = state.fsyncs.due(&inner).filter(|_| whole);
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
    fsyncs: Fsyncs,
    dir: DirWatch,
    spare_after: Option<Instant>,
    spare_backoff: Backoff,
}

impl Housekeeping {
    fn new() -> Self {
        Housekeeping {
            fsyncs: Fsyncs::default(),
            dir: DirWatch::default(),
            spare_after: None,
            spare_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
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
    if state.dir.gone {
        // Not written in a directory this spool does not hold.
        tracing::error!(dir = %inner.dir.display(), "kafka-events: the spool shut down before its directory was whole again; the records it held there are not written back");
        return;
    }
    spares::delete(inner, spares);
    state.fsyncs.round(inner, true);
    // Until one fails: it is not retried for ever.
    while state.fsyncs.retry_at().is_none() && !lock(&inner.segs).to_flush.is_empty() {
        state.fsyncs.round(inner, true);
    }
    persist_acks(inner);
    delete_finished(inner);
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
