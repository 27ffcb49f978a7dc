//! The check of an opened spool, before anything is replayed: for every segment an earlier run
//! left, how many records it holds (from its index when it has one, so a long backlog is not
//! read through at every start; for one made ahead and never written, from its first bytes and
//! the filesystem; otherwise from a scan that cuts a torn or corrupt tail off into
//! a `.damaged` file and sets bad records aside alone, and writes the index it lacked when it
//! found no damage) and which of them were acknowledged.
//! Records' checksums are checked again when they are read for replay.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use super::codec;
use super::config::FsyncPolicy;
use super::state::{Held, Inner, SegState};
use super::store;
use super::unreadable;
use crate::flow::lock;

/// What the check of an opened spool found: records left by an earlier run, and damage.
///
/// [`KafkaProducer::spool_recovery`](crate::KafkaProducer::spool_recovery) returns it.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer, Producer, SpoolConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 1)?;
/// # let dir = tempfile::tempdir()?;
/// let config = kafka.producer_config().spool(SpoolConfig::new(dir.path()));
/// # {
/// #     let earlier = KafkaProducer::new(&config)?;
/// #     kafka.all_down()?;
/// #     AuditEntry::new().emit_detached(&earlier)?;
/// #     assert_eq!(earlier.close(Duration::from_millis(100)).await?.spooled, 1);
/// #     kafka.all_up()?;
/// # }
/// // An earlier run was closed during an outage and left one record in the spool.
/// let producer = KafkaProducer::new(&config)?;
/// let recovery = producer.spool_recovery().await.expect("a spool is configured");
/// assert_eq!(recovery.records, 1);
/// assert_eq!((recovery.damaged_bytes, recovery.damaged.len()), (0, 0)); // nothing torn
/// assert!(producer.wait_delivered(Duration::from_secs(10)).await); // and it is replayed
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolRecovery {
    /// Segments holding records to replay.
    pub segments: usize,
    /// Records to replay (acknowledged ones left out).
    pub records: u64,
    /// Bytes set aside from a segment at a torn or corrupt record.
    pub damaged_bytes: u64,
    /// Files (`*.damaged`) holding those bytes, for inspection.
    pub damaged: Vec<PathBuf>,
}

/// Checks every segment an earlier run left. Runs on the watch thread before anything is
/// replayed, and again later for a segment it could not read. Stops early when `stop` says so.
pub(super) fn check(inner: &Inner, stop: impl Fn() -> bool) -> SpoolRecovery {
    let unchecked: Vec<u64> = lock(&inner.segs)
        .map
        .iter()
        .filter(|(_, s)| s.state == SegState::Unchecked)
        .map(|(id, _)| *id)
        .collect();
    let mut recovery = SpoolRecovery::default();
    for id in unchecked {
        if stop() {
            break;
        }
        let Some(mut found) = records_of(inner, id, &mut recovery) else {
            continue;
        };
        if !found.indexed && found.clean && found.records > 0 {
            // Read through once: the next start reads its index instead.
            let index = store::Index {
                records: found.records,
                end: found.end,
            };
            let sync = inner.fsync != FsyncPolicy::Never;
            // The segment's bytes on disk before an index that vouches for them.
            let durable = !sync
                || store::open_read(&store::segment_path(&inner.dir, id))
                    .and_then(|file| file.sync_data())
                    .is_ok();
            found.indexed = durable && store::write_index(&inner.dir, id, index, sync).is_ok();
        }
        let done_bits = store::read_acks(&inner.dir, id);
        let mut segs = lock(&inner.segs);
        let Some(seg) = segs.map.get_mut(&id) else {
            continue;
        };
        unreadable::read(seg, id);
        seg.held = Held::Nothing;
        seg.state = SegState::Sealed;
        seg.records = found.records;
        seg.end = found.end;
        seg.keep |= found.keep;
        seg.indexed = found.indexed;
        seg.set_all_done(done_bits);
        let mut lost = 0;
        for index in found.bad {
            if seg.set_done(index) {
                lost += 1;
            }
        }
        seg.acks_dirty = lost > 0;
        let left = u64::from(seg.records - seg.done);
        // Counted before the ledger is let go: whoever sees the segment checked sees its count.
        inner.lost.fetch_add(lost, Ordering::Relaxed);
        inner.pending.fetch_add(left, Ordering::AcqRel);
        inner.waiting.fetch_add(left, Ordering::AcqRel);
        drop(segs);
        if left > 0 {
            recovery.segments += 1;
            recovery.records += left;
        }
    }
    if recovery.records > 0 {
        tracing::info!(
            records = recovery.records,
            dir = %inner.dir.display(),
            "kafka-events: replaying records spooled by an earlier run"
        );
    }
    recovery
}

/// What a segment an earlier run left holds.
struct Found {
    records: u32,
    end: usize,
    /// Records set aside alone (by index).
    bad: Vec<u32>,
    /// Damaged bytes in it could not be set aside: the segment is kept.
    keep: bool,
    indexed: bool,
    /// Read through, with no damage found.
    clean: bool,
}

/// Its index, or else a scan of the segment; `None` when it can't be read now.
fn records_of(inner: &Inner, id: u64, recovery: &mut SpoolRecovery) -> Option<Found> {
    if let Some(index) = store::read_index(&inner.dir, id) {
        return Some(Found {
            records: index.records,
            end: index.end,
            bad: Vec::new(),
            keep: false,
            indexed: true,
            clean: true,
        });
    }
    let path = store::segment_path(&inner.dir, id);
    let _ = store::secure_file(&path);
    // A segment made ahead that an earlier run left as it was made: nothing to read through.
    let bytes = match store::never_written(&inner.dir, id) {
        Ok(true) => {
            return Some(Found {
                records: 0,
                end: codec::FILE_HEADER,
                bad: Vec::new(),
                keep: false,
                indexed: false,
                clean: true,
            });
        }
        Ok(false) => store::read_segment(&inner.dir, id, None),
        Err(error) => Err(error),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            // Kept and read again later (see `unreadable`).
            unreadable::failed(inner, id, &error);
            return None;
        }
    };
    let scan = codec::scan(&bytes);
    let mut keep = false;
    let mut damaged: Vec<(usize, &[u8])> = scan
        .bad
        .iter()
        .map(|(_, span)| (span.offset, &bytes[span.offset..span.offset + span.len]))
        .collect();
    if let Some(damage) = scan.damage {
        damaged.push((damage.offset, &bytes[damage.offset..]));
    }
    for (offset, part) in damaged {
        match store::keep_damaged(&inner.dir, id, offset, part) {
            Ok(path) => {
                tracing::warn!(
                    segment = id,
                    offset,
                    kept_in = %path.display(),
                    "spool: a segment is damaged; its good records are replayed, the damaged bytes were set aside"
                );
                recovery.damaged_bytes += part.len() as u64;
                recovery.damaged.push(path);
            }
            Err(error) => {
                // Without a copy of the damaged bytes, the segment itself stays.
                keep = true;
                tracing::error!(%error, segment = id,
                    "spool: could not set aside the damaged part of a segment; the segment is kept")
            }
        }
    }
    Some(Found {
        records: scan.count,
        end: scan.end,
        bad: scan.bad.iter().map(|(index, _)| *index).collect(),
        keep,
        indexed: false,
        clean: scan.bad.is_empty() && scan.damage.is_none(),
    })
}
