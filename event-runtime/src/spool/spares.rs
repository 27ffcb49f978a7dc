//! Segments made ahead of time: the spares the worker keeps ready for appends (more of them
//! when appends outrun it), the records that found none ready written to a new one, and
//! unused spares deleted when the spool closes. All on the spool's worker thread.

use std::io;

use super::append;
use super::state::{Blocked, Inner};
use super::store;
use super::store::Prepared;
use crate::flow::lock;

/// Makes the next segments ahead of time, as many as the spool keeps ready now. Returns false
/// (and says why appends that need a new segment are refused) when it can't.
pub(super) fn prepare_spares(inner: &Inner) -> bool {
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

fn prepare_spare(inner: &Inner) -> bool {
    let id = {
        let mut segs = lock(&inner.segs);
        segs.next_id += 1;
        segs.next_id - 1
    };
    match store::prepare(&inner.dir, id, inner.capacity) {
        Ok(prepared) => {
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
