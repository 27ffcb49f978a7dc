//! Replay scheduling: which segment's records go to librdkafka next, reading them back, and
//! keeping count of those with librdkafka, so that an acknowledged record is never sent again,
//! records of one key reach their partition in the order they were spooled, and a segment whose
//! records keep failing pauses without holding up the records of other keys behind it.
//!
//! A segment is replayed while the one before it may still have records with librdkafka: their
//! order is librdkafka's (one queue per partition). When a replayed record fails, the producer
//! takes back what is still with librdkafka, so nothing of its key overtakes it; the segment
//! then holds that record's key bucket, and later segments leave their records of that bucket
//! waiting until it is delivered.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::codec::{self, Span};
use super::state::{Held, Inner, Position, Replay, SegState, bit_set};
use super::store;
use crate::error::SpoolError;
use crate::flow::lock;
use crate::message::BorrowedRecord;

/// How many key buckets order is kept by (a key's bucket is a hash of its topic and key).
const BUCKETS: u64 = 1 << 16;

/// The key bucket of a record: records of one topic and key share it (and so do a few others).
pub(crate) fn bucket(topic: &str, key: &[u8]) -> u16 {
    // FNV-1a: cheap, and stable across runs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in topic.bytes().chain([0xff]).chain(key.iter().copied()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % BUCKETS) as u16
}

/// A segment ready to be replayed.
pub(crate) struct Ticket {
    pub segment: u64,
    end: usize,
    done: Vec<u64>,
    records: u32,
    /// What older segments still hold.
    held: Vec<Held>,
}

/// A segment read back for replay: its bytes, and the records in it to send now.
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

/// The oldest segment with records waiting to be replayed that is not pausing after a failure
/// and not in a replay already. The active segment is sealed first (new records go to the next
/// one), so its records can be replayed while new ones keep coming.
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
            let ready = seg.retry_after.is_none_or(|at| at <= now) && seg.replay == Replay::Idle;
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
    let mut segs = lock(&inner.segs);
    let held = segs
        .map
        .range(..id)
        .filter(|(_, s)| s.done < s.records && s.held != Held::Nothing)
        .map(|(_, s)| s.held.clone())
        .collect();
    // A sealed write-ahead segment waits for its records' reports.
    let seg = segs
        .map
        .get_mut(&id)
        .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)?;
    seg.replay = Replay::Sending;
    Some(Ticket {
        segment: id,
        end: seg.end,
        done: seg.done_bits.clone(),
        records: seg.records,
        held,
    })
}

/// Reads a segment and returns its records to send now: not done, and not of a key bucket an
/// older segment holds. Records the segment no longer holds (damaged after it was written) and
/// records that do not decode are set aside (their bytes kept in a `.damaged` file), counted
/// as lost and done.
pub(super) fn load(inner: &Inner, ticket: &Ticket) -> Result<Loaded, SpoolError> {
    let bytes =
        store::read_segment(&inner.dir, ticket.segment, Some(ticket.end)).map_err(|source| {
            SpoolError::Io {
                path: store::segment_path(&inner.dir, ticket.segment),
                source,
            }
        })?;
    let scan = codec::scan(&bytes);
    let mut lost = Vec::new();
    if scan.count < ticket.records {
        // Changed on disk after this process wrote and checked it.
        let offset = scan.end;
        let kept = store::keep_damaged(&inner.dir, ticket.segment, offset, &bytes[offset..]);
        lost.push((scan.count..ticket.records, offset, kept));
    }
    for (index, span) in &scan.bad {
        if !bit_set(&ticket.done, *index) {
            let record = &bytes[span.offset..span.offset + span.len];
            let kept = store::keep_damaged(&inner.dir, ticket.segment, span.offset, record);
            lost.push((*index..*index + 1, span.offset, kept));
        }
    }
    let mut buckets = Vec::new();
    let mut records = Vec::new();
    for (index, span) in scan.records {
        if bit_set(&ticket.done, index) {
            continue;
        }
        let Some(record) = codec::decode_record(&bytes[span.offset..span.offset + span.len]) else {
            continue;
        };
        let bucket = bucket(record.topic, record.key);
        buckets.push((index, bucket));
        if !ticket.held.iter().any(|held| held.holds(bucket)) {
            records.push((index, span));
        }
    }
    let mut missing = 0;
    let mut segs = lock(&inner.segs);
    if let Some(seg) = segs.map.get_mut(&ticket.segment) {
        for (indexes, _, kept) in &lost {
            for index in indexes.clone() {
                if seg.set_done(index) {
                    missing += 1;
                }
            }
            // Without a copy of the damaged bytes, the segment itself stays.
            seg.keep |= kept.is_err();
        }
        seg.buckets = buckets;
    }
    drop(segs);
    if missing > 0 {
        inner.pending.fetch_sub(missing, Ordering::AcqRel);
        inner.waiting.fetch_sub(missing, Ordering::AcqRel);
        inner.lost.fetch_add(missing, Ordering::Relaxed);
        for (indexes, offset, kept) in &lost {
            tracing::error!(
                segment = ticket.segment,
                offset,
                records = indexes.len(),
                kept_in = ?kept.as_ref().map(|p| p.display().to_string()),
                "kafka-events: spooled records were damaged after they were written; they are lost (the records around them are not)"
            );
        }
        inner.work.ring();
    }
    Ok(Loaded { bytes, records })
}

/// Counts a record of a loaded segment as handed to librdkafka.
pub(super) fn sending(inner: &Inner, position: Position) {
    inner.sending(position);
}

/// The records of a segment's replay are all with librdkafka.
pub(super) fn sent(inner: &Inner, segment: u64) {
    inner.sent(segment);
}
