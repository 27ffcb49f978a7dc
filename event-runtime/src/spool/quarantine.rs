//! The quarantine: records the broker rejected for good (too large, invalid, not authorised,
//! topic gone), one file each in `<spool>/quarantine/`, kept with the reason until the
//! application lists and drains them.
//!
//! ```text
//! file: "KEVQUAR1" | u64 quarantined at, ns since the Unix epoch (LE) | u16 reason length | reason
//!       | the record as a segment holds it (length, CRC, body)
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::codec;
use super::store;
use crate::message::{Message, MessageRef};

const MAGIC: &[u8; 8] = b"KEVQUAR1";

/// A record in the quarantine: what was sent, why the broker refused it, and when.
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
/// # let big = AuditEntry {
/// #     payload: Some(serde_json::json!({ "blob": "x".repeat(700_000) }).into()),
/// #     ..AuditEntry::new()
/// # };
/// # {
/// #     let spool = SpoolConfig::new(dir.path());
/// #     let earlier = KafkaProducer::new(&kafka.producer_config().spool(spool))?;
/// #     kafka.all_down()?;
/// #     big.emit_detached(&earlier)?;
/// #     earlier.close(Duration::from_millis(100)).await?;
/// #     kafka.all_up()?;
/// # }
/// // An earlier run spooled a 700 kB record; this one accepts at most 500 kB.
/// let config = kafka
///     .producer_config()
///     .spool(SpoolConfig::new(dir.path()))
///     .property("message.max.bytes", "500000");
/// let producer = KafkaProducer::new(&config)?;
/// // Replayed, and refused for good: the others go on, this one waits in the quarantine.
/// assert!(producer.wait_delivered(Duration::from_secs(10)).await);
///
/// let quarantined = producer.drain_quarantine().await?;
/// assert_eq!(quarantined.len(), 1);
/// assert_eq!(quarantined[0].message.key, big.id.to_string().as_bytes());
/// assert!(quarantined[0].reason.contains("size"), "{}", quarantined[0].reason);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuarantinedRecord {
    /// The record as it was sent (physical topic, key, payload, headers).
    pub message: Message,
    /// Why it can never be delivered, as the broker or client said it.
    pub reason: String,
    /// When it was quarantined.
    pub quarantined_at: SystemTime,
    /// The file holding it.
    pub file: PathBuf,
}

pub(super) struct Quarantine {
    dir: PathBuf,
    seq: AtomicU64,
}

impl Quarantine {
    pub fn new(spool_dir: &Path) -> Self {
        Quarantine {
            dir: spool_dir.join("quarantine"),
            seq: AtomicU64::new(0),
        }
    }

    /// Writes one record with its reason; `sync` forces it to disk.
    pub fn put(&self, message: &MessageRef<'_>, reason: &str, sync: bool) -> io::Result<PathBuf> {
        store::secure_dir(&self.dir)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{:020}-{:06}.rec",
            now.as_nanos(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let reason = &reason.as_bytes()[..reason.len().min(u16::MAX as usize)];
        let mut bytes = Vec::with_capacity(8 + 8 + 2 + reason.len() + codec::encoded_len(message));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(now.as_nanos() as u64).to_le_bytes());
        bytes.extend_from_slice(&(reason.len() as u16).to_le_bytes());
        bytes.extend_from_slice(reason);
        let start = bytes.len();
        bytes.resize(start + codec::encoded_len(message), 0);
        codec::encode_into(message, &mut bytes[start..]);
        // Written aside and renamed, so a listing never sees half a file.
        let path = self.dir.join(&name);
        store::replace(&path, &bytes, sync)?;
        if sync {
            store::sync_dir(&self.dir)?;
        }
        Ok(path)
    }

    /// Every quarantined record, oldest first; files that can't be read are skipped and logged.
    pub fn list(&self) -> io::Result<Vec<QuarantinedRecord>> {
        let mut names: Vec<PathBuf> = match fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rec"))
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        names.sort();
        let mut records = Vec::with_capacity(names.len());
        for path in names {
            match store::open_read(&path)
                .and_then(|file| store::read(&file, None))
                .map(|bytes| parse(&bytes))
            {
                Ok(Some((message, reason, at))) => records.push(QuarantinedRecord {
                    message,
                    reason,
                    quarantined_at: at,
                    file: path,
                }),
                Ok(None) => tracing::error!(
                    file = %path.display(),
                    "kafka-events: a quarantine file is not readable; left in place"
                ),
                Err(error) => tracing::error!(
                    %error,
                    file = %path.display(),
                    "kafka-events: could not read a quarantine file"
                ),
            }
        }
        Ok(records)
    }

    /// Deletes the file of a listed record.
    pub fn remove(&self, record: &QuarantinedRecord) -> io::Result<()> {
        fs::remove_file(&record.file)
    }
}

fn parse(bytes: &[u8]) -> Option<(Message, String, SystemTime)> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let nanos = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let reason_len = u16::from_le_bytes(rest.get(8..10)?.try_into().ok()?) as usize;
    let reason = std::str::from_utf8(rest.get(10..10 + reason_len)?).ok()?;
    let record = rest.get(10 + reason_len..)?;
    let len = u32::from_le_bytes(record.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(record.get(4..8)?.try_into().ok()?);
    let body = record.get(8..8 + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut headers = Vec::new();
    let message = codec::decode_record_into(record, &mut headers)?.into();
    Some((
        message,
        reason.to_owned(),
        UNIX_EPOCH + Duration::from_nanos(nanos),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let quarantine = Quarantine::new(dir.path());
        assert!(quarantine.list().unwrap().is_empty());
        let first = Message::new("audit", b"k1".to_vec(), vec![b'x'; 10]);
        let second = Message::new("gone", b"k2".to_vec(), b"{}".to_vec());
        first
            .with_ref(|m| quarantine.put(&m, "too large", true))
            .unwrap();
        second
            .with_ref(|m| quarantine.put(&m, "topic gone", false))
            .unwrap();
        let listed = quarantine.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            (&listed[0].message, listed[0].reason.as_str()),
            (&first, "too large")
        );
        assert_eq!(
            (&listed[1].message, listed[1].reason.as_str()),
            (&second, "topic gone")
        );
        quarantine.remove(&listed[0]).unwrap();
        assert_eq!(quarantine.list().unwrap().len(), 1);
    }
}
