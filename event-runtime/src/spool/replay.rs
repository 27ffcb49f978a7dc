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

use super::codec::{self, FILE_HEADER, Span};
use super::state::{Held, Inner, Position, Replay, SegState, Segs, bit_set};
use super::store;
use super::unreadable;
use crate::error::SpoolError;
use crate::flow::lock;
use crate::message::MessageRef;

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
    /// For the active segment read in place: the index and offset of its first record not read
    /// yet (those before were read by earlier replays).
    from: Option<(u32, usize)>,
    end: usize,
    done: Vec<u64>,
    records: u32,
    /// What older segments still hold.
    held: Vec<Held>,
}

/// A segment read back for replay: its bytes, and the records in it to send now.
pub(crate) struct Loaded {
    bytes: Vec<u8>,
    pub records: Vec<(u32, Span)>,
}

impl Loaded {
    /// The record at `span`, borrowed, its headers collected in `headers` (cleared first: one
    /// buffer serves every record of the segment).
    pub fn record<'a, 'h>(
        &'a self,
        span: Span,
        headers: &'h mut Vec<(&'a str, &'a [u8])>,
    ) -> Option<MessageRef<'h>> {
        headers.clear();
        codec::decode_record_into(
            self.bytes.get(span.offset..span.offset + span.len)?,
            headers,
        )
    }

    /// Its bytes' buffer, for the next segment's [`load`].
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }
}

/// The oldest segment with records waiting to be replayed that is not pausing after a failure
/// and not in a replay already. The active segment's new records are read in place, while
/// appends go on: sealing it for each replay would start a segment for every few records when
/// the replay keeps up with a steady stream (records of one key go through the spool while it
/// holds any). It is sealed first when a record it read failed, waited behind an older segment
/// or was damaged (only a sealed segment's replay goes back over its records), or when
/// write-ahead records of it are with librdkafka.
pub(super) fn next(inner: &Inner) -> Option<Ticket> {
    let now = Instant::now();
    let mut active = lock(&inner.active);
    // Sealed at once, pausing or not, so that new records go to a segment of their own that
    // does not wait for it.
    let reseal = active
        .current
        .as_ref()
        .is_some_and(|c| lock(&inner.segs).map.get(&c.id).is_some_and(|s| s.reseal));
    if reseal {
        let current = active.current.take().expect("looked at above");
        inner.seal(current);
    }
    let current = active.current.as_ref().map(|c| {
        (
            c.id,
            c.records,
            c.offset,
            c.in_flight.load(Ordering::Acquire),
        )
    });
    let mut segs = lock(&inner.segs);
    // Whether an older segment holds some keys back, or every key.
    let (mut older_holds, mut older_holds_all) = (false, false);
    let id = *segs
        .map
        .iter()
        .find(|(id, seg)| {
            let ready = seg.retry_after.is_none_or(|at| at <= now)
                && seg.replay == Replay::Idle
                && !older_holds_all
                && !(seg.waits_behind && older_holds);
            if seg.done < seg.records && seg.held != Held::Nothing {
                older_holds = true;
                older_holds_all |= seg.held == Held::Everything;
            }
            // Whose keys are not known yet: a record failed and its replay has not ended (its
            // reports come after the purge that took back what followed it), or a segment of an
            // earlier run not checked yet.
            older_holds_all |= seg.failed || unreadable::unchecked_holds(seg, now);
            ready
                && match seg.state {
                    SegState::Unchecked => false,
                    SegState::Sealed => {
                        seg.done < seg.records && seg.in_flight.load(Ordering::Acquire) == 0
                    }
                    SegState::Active => current.is_some_and(|(cid, records, _, in_flight)| {
                        cid == **id && seg.done + in_flight < records
                    }),
                }
        })?
        .0;
    let holds = |segs: &Segs| -> Vec<Held> {
        segs.map
            .range(..id)
            .filter(|(_, s)| s.done < s.records && s.held != Held::Nothing)
            .map(|(_, s)| s.held.clone())
            .collect()
    };
    let held = holds(&segs);
    let seg = segs.map.get_mut(&id).expect("found above");
    let mut from = None;
    let mut end = (seg.end, seg.records);
    if let Some((_, records, offset, in_flight)) = current.filter(|c| c.0 == id) {
        // Records held back behind an older segment are read again once it holds nothing.
        if held.is_empty()
            && let Some(first) = seg.held_back.take()
        {
            seg.cursor = Some(first);
            seg.held_back_buckets.clear();
        }
        let cursor = seg.cursor.unwrap_or((0, FILE_HEADER));
        // Write-ahead records with librdkafka, or nothing new to read: only a sealed
        // segment's replay goes back over what was read.
        if in_flight > 0 || cursor.0 >= records {
            if in_flight == 0 && seg.held_back.is_some() {
                // Nothing to do until the older segment lets go.
                return None;
            }
            drop(segs);
            let current = active.current.take().expect("found above");
            inner.seal(current);
            segs = lock(&inner.segs);
            let seg = segs.map.get_mut(&id).expect("found above");
            end = (seg.end, seg.records);
        } else {
            from = Some(cursor);
            end = (offset, records);
        }
    }
    drop(active);
    let seg = segs.map.get_mut(&id).expect("found above");
    // A sealed write-ahead segment waits for its records' reports.
    if seg.in_flight.load(Ordering::Acquire) != 0 {
        return None;
    }
    seg.replay = Replay::Sending;
    if from.is_none() {
        seg.cursor = None;
        seg.reseal = false;
        seg.waits_behind = false;
        seg.held_back = None;
        seg.held_back_buckets.clear();
    }
    Some(Ticket {
        segment: id,
        from,
        end: end.0,
        done: seg.done_bits.clone(),
        records: end.1,
        held,
    })
}

