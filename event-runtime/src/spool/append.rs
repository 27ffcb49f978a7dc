//! Appending a record: one copy into the mapped active segment (no system call), so a killed
//! process leaves it to the kernel. When the active segment is full the next one, prepared ahead
//! (by the spool's spares thread, or its worker), takes over; when none is ready yet (a burst
//! faster than they make segments, on a busy machine), the record waits in memory, in order, to
//! be written into the next one. An append is refused only when the disk is full or the
//! directory unusable, or when that memory is used up and the caller may not wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::codec::{self, FILE_HEADER};
use super::config::FsyncPolicy;
use super::state::{Active, Blocked, Current, Inner, MAX_STAGED_BYTES, Position, Seg, SegState};
use crate::error::SpoolError;
use crate::flow::lock;
use crate::message::MessageRef;

/// Who appends: whether the caller's thread may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A thread that emits (maybe an async runtime's): never waits.
    Emitter,
    /// A thread that emits off any async runtime, under the `block` overflow policy, or one of
    /// the producer's own threads: when the records waiting for a segment fill their memory, it
    /// may wait, until then, for the spool to write them (it does no file I/O itself).
    MayWaitUntil(Instant),
}

/// Where an appended record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// In a segment, at this position.
    At(Position),
    /// Waiting in memory for the next segment: the spool writes it there; replay sends it.
    Staged,
}

/// Why an append could not go into a segment.
enum Refused {
    Blocked(Blocked),
    /// The memory for records waiting for a segment is used up.
    Behind,
    Closed,
    TooLarge(usize),
}

/// Whether the spool can hold `message` at all (a record larger than a segment can't be
/// spooled).
pub(super) fn fits(inner: &Inner, message: &MessageRef<'_>) -> bool {
    FILE_HEADER + codec::encoded_len(message) <= inner.capacity
}

/// Appends one record (which passed [`codec::check`] and [`fits`]). With `in_flight`, the record
/// is counted as handed to librdkafka (write-ahead), so replay leaves it alone until its outcome
/// is known; a record that has to wait for a segment is never in flight.
pub(super) fn append(
    inner: &Inner,
    message: MessageRef<'_>,
    in_flight: bool,
    caller: Caller,
) -> Result<Appended, SpoolError> {
    loop {
        let seen = inner.bell.rung();
        match try_append(inner, message, in_flight) {
            Err(Refused::Behind) => match caller {
                // The worker rings the bell as it writes waiting records out.
                Caller::MayWaitUntil(until) if Instant::now() < until => {
                    inner.work.ring();
                    inner
                        .bell
                        .wait(seen, until.saturating_duration_since(Instant::now()));
                }
                _ => return Err(refusal(inner, Refused::Behind)),
            },
            result => return result.map_err(|e| refusal(inner, e)),
        }
    }
}

fn try_append(
    inner: &Inner,
    message: MessageRef<'_>,
    in_flight: bool,
) -> Result<Appended, Refused> {
    let len = codec::encoded_len(&message);
    if FILE_HEADER + len > inner.capacity {
        return Err(Refused::TooLarge(len));
    }
    let mut active = lock(&inner.active);
    if inner.stop.load(Ordering::Acquire) {
        return Err(Refused::Closed);
    }
    let must_wait = if active.staged.is_empty() {
        !has_room(inner, &mut active, len)?
    } else {
        // A full disk or an unusable directory refuses at once, even with records waiting:
        // they were accepted, this one is not, and the order of what was accepted holds.
        if let (true, Some(blocked)) = (active.spare.is_empty(), &active.blocked) {
            return Err(Refused::Blocked(blocked.clone()));
        }
        true
    };
    if must_wait {
        // Behind the records already waiting, in order.
        if active.staged_bytes + len > MAX_STAGED_BYTES {
            return Err(Refused::Behind);
        }
        let mut bytes = vec![0; len];
        codec::encode_into(&message, &mut bytes);
        active.staged_bytes += len;
        active.staged.push_back(bytes);
        drop(active);
        counted(inner, false);
        inner.work.ring();
        inner.make.ring();
        return Ok(Appended::Staged);
    }
    let current = active.current.as_mut().expect("room above");
    codec::encode_into(&message, current.writer.slice_mut(current.offset, len));
    let position = write_down(current, len, in_flight);
    drop(active);
    counted(inner, in_flight);
    Ok(Appended::At(position))
}

/// Whether the active segment has room for `len` bytes, starting the next prepared one when it
/// has not; false when none is prepared yet.
fn has_room(inner: &Inner, active: &mut Active, len: usize) -> Result<bool, Refused> {
    if active
        .current
        .as_ref()
        .is_some_and(|c| c.offset + len <= c.writer.len())
    {
        return Ok(true);
    }
    if active.spare.is_empty() {
        return match &active.blocked {
            Some(blocked) => Err(Refused::Blocked(blocked.clone())),
            None => Ok(false),
        };
    }
    roll(inner, active);
    Ok(true)
}

/// Counts a record written into the active segment at its end; returns where it is.
pub(super) fn write_down(current: &mut Current, len: usize, in_flight: bool) -> Position {
    let position = Position {
        segment: current.id,
        index: current.records,
    };
    current.offset += len;
    current.records += 1;
    if in_flight {
        current.in_flight.fetch_add(1, Ordering::AcqRel);
    }
    position
}

/// Counts an appended record (in a segment, or waiting for one).
pub(super) fn counted(inner: &Inner, in_flight: bool) {
    inner.pending.fetch_add(1, Ordering::AcqRel);
    if !in_flight {
        inner.waiting.fetch_add(1, Ordering::AcqRel);
    }
    let before = inner.appended.fetch_add(1, Ordering::AcqRel);
    if inner.fsync != FsyncPolicy::Never && before == inner.synced.load(Ordering::Acquire) {
        // The first record since the last fsync: the worker starts counting from here.
        inner.work.ring();
    }
    if !in_flight {
        inner.bell.ring();
    }
}

/// Seals the current segment and starts the first spare one (made ahead).
pub(super) fn roll(inner: &Inner, active: &mut Active) {
    let spare = active.spare.remove(0);
    active.spares_used += 1;
    if let Some(current) = active.current.take() {
        inner.seal(current);
    }
    let in_flight = Arc::new(AtomicU32::new(0));
    {
        let mut segs = lock(&inner.segs);
        let mut seg = Seg::new(Some(spare.file), SegState::Active);
        seg.in_flight = in_flight.clone();
        segs.map.insert(spare.id, seg);
        segs.mapped.push((spare.id, spare.flusher));
    }
    active.current = Some(Current {
        id: spare.id,
        writer: spare.writer,
        offset: FILE_HEADER,
        records: 0,
        in_flight,
    });
    // Prepare the next spare (sealing rang the spares thread).
    inner.work.ring();
}

fn refusal(inner: &Inner, refused: Refused) -> SpoolError {
    match refused {
        Refused::Blocked(Blocked::Full) => SpoolError::Full {
            dir: inner.dir.clone(),
        },
        Refused::Blocked(Blocked::Unavailable(reason) | Blocked::Directory(reason)) => {
            inner.unavailable(&reason)
        }
        Refused::Behind => inner.unavailable(&format!(
            "{MAX_STAGED_BYTES} bytes of records are waiting for the spool to start \
             a segment (the machine is too busy for it, or the disk too slow)"
        )),
        Refused::Closed => inner.unavailable("the producer is closed"),
        Refused::TooLarge(len) => inner.unavailable(&format!(
            "a record of {len} bytes is larger than a segment ({} bytes)",
            inner.capacity
        )),
    }
}
