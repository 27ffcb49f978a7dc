//! Appending a record: one copy into the mapped active segment (no system call), so a killed
//! process leaves it to the kernel. When the active segment is full the next one, prepared
//! ahead by the worker, takes over.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::codec::{self, FILE_HEADER};
use super::config::FsyncPolicy;
use super::state::{Active, Blocked, Current, Inner, Position, Seg, SegState};
use super::worker;
use crate::error::SpoolError;
use crate::flow::lock;
use crate::message::MessageRef;

/// Who appends: whether the caller's thread may do file I/O when it has to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A thread that emits (maybe an async runtime's): never waits for a disk.
    Emitter,
    /// A thread that emits off any async runtime, under the `block` overflow policy: it may
    /// wait, until then, for the worker thread to prepare the next segment (it does no file
    /// I/O itself).
    EmitterUntil(Instant),
    /// librdkafka's thread or one of the producer's own.
    MayBlock,
}

/// Why an append could not start a new segment.
enum Roll {
    Blocked(Blocked),
    NotReady,
    Closed,
    TooLarge(usize),
}

/// Whether the spool can hold `message` at all (a record larger than a segment can't be
/// spooled).
pub(super) fn fits(inner: &Inner, message: &MessageRef<'_>) -> bool {
    FILE_HEADER + codec::encoded_len(message) <= inner.capacity
}

/// Appends one record. With `in_flight`, the record is counted as handed to librdkafka
/// (write-ahead), so replay leaves it alone until its outcome is known.
///
/// When the segments the worker made ahead are used up, a caller that may block
/// ([`Caller::MayBlock`]: librdkafka's thread, the producer's own threads) makes the next one
/// itself; an emitter allowed to wait ([`Caller::EmitterUntil`]) waits for the worker to make
/// it, until its deadline; any other emitting thread gets an error instead.
pub(super) fn append(
    inner: &Inner,
    message: MessageRef<'_>,
    in_flight: bool,
    caller: Caller,
) -> Result<Position, SpoolError> {
    match (try_append(inner, message, in_flight), caller) {
        (Err(Roll::NotReady), Caller::MayBlock) => {
            worker::prepare_spares(inner);
            try_append(inner, message, in_flight).map_err(|e| roll_error(inner, e))
        }
        (Err(Roll::NotReady), Caller::EmitterUntil(until)) => {
            // The worker rings the bell when it has prepared a segment, or can't.
            inner.work.ring();
            loop {
                let seen = inner.bell.rung();
                match try_append(inner, message, in_flight) {
                    Err(Roll::NotReady) if Instant::now() < until => inner
                        .bell
                        .wait(seen, until.saturating_duration_since(Instant::now())),
                    result => break result.map_err(|e| roll_error(inner, e)),
                }
            }
        }
        (result, _) => result.map_err(|e| roll_error(inner, e)),
    }
}

fn try_append(inner: &Inner, message: MessageRef<'_>, in_flight: bool) -> Result<Position, Roll> {
    let len = codec::encoded_len(&message);
    let mut active = lock(&inner.active);
    if inner.stop.load(Ordering::Acquire) {
        return Err(Roll::Closed);
    }
    let fits = active
        .current
        .as_ref()
        .is_some_and(|c| c.offset + len <= c.writer.len());
    if !fits {
        if FILE_HEADER + len > inner.capacity {
            return Err(Roll::TooLarge(len));
        }
        roll(inner, &mut active)?;
    }
    let current = active.current.as_mut().expect("rolled above");
    codec::encode_into(&message, current.writer.slice_mut(current.offset, len));
    let position = Position {
        segment: current.id,
        index: current.records,
    };
    current.offset += len;
    current.records += 1;
    if in_flight {
        current.in_flight.fetch_add(1, Ordering::AcqRel);
    }
    drop(active);
    inner.pending.fetch_add(1, Ordering::AcqRel);
    let before = inner.appended.fetch_add(1, Ordering::AcqRel);
    if inner.fsync != FsyncPolicy::Never && before == inner.synced.load(Ordering::Acquire) {
        // The first record since the last fsync: the worker starts counting from here.
        inner.work.ring();
    }
    if !in_flight {
        inner.bell.ring();
    }
    Ok(position)
}

/// Seals the current segment and starts the spare one (which the worker prepared).
fn roll(inner: &Inner, active: &mut Active) -> Result<(), Roll> {
    if active.spare.is_empty() {
        return Err(match &active.blocked {
            Some(blocked) => Roll::Blocked(blocked.clone()),
            None => Roll::NotReady,
        });
    }
    let spare = active.spare.remove(0);
    if let Some(current) = active.current.take() {
        inner.seal(current);
    }
    let in_flight = Arc::new(AtomicU32::new(0));
    {
        let mut segs = lock(&inner.segs);
        let mut seg = Seg::new(spare.file, SegState::Active);
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
    // Prepare the next spare.
    inner.work.ring();
    Ok(())
}

fn roll_error(inner: &Inner, roll: Roll) -> SpoolError {
    match roll {
        Roll::Blocked(Blocked::Full) => SpoolError::Full {
            dir: inner.dir.clone(),
        },
        Roll::Blocked(Blocked::Unavailable(reason)) => inner.unavailable(&reason),
        Roll::NotReady => inner.unavailable("the next segment is not ready yet; retry shortly"),
        Roll::Closed => inner.unavailable("the producer is closed"),
        Roll::TooLarge(len) => inner.unavailable(&format!(
            "a record of {len} bytes is larger than a segment ({} bytes)",
            inner.capacity
        )),
    }
}