/// Reads a segment and returns its records to send now: not done, and not of a key bucket an
/// older segment holds. Records the segment no longer holds (damaged after it was written) and
/// records that do not decode are set aside (their bytes kept in a `.damaged` file), counted
/// as lost and done. A segment that can't be read is noted as such (see [`unreadable`]): its
/// replay is over, with nothing handed over.
///
/// The segment is read into `buffer` (a buffer an earlier load returned, or a new one).
pub(super) fn load(inner: &Inner, ticket: &Ticket, buffer: Vec<u8>) -> Result<Loaded, SpoolError> {
    let (first, base) = ticket.from.unwrap_or((0, 0));
    let mut bytes = buffer;
    store::read_segment_into(
        &inner.dir,
        ticket.segment,
        base,
        Some(ticket.end),
        &mut bytes,
    )
    .map_err(|source| {
        unreadable::failed(inner, ticket.segment, &source);
        SpoolError::Io {
            path: store::segment_path(&inner.dir, ticket.segment),
            source,
        }
    })?;
    let scan = match ticket.from {
        Some(_) => codec::scan_part(&bytes, first),
        None => codec::scan(&bytes),
    };
    let scanned = first + scan.count;
    let mut lost = Vec::new();
    if scanned < ticket.records {
        // Changed on disk after this process wrote and checked it.
        let offset = scan.end;
        let kept = store::keep_damaged(&inner.dir, ticket.segment, base + offset, &bytes[offset..]);
        lost.push((scanned..ticket.records, base + offset, kept));
    }
    for (index, span) in &scan.bad {
        if !bit_set(&ticket.done, *index) {
            let record = &bytes[span.offset..span.offset + span.len];
            let kept = store::keep_damaged(&inner.dir, ticket.segment, base + span.offset, record);
            lost.push((*index..*index + 1, base + span.offset, kept));
        }
    }
    let mut buckets = Vec::new();
    let mut records = Vec::new();
    // In place: the first record held back, and the buckets held back.
    let mut held_back: Option<(u32, usize)> = None;
    let mut held_back_buckets = Vec::new();
    let mut skipped = 0;
    for (index, span) in scan.records {
        if bit_set(&ticket.done, index) {
            continue;
        }
        let Some((topic, key)) = codec::decode_key(&bytes[span.offset..span.offset + span.len])
        else {
            continue;
        };
        let bucket = bucket(topic, key);
        let held = ticket.held.iter().any(|held| held.holds(bucket));
        if held && ticket.from.is_some() {
            held_back.get_or_insert((index, base + span.offset));
            held_back_buckets.push(bucket);
            continue;
        }
        buckets.push((index, bucket));
        if held {
            skipped += 1;
        } else {
            records.push((index, span));
        }
    }
    let mut missing = 0;
    let mut segs = lock(&inner.segs);
    if let Some(seg) = segs.map.get_mut(&ticket.segment) {
        unreadable::read(seg, ticket.segment);
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
        seg.skipped = skipped;
        if ticket.from.is_some() {
            // The next replay in place starts after what this one read (records held back are
            // read again when the older segment lets go); damage is gone back over once the
            // segment is sealed.
            seg.cursor = Some((scanned, base + scan.end));
            if seg.held_back.is_none() {
                seg.held_back = held_back;
            }
            seg.held_back_buckets.extend(held_back_buckets);
            seg.reseal |= !lost.is_empty() || scan.damage.is_some();
        }
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
