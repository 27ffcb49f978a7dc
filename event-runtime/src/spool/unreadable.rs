//! A segment whose file can't be read, for its check at a start or for a replay: what becomes
//! of its records and of the segments after it.
//!
//! - **Its file is gone** (`NotFound`): the worker writes back a segment this process still
//!   has open, and forgets one it does not once [`gone`] says so (missing for
//!   [`MISSING_GRACE`], none of its records with librdkafka): that one's records not yet done
//!   are lost, counted and logged ([`forget`]). Until then it holds every key, as below.
//! - **Any other error** (`EIO`, `EMFILE`, a file replaced by something else, …): its records
//!   stay pending, and reading it is retried (a replay after 0.1 s, doubling up to 5 s; a
//!   segment of an earlier run every 5 s). Meanwhile it holds every key: which keys its records
//!   carry is not known, and none of its records may be overtaken by a later one of their key.
//!   At its first failed read after [`HOLD`] of them it lets later segments go on (logged:
//!   records of its keys may then reach the broker ahead of its own), so that one bad file does
//!   not stop the spool for good; it is still retried, and nothing in it is counted lost while
//!   it may be read again.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::state::{Held, Inner, Replay, Seg, SegState};
use super::store;
use crate::flow::lock;

/// How long a segment that can't be read holds back every later segment.
pub(super) const HOLD: Duration = Duration::from_secs(60);

/// How long a segment file must have been missing (in a directory still there) before it is
/// taken for gone: one moved aside and back meanwhile is not forgotten.
pub(super) const MISSING_GRACE: Duration = Duration::from_secs(10);

/// Whether a segment of an earlier run not checked yet holds every key for later segments:
/// until it has been unreadable for [`HOLD`].
pub(super) fn unchecked_holds(seg: &Seg, now: Instant) -> bool {
    seg.state == SegState::Unchecked && holding(seg, now)
}

fn holding(seg: &Seg, now: Instant) -> bool {
    seg.unreadable_since
        .is_none_or(|since| now.saturating_duration_since(since) < HOLD)
}

/// Segment `id` could not be read (`error`): it holds every key while [`HOLD`] lasts, and is
/// read again later; a missing file is the worker's to write back or forget (or, for a segment
/// not checked yet, its check's to forget).
pub(super) fn failed(inner: &Inner, id: u64, error: &io::Error) {
    let now = Instant::now();
    let missing = error.kind() == io::ErrorKind::NotFound;
    let mut segs = lock(&inner.segs);
    let Some(seg) = segs.map.get_mut(&id) else {
        return;
    };
    let first = seg.unreadable_since.is_none();
    seg.unreadable_since.get_or_insert(now);
    if missing {
        seg.missing_since.get_or_insert(now);
    } else {
        seg.missing_since = None;
    }
    let holds = holding(seg, now);
    let gave_up = !holds && seg.held == Held::Everything;
    seg.held = if holds {
        Held::Everything
    } else {
        Held::Nothing
    };
    if seg.state != SegState::Unchecked {
        // Its records were not handed over: no report will end this replay.
        seg.replay = Replay::Idle;
        seg.retry_after = Some(now + seg.replay_backoff.next());
    }
    // Not yet checked, it has no records counted: its check (on this thread) forgets it.
    let forget_now = missing && seg.state == SegState::Unchecked && gone(seg, false, now);
    drop(segs);
    if forget_now && !store::is_there(&store::segment_path(&inner.dir, id)) {
        forget(inner, id, false);
    } else if missing {
        inner.files_missing.store(true, Ordering::Release);
        inner.work.ring();
    }
    if first {
        tracing::error!(
            %error,
            segment = id,
            dir = %inner.dir.display(),
            "kafka-events: could not read a spool segment; its records stay in the spool and reading it is retried; later segments wait for it for up to {HOLD:?}"
        );
    } else if gave_up {
        tracing::warn!(
            %error,
            segment = id,
            dir = %inner.dir.display(),
            "kafka-events: a spool segment could not be read for {HOLD:?}; later segments go on without it (records of its keys may reach the broker ahead of its own), and reading it is still retried"
        );
    }
    inner.bell.ring();
}

/// Whether segment `seg`, its file missing and not open in this process, is taken for gone:
/// never while it is being replayed or records of it are with librdkafka (its next read says);
/// at once when it went with its directory (`with_directory`), once checked; otherwise once
/// every read of it for [`MISSING_GRACE`] found its file missing.
pub(super) fn gone(seg: &Seg, with_directory: bool, now: Instant) -> bool {
    let busy = seg.replay != Replay::Idle || seg.in_flight.load(Ordering::Acquire) > 0;
    let long = seg
        .missing_since
        .is_some_and(|since| now.saturating_duration_since(since) >= MISSING_GRACE);
    !busy && (with_directory && seg.state != SegState::Unchecked || long)
}

/// A segment whose file is gone (alone or with its directory) and that this process had
/// closed: if [`gone`] still says so, its records that were not done are lost, counted and
/// logged; what was left beside it (its index and acknowledgements) goes too.
pub(super) fn forget(inner: &Inner, id: u64, with_directory: bool) {
    let seg = {
        let mut segs = lock(&inner.segs);
        let now = Instant::now();
        if !segs
            .map
            .get(&id)
            .is_some_and(|s| gone(s, with_directory, now))
        {
            return;
        }
        segs.map.remove(&id).expect("looked at above")
    };
    let lost = u64::from(seg.records.saturating_sub(seg.done));
    let in_flight = u64::from(seg.in_flight.load(Ordering::Acquire));
    inner.pending.fetch_sub(lost, Ordering::AcqRel);
    inner
        .waiting
        .fetch_sub(lost.saturating_sub(in_flight), Ordering::AcqRel);
    inner.lost.fetch_add(lost, Ordering::Relaxed);
    let _ = store::remove_if_there(&store::index_path(&inner.dir, id));
    let _ = store::remove_if_there(&store::acks_path(&inner.dir, id));
    if seg.state == SegState::Unchecked {
        tracing::error!(
            segment = id,
            dir = %inner.dir.display(),
            "kafka-events: a spool segment an earlier run left was removed before it could be read; its records (how many is not known) are lost"
        );
        // What is left unchecked is what new records go behind.
        inner.settle();
    } else if lost > 0 {
        tracing::error!(
            segment = id,
            records = lost,
            dir = %inner.dir.display(),
            "kafka-events: a spool segment was removed and this process no longer held it open; its records are lost"
        );
    }
}

/// Segment `seg` (`id`) was read: if it could not be before, it is no longer held back.
pub(super) fn read(seg: &mut Seg, id: u64) {
    seg.missing_since = None;
    if seg.unreadable_since.take().is_some() {
        tracing::info!(
            segment = id,
            "kafka-events: a spool segment that could not be read can be again; its records are replayed"
        );
    }
}
