//! Segments made ahead of time: the spares kept ready for appends (more of them when appends
//! outrun them), the records that found none ready written to a new one, and unused spares
//! deleted when the spool closes. On the spool's spares thread ([`run`]) and its worker, one at
//! a time ([`Inner::preparing`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::append;
use super::state::{Active, Blocked, Inner, MAX_SPARES};
use super::store;
use super::store::Prepared;
use crate::flow::lock;

/// Makes the next segments ahead of time, as many as the spool keeps ready now. Returns false
/// (and says why appends that need a new segment are refused) when it can't.
pub(super) fn prepare_spares(inner: &Inner) -> bool {
    let _one = lock(&inner.preparing);
    prepare_held(inner)
}

/// The spool's spares thread: after each seal, and when records wait for a segment, it tops the
/// spare segments up and writes those records out. The worker does the same between its
/// rounds, but its `fsync`s keep it away for as long as the disk takes (ext4 commits its
/// journal behind the data of every file), while the emitters of a burst fill a segment every
/// few milliseconds: records that find none wait in memory, and the process's memory grows.
pub(super) fn run(inner: Arc<Inner>) {
    loop {
        let seen = inner.make.rung();
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        top_up(&inner);
        inner.make.wait(seen, IDLE);
    }
}

/// How long the spares thread waits for a ring before it looks again on its own (every seal,
/// every record that waits for a segment and the spool's drop ring it).
const IDLE: Duration = Duration::from_secs(30);

/// Tops the spare segments up and writes out the records waiting for one. Not once the spool
/// closes or stops: the worker then takes the spares away (under [`Inner::preparing`], as this
/// does its work).
fn top_up(inner: &Inner) {
    {
        let _one = lock(&inner.preparing);
        if inner.stop.load(Ordering::Acquire) || inner.closing.load(Ordering::Acquire) {
            return;
        }
        grow_target(&mut lock(&inner.active));
        if !prepare_held(inner) {
            return;
        }
    }
    write_staged(inner);
}

/// Keeps more spare segments (up to [`MAX_SPARES`]) once appends use them up faster than they
/// are made: records waited for one, or appends took half of them since the last look.
pub(super) fn grow_target(active: &mut Active) {
    if !active.staged.is_empty() || active.spares_used * 2 >= active.spare_target {
        active.spare_target = (active.spare_target * 2).min(MAX_SPARES);
    }
    active.spares_used = 0;
}

/// [`prepare_spares`], under [`Inner::preparing`].
fn prepare_held(inner: &Inner) -> bool {
    loop {
        {
            let active = lock(&inner.active);
            if active.spare.len() >= active.spare_target {
                return true;
            }
        }
        if !prepare_spare(inner) {
            return false;
        }
    }
}

pub(super) fn prepare_spare(inner: &Inner) -> bool {
    if matches!(lock(&inner.active).blocked, Some(Blocked::Directory(_))) {
        // Not in a directory this spool may not hold: the worker is making it whole again.
        return false;
    }
    if !inner.lock.holds(&inner.dir) {
        // The directory went (or another producer recreated and locked it) since the worker's
        // last check: nothing is made in it, and the worker looks at once.
        inner.files_missing.store(true, Ordering::Release);
        inner.bell.ring();
        return false;
    }
    let id = {
        let mut segs = lock(&inner.segs);
        segs.next_id += 1;
        segs.next_id - 1
    };
    match store::prepare(&inner.dir, id, inner.capacity) {
        Ok(prepared) => {
            // Made durable by the next `fsync` (see `store::prepare`).
            inner.dir_unsynced.store(true, Ordering::Release);
            let mut active = lock(&inner.active);
            active.spare.push(prepared);
            if active.blocked.take().is_some() {
                tracing::info!(dir = %inner.dir.display(), "kafka-events: the spool takes records again");
            }
            drop(active);
            inner.bell.ring();
            true
        }
        Err(error) => {
            let blocked = if is_full(&error) {
                Blocked::Full
            } else {
                Blocked::Unavailable(format!("a new segment could not be created: {error}"))
            };
            let mut active = lock(&inner.active);
            if active.blocked.is_none() {
                tracing::error!(%error, dir = %inner.dir.display(), "kafka-events: the spool can't start a new segment; records that need one are refused until it can");
            }
            active.blocked = Some(blocked);
            drop(active);
            // An emitter waiting for the segment hears at once that it won't come.
            inner.bell.ring();
            false
        }
    }
}

/// Writes the records waiting for a segment into segments, in order, starting prepared ones as
/// they fill. Returns whether none is left waiting.
pub(super) fn write_staged(inner: &Inner) -> bool {
    let mut active = lock(&inner.active);
    let mut wrote = false;
    while let Some(bytes) = active.staged.front() {
        let len = bytes.len();
        let room = active
            .current
            .as_ref()
            .is_some_and(|c| c.offset + len <= c.writer.len());
        if !room {
            if active.spare.is_empty() {
                break;
            }
            append::roll(inner, &mut active);
        }
        let bytes = active.staged.pop_front().expect("looked at above");
        active.staged_bytes -= len;
        let current = active.current.as_mut().expect("room above");
        current
            .writer
            .slice_mut(current.offset, len)
            .copy_from_slice(&bytes);
        append::write_down(current, len, false);
        wrote = true;
    }
    let empty = active.staged.is_empty();
    drop(active);
    if wrote {
        inner.bell.ring();
    }
    empty
}

/// Deletes spare segments no record went into (closing: a spare left behind has no index,
/// and the next start would read it through).
pub(super) fn delete(inner: &Inner, spares: Vec<Prepared>) {
    for spare in spares {
        let id = spare.id;
        drop(spare);
        if let Err(error) = store::remove(&inner.dir, id) {
            tracing::warn!(%error, segment = id, "spool: could not delete an unused segment");
        }
    }
}

fn is_full(error: &io::Error) -> bool {
    // ENOSPC, EDQUOT, EFBIG
    error.kind() == io::ErrorKind::StorageFull
        || error.kind() == io::ErrorKind::QuotaExceeded
        || error.kind() == io::ErrorKind::FileTooLarge
}
