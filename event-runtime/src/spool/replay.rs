//! Replay scheduling: which segment's records go to librdkafka next, reading them back, and
//! keeping count of those with librdkafka, so that an acknowledged record is never sent again
//! and a segment whose records keep failing pauses without holding up the others.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::codec::{self, Span};
use super::state::{Inner, Position, SegState, bit_set};
use super::store;
use crate::error::SpoolError;
use crate::flow::lock;
use crate::message::BorrowedRecord;

/// A segment ready to be replayed.
pub(crate) struct Ticket {
    pub segment: u64,
    file: Arc<File>,
    end: usize,
    done: Vec<u64>,
    records: u32,
}

/// A segment read back for replay: its bytes, and the records in it not yet done.
pub(crate) struct Loaded {
    pub bytes: Vec<u8>,
    pub records: Vec<(u32, Span)>,
}

impl Loaded {
    /// The record at `span`, borrowed.
    pub fn record(&self, span: Span) -> Option<BorrowedRecord<'_>> {
        codec::decode_record(self.bytes.get(span.offset..span.offset + span.len)?)
    }
}

/// The oldest segment with records to replay that is not pausing after a failure and has none
/// of its records with librdkafka now. The active segment is sealed first (new records go to
/// the next one), so its records can be replayed while new ones keep coming. A segment whose
/// records keep failing pauses (longer after each failure) and does not hold up the segments
/// after it.
pub(super) fn next(inner: &Inner) -> Option<Ticket> {
    let now = Instant::now();
    let mut active = lock(&inner.active);
    let current = active
        .current
        .as_ref()
        .map(|c| (c.id, c.records, c.in_flight.load(Ordering::Acquire)));
    let (id, is_active) = {
        let segs = lock(&inner.segs);
        let (id, seg) = segs.map.iter().find(|(id, seg)| {
            let ready = seg.retry_after.is_none_or(|at| at <= now);
            ready
                && match seg.state {
                    SegState::Unchecked => false,
                    SegState::Sealed => {
                        seg.done < seg.records && seg.in_flight.load(Ordering::Acquire) == 0
                    }
                    // Write-ahead keeps its records with librdkafka; only those that came back
                    // undelivered are replayed.
                    SegState::Active => current.is_some_and(|(cid, records, in_flight)| {
                        cid == **id && seg.done + in_flight < records
                    }),
                }
        })?;
        (*id, seg.state == SegState::Active)
    };
    if is_active {
        let current = active.current.take().expect("found above");
        inner.seal(current);
    }
    drop(active);
    let segs = lock(&inner.segs);
    // A sealed write-ahead segment waits for its records' reports.
    let seg = segs
        .map
        .get(&id)
        .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)?;
    Some(Ticket {
        segment: id,
        file: seg.file.clone(),
        end: seg.end,
        done: seg.done_bits.clone(),
        records: seg.records,
    })
}

/// The replay of a segment's records has finished: if some are still pending (they failed), the
/// segment pauses before its next replay, longer after each failure.
pub(super) fn replayed(inner: &Inner, segment: u64) {
    let mut segs = lock(&inner.segs);
    if let Some(seg) = segs.map.get_mut(&segment) {
        if seg.done < seg.records {
            seg.retry_after = Some(Instant::now() + seg.replay_backoff.next());
        } else {
            seg.retry_after = None;
            seg.replay_backoff.reset();
        }
    }
}

/// Reads a segment and returns its records not yet done. Records a damaged segment no longer
/// holds are set aside (their bytes kept in a `.damaged` file), counted as lost and done.
pub(super) fn load(inner: &Inner, ticket: &Ticket) -> Result<Loaded, SpoolError> {
    let path = store::segment_path(&inner.dir, ticket.segment);
    let io = |source| SpoolError::Io {
        path: path.clone(),
        source,
    };
    // A file cut short after it was written gives what it still has.
    let on_disk = ticket.file.metadata().map_err(io)?.len() as usize;
    let bytes = store::read(&ticket.file, Some(ticket.end.min(on_disk))).map_err(io)?;
    let scan = codec::scan(&bytes);
    let found = scan.records.len() as u32;
    if found < ticket.records {
        // Changed on disk after this process wrote and checked it.
        let offset = scan.end;
        let kept = store::keep_damaged(&inner.dir, ticket.segment, offset, &bytes[offset..]);
        let mut missing = 0;
        let mut segs = lock(&inner.segs);
        if let Some(seg) = segs.map.get_mut(&ticket.segment) {
            for index in found..ticket.records {
                if seg.set_done(index) {
                    missing += 1;
                }
            }
            // Without a copy of the damaged bytes, the segment itself stays.
            seg.keep |= kept.is_err();
        }
        drop(segs);
        inner.pending.fetch_sub(missing, Ordering::AcqRel);
        inner.lost.fetch_add(missing, Ordering::Relaxed);
        tracing::error!(
            segment = ticket.segment,
            offset,
            lost = missing,
            kept_in = ?kept.as_ref().map(|p| p.display().to_string()),
            "kafka-events: a spool segment was damaged after it was written; the records after the damage are lost"
        );
        inner.work.ring();
    }
    let records = scan
        .records
        .into_iter()
        .enumerate()
        .map(|(i, span)| (i as u32, span))
        .filter(|(i, _)| !bit_set(&ticket.done, *i))
        .collect();
    Ok(Loaded { bytes, records })
}

/// Counts a record of a loaded segment as handed to librdkafka.
pub(super) fn sending(inner: &Inner, position: Position) {
    if let Some(seg) = lock(&inner.segs).map.get(&position.segment) {
        seg.in_flight.fetch_add(1, Ordering::AcqRel);
    }
}

/// How many records of a segment are with librdkafka now.
pub(super) fn in_flight(inner: &Inner, segment: u64) -> u32 {
    lock(&inner.segs)
        .map
        .get(&segment)
        .map_or(0, |s| s.in_flight.load(Ordering::Acquire))
}
