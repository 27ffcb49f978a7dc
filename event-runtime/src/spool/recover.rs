//! The check of an opened spool: every segment an earlier run left is scanned (checksums, a
//! torn or corrupt tail cut off into a `.damaged` file) and its acknowledged records are read
//! back, before anything is replayed.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::codec;
use super::state::{Inner, SegState, bit_set};
use super::store;
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

/// Checks every segment an earlier run left: finds its records (cutting off a torn or corrupt
/// tail into a `.damaged` file) and which of them were acknowledged. Runs on the watch thread
/// before anything is replayed, and again later for a segment it could not read. Stops early
/// when `stop` says so.
pub(super) fn check(inner: &Inner, stop: impl Fn() -> bool) -> SpoolRecovery {
    let unchecked: Vec<(u64, Arc<File>)> = lock(&inner.segs)
        .map
        .iter()
        .filter(|(_, s)| s.state == SegState::Unchecked)
        .map(|(id, s)| (*id, s.file.clone()))
        .collect();
    let mut recovery = SpoolRecovery::default();
    for (id, file) in unchecked {
        if stop() {
            break;
        }
        let bytes = match store::read(&file, None) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, segment = id, dir = %inner.dir.display(),
                    "spool: could not read a segment; it is kept and read again later");
                continue;
            }
        };
        let scan = codec::scan(&bytes);
        let mut keep = false;
        if let Some(damage) = scan.damage {
            match store::keep_damaged(&inner.dir, id, damage.offset, &bytes[damage.offset..]) {
                Ok(path) => {
                    tracing::warn!(
                        segment = id,
                        offset = damage.offset,
                        kind = ?damage.kind,
                        kept_in = %path.display(),
                        "spool: a segment is damaged; its records before the damage are replayed, the bytes from it on were set aside"
                    );
                    recovery.damaged_bytes += (bytes.len() - damage.offset) as u64;
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
        let done_bits = store::read_acks(&inner.dir, id);
        let mut segs = lock(&inner.segs);
        let Some(seg) = segs.map.get_mut(&id) else {
            continue;
        };
        seg.state = SegState::Sealed;
        seg.records = scan.records.len() as u32;
        seg.end = scan.end;
        seg.keep |= keep;
        for index in 0..seg.records {
            if bit_set(&done_bits, index) {
                seg.set_done(index);
            }
        }
        seg.acks_dirty = false;
        let left = u64::from(seg.records - seg.done);
        if left > 0 {
            recovery.segments += 1;
            recovery.records += left;
        }
        inner.pending.fetch_add(left, Ordering::AcqRel);
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
