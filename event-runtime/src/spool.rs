//! The durable spool: an append-only, checksummed on-disk queue for records the broker has not
//! acknowledged (it was unreachable, the in-memory queue was full, or the producer closed).
//!
//! Layout: a directory of segment files `00000000000000000001.seg`, … and a `spool.lock` that
//! one process holds. A segment is a run of records, each
//!
//! ```text
//! u32 body length (LE) | u32 CRC-32 of the body (LE) | body
//! body: u8 version (1) | u16 topic length | topic | u32 key length | key
//!       | u16 header count | (u16 name length | name | u32 value length | value)*
//!       | u32 payload length | payload
//! ```
//!
//! Every append is one `write` of a whole record, so a killed process leaves either the record
//! or nothing in the page cache; `fsync` follows the [`FsyncPolicy`]. On open, every segment is
//! checked: at a torn record (cut short, as a crash leaves it) or one whose checksum fails, the
//! segment is truncated and the cut bytes are kept in a `.damaged` file beside it. Both are
//! reported; neither panics, and no good record before the damage is dropped. A segment is deleted only after the broker
//! acknowledged every record in it.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::producer::{Header, Message, MessageRef};

/// Where and how the spool keeps records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// The spool directory; created if missing. One producer process at a time may use it.
    pub dir: PathBuf,
    /// When appended records are forced to disk.
    pub fsync: FsyncPolicy,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("kafka-events-spool"),
            fsync: FsyncPolicy::default(),
            segment_bytes: 8 << 20,
        }
    }
}

impl SpoolConfig {
    /// A spool in `dir` with the default fsync policy and segment size.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            ..SpoolConfig::default()
        }
    }
}

/// When spooled records are forced to disk with `fsync`. Every append reaches the operating
/// system at once, so a killed process loses nothing under any policy; the policy decides what a
/// power loss or kernel crash can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// After every record: nothing acknowledged to the caller is lost, at the cost of one
    /// `fsync` per spooled record.
    Always,
    /// At most this many milliseconds after a record was appended (the default, 100 ms).
    IntervalMs(u64),
    /// Leave it to the operating system.
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::IntervalMs(100)
    }
}

/// Why the spool could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Another producer holds the spool directory.
    #[error("spool directory {} is in use by another producer", .0.display())]
    Locked(PathBuf),
    /// A file operation failed.
    #[error("spool {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// What opening the spool found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolRecovery {
    /// Segments holding records to replay.
    pub segments: usize,
    /// Records to replay.
    pub records: u64,
    /// Bytes cut off a segment at a torn or corrupt record.
    pub truncated_bytes: u64,
    /// Files (`*.damaged`) holding those bytes, for inspection.
    pub quarantined: Vec<PathBuf>,
}

/// A closed segment waiting to be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub id: u64,
    pub records: u64,
    pub bytes: u64,
}

struct Active {
    id: u64,
    file: File,
    records: u64,
    bytes: u64,
}

struct State {
    active: Option<Active>,
    sealed: VecDeque<Segment>,
    next_id: u64,
    unsynced_since: Option<Instant>,
    /// Records in all segments, replayed or not.
    records: u64,
}

pub(crate) struct Spool {
    dir: PathBuf,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    state: Mutex<State>,
    changed: Condvar,
    _lock: File,
}

const HEADER: usize = 8;
const VERSION: u8 = 1;

impl Spool {
    pub fn open(config: &SpoolConfig) -> Result<(Spool, SpoolRecovery), SpoolError> {
        let dir = config.dir.clone();
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| SpoolError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join("spool.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(SpoolError::Locked(dir)),
            Err(fs::TryLockError::Error(source)) => {
                return Err(SpoolError::Io {
                    path: lock_path,
                    source,
                });
            }
        }

        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            ids.push(id);
        }
        ids.sort_unstable();

        let mut recovery = SpoolRecovery::default();
        let mut sealed = VecDeque::new();
        for &id in &ids {
            let path = segment_path(&dir, id);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let scan = scan(&bytes);
            if let Some(damage) = scan.damage {
                // Whatever the damage, the bytes are kept: a torn length looks like a torn tail.
                let cut = &bytes[damage.offset..];
                let quarantine = path.with_extension(format!("seg.{}.damaged", damage.offset));
                fs::write(&quarantine, cut).map_err(io_err(&quarantine))?;
                match damage.kind {
                    DamageKind::Torn => tracing::warn!(
                        segment = %path.display(),
                        offset = damage.offset,
                        bytes = cut.len(),
                        kept_in = %quarantine.display(),
                        "spool: truncated a torn record at the end of a segment"
                    ),
                    DamageKind::Corrupt => tracing::error!(
                        segment = %path.display(),
                        offset = damage.offset,
                        bytes = cut.len(),
                        kept_in = %quarantine.display(),
                        "spool: checksum mismatch; the bytes from here on were moved aside"
                    ),
                }
                recovery.truncated_bytes += cut.len() as u64;
                recovery.quarantined.push(quarantine);
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                file.set_len(damage.offset as u64).map_err(io_err(&path))?;
                file.sync_all().map_err(io_err(&path))?;
            }
            let records = scan.records.len() as u64;
            if records == 0 {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            recovery.segments += 1;
            recovery.records += records;
            sealed.push_back(Segment {
                id,
                records,
                bytes: scan.valid_len as u64,
            });
        }

        let spool = Spool {
            dir,
            fsync: config.fsync,
            segment_bytes: config.segment_bytes.max(4096),
            state: Mutex::new(State {
                active: None,
                sealed,
                next_id: ids.last().map_or(1, |last| last + 1),
                unsynced_since: None,
                records: recovery.records,
            }),
            changed: Condvar::new(),
            _lock: lock,
        };
        Ok((spool, recovery))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record, as one write.
    pub fn append(&self, message: MessageRef<'_>) -> Result<(), SpoolError> {
        let mut encoded = Vec::with_capacity(encoded_len(&message));
        encode(&message, &mut encoded);
        let mut state = self.state();
        if state
            .active
            .as_ref()
            .is_some_and(|a| a.bytes > 0 && a.bytes + encoded.len() as u64 > self.segment_bytes)
        {
            self.seal(&mut state)?;
        }
        if state.active.is_none() {
            let id = state.next_id;
            let path = segment_path(&self.dir, id);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(|source| SpoolError::Io {
                    path: path.clone(),
                    source,
                })?;
            state.next_id += 1;
            state.active = Some(Active {
                id,
                file,
                records: 0,
                bytes: 0,
            });
        }
        let active = state.active.as_mut().expect("opened above");
        let path = || segment_path(&self.dir, active.id);
        if let Err(source) = active.file.write_all(&encoded) {
            // A partial write would be a torn record in the middle of the segment; cut it off.
            let _ = active.file.set_len(active.bytes);
            return Err(SpoolError::Io {
                path: path(),
                source,
            });
        }
        active.records += 1;
        active.bytes += encoded.len() as u64;
        match self.fsync {
            FsyncPolicy::Always => active.file.sync_data().map_err(|source| SpoolError::Io {
                path: path(),
                source,
            })?,
            FsyncPolicy::IntervalMs(ms) => {
                let since = *state.unsynced_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(ms) {
                    self.sync_locked(&mut state);
                }
            }
            FsyncPolicy::Never => {}
        }
        state.records += 1;
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// Forces appended records to disk now.
    pub fn sync(&self) {
        let mut state = self.state();
        self.sync_locked(&mut state);
    }

    /// Forces appended records to disk if the interval policy's time has come.
    pub fn sync_if_due(&self) {
        let mut state = self.state();
        if let (FsyncPolicy::IntervalMs(ms), Some(since)) = (self.fsync, state.unsynced_since)
            && since.elapsed() >= Duration::from_millis(ms)
        {
            self.sync_locked(&mut state);
        }
    }

    fn sync_locked(&self, state: &mut State) {
        if let Some(active) = &state.active
            && let Err(error) = active.file.sync_data()
        {
            tracing::error!(%error, dir = %self.dir.display(), "spool: fsync failed");
            return;
        }
        state.unsynced_since = None;
    }

    fn seal(&self, state: &mut State) -> Result<(), SpoolError> {
        if let Some(active) = state.active.take() {
            active.file.sync_data().map_err(|source| SpoolError::Io {
                path: segment_path(&self.dir, active.id),
                source,
            })?;
            state.unsynced_since = None;
            if active.records > 0 {
                state.sealed.push_back(Segment {
                    id: active.id,
                    records: active.records,
                    bytes: active.bytes,
                });
            }
        }
        Ok(())
    }

    /// The oldest segment to replay; closes the active segment if it is the only one with records.
    pub fn oldest(&self) -> Option<Segment> {
        let mut state = self.state();
        if state.sealed.is_empty()
            && state.active.as_ref().is_some_and(|a| a.records > 0)
            && let Err(error) = self.seal(&mut state)
        {
            tracing::error!(%error, "spool: could not close the active segment");
            return None;
        }
        state.sealed.front().cloned()
    }

    /// The records of a closed segment, in the order they were appended.
    pub fn read(&self, segment: &Segment) -> Result<Vec<Message>, SpoolError> {
        let path = segment_path(&self.dir, segment.id);
        let bytes = fs::read(&path).map_err(|source| SpoolError::Io {
            path: path.clone(),
            source,
        })?;
        let scan = scan(&bytes);
        if let Some(damage) = scan.damage {
            // Checked when opened and written only by us since; report rather than guess.
            tracing::error!(
                segment = %path.display(),
                offset = damage.offset,
                "spool: a segment changed on disk after it was checked; replaying the records before the damage"
            );
        }
        Ok(scan.records)
    }

    /// Deletes a segment whose every record the broker acknowledged.
    pub fn remove(&self, segment: &Segment) -> Result<(), SpoolError> {
        let path = segment_path(&self.dir, segment.id);
        fs::remove_file(&path).map_err(|source| SpoolError::Io { path, source })?;
        let mut state = self.state();
        state.sealed.retain(|s| s.id != segment.id);
        state.records = state.records.saturating_sub(segment.records);
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// Records on disk, replayed or not.
    pub fn len(&self) -> u64 {
        self.state().records
    }

    /// Waits up to `timeout` for an append or a removal.
    pub fn wait_changed(&self, timeout: Duration) {
        let state = self.state();
        let _ = self.changed.wait_timeout(state, timeout);
    }

    /// Wakes whoever waits in [`Spool::wait_changed`].
    pub fn notify(&self) {
        self.changed.notify_all();
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn encoded_len(message: &MessageRef<'_>) -> usize {
    HEADER
        + 1
        + 2
        + message.topic.len()
        + 4
        + message.key.len()
        + 2
        + message
            .headers
            .iter()
            .map(|(name, value)| 2 + name.len() + 4 + value.len())
            .sum::<usize>()
        + 4
        + message.payload.len()
}

fn encode(message: &MessageRef<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(VERSION);
    // Topic names are at most 249 bytes and header names are short; longer ones are cut rather
    // than let a length wrap around.
    let topic = &message.topic.as_bytes()[..message.topic.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    out.extend_from_slice(topic);
    out.extend_from_slice(&(message.key.len() as u32).to_le_bytes());
    out.extend_from_slice(message.key);
    let headers = &message.headers[..message.headers.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(headers.len() as u16).to_le_bytes());
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(&(message.payload.len() as u32).to_le_bytes());
    out.extend_from_slice(message.payload);
    let body = &out[start + HEADER..];
    let len = body.len() as u32;
    let crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DamageKind {
    /// The last record is cut short.
    Torn,
    /// A complete record fails its checksum or does not decode.
    Corrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Damage {
    offset: usize,
    kind: DamageKind,
}

struct Scan {
    records: Vec<Message>,
    valid_len: usize,
    damage: Option<Damage>,
}

fn scan(bytes: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut offset = 0;
    let damage = loop {
        let rest = &bytes[offset..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER {
            break Some(DamageKind::Torn);
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if rest.len() - HEADER < len {
            break Some(DamageKind::Torn);
        }
        let body = &rest[HEADER..HEADER + len];
        if crc32fast::hash(body) != crc {
            break Some(DamageKind::Corrupt);
        }
        match decode(body) {
            Some(message) => records.push(message),
            None => break Some(DamageKind::Corrupt),
        }
        offset += HEADER + len;
    };
    Scan {
        records,
        valid_len: offset,
        damage: damage.map(|kind| Damage { offset, kind }),
    }
}

fn decode(body: &[u8]) -> Option<Message> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Some(head)
        }
        fn u16(&mut self) -> Option<usize> {
            Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize)
        }
        fn u32(&mut self) -> Option<usize> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
        }
        fn string(&mut self, len: usize) -> Option<String> {
            String::from_utf8(self.take(len)?.to_vec()).ok()
        }
    }
    let mut r = Reader(body);
    if r.take(1)? != [VERSION] {
        return None;
    }
    let topic_len = r.u16()?;
    let topic = r.string(topic_len)?;
    let key_len = r.u32()?;
    let key = r.take(key_len)?.to_vec();
    let header_count = r.u16()?;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let name_len = r.u16()?;
        let name = r.string(name_len)?;
        let value_len = r.u32()?;
        headers.push(Header::new(name, r.take(value_len)?.to_vec()));
    }
    let payload_len = r.u32()?;
    let payload = r.take(payload_len)?.to_vec();
    if !r.0.is_empty() {
        return None;
    }
    Some(Message {
        topic: topic.into(),
        key,
        payload,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(topic: &str, key: &[u8], payload: &[u8], headers: &[(&str, &[u8])]) -> Message {
        Message {
            topic: topic.to_owned().into(),
            key: key.to_vec(),
            payload: payload.to_vec(),
            headers: headers
                .iter()
                .map(|(n, v)| Header::new(n.to_string(), v.to_vec()))
                .collect(),
        }
    }

    fn append(spool: &Spool, m: &Message) {
        m.with_ref(|m| spool.append(m)).unwrap();
    }

    fn replay_all(spool: &Spool) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(segment) = spool.oldest() {
            out.extend(spool.read(&segment).unwrap());
            spool.remove(&segment).unwrap();
        }
        out
    }

    fn config(dir: &Path) -> SpoolConfig {
        SpoolConfig {
            dir: dir.to_owned(),
            fsync: FsyncPolicy::Never,
            segment_bytes: 4096,
        }
    }

    #[test]
    fn round_trip_in_order_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let messages: Vec<Message> = (0..200)
            .map(|i| {
                message(
                    "audit",
                    format!("k{i}").as_bytes(),
                    &vec![b'x'; i * 7],
                    &[
                        ("content-type", b"application/json"),
                        ("event-type", b"audit.log"),
                    ],
                )
            })
            .collect();
        {
            let (spool, recovery) = Spool::open(&config(dir.path())).unwrap();
            assert_eq!(recovery, SpoolRecovery::default());
            for m in &messages {
                append(&spool, m);
            }
            assert_eq!(spool.len(), 200);
        }
        let (spool, recovery) = Spool::open(&config(dir.path())).unwrap();
        assert_eq!(recovery.records, 200);
        assert!(recovery.segments > 1, "4 KiB segments roll over");
        assert_eq!(replay_all(&spool), messages);
        assert_eq!(spool.len(), 0);
        drop(spool);
        let (_, recovery) = Spool::open(&config(dir.path())).unwrap();
        assert_eq!(recovery.records, 0);
    }

    #[test]
    fn one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (_held, _) = Spool::open(&config(dir.path())).unwrap();
        assert!(matches!(
            Spool::open(&config(dir.path())),
            Err(SpoolError::Locked(_))
        ));
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        (
            "[a-z.]{1,20}",
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(
                (
                    "[a-z-]{1,12}",
                    proptest::collection::vec(any::<u8>(), 0..20),
                ),
                0..3,
            ),
        )
            .prop_map(|(topic, key, payload, headers)| Message {
                topic: topic.into(),
                key,
                payload,
                headers: headers
                    .into_iter()
                    .map(|(n, v)| Header::new(n, v))
                    .collect(),
            })
    }

    fn write_all(dir: &Path, messages: &[Message]) -> Vec<u64> {
        let (spool, _) = Spool::open(&SpoolConfig {
            segment_bytes: u64::MAX,
            ..config(dir)
        })
        .unwrap();
        let mut ends = Vec::new();
        for m in messages {
            append(&spool, m);
            ends.push(fs::metadata(segment_path(dir, 1)).unwrap().len());
        }
        ends
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A crash at any byte keeps exactly the records written completely before it.
        #[test]
        fn crash_at_any_point_keeps_the_complete_prefix(
            messages in proptest::collection::vec(arb_message(), 1..30),
            cut in any::<prop::sample::Index>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let ends = write_all(dir.path(), &messages);
            let total = *ends.last().unwrap();
            let cut_at = cut.index(total as usize + 1) as u64;
            let file = OpenOptions::new().write(true).open(segment_path(dir.path(), 1)).unwrap();
            file.set_len(cut_at).unwrap();
            drop(file);

            let (spool, recovery) = Spool::open(&config(dir.path())).unwrap();
            let complete = ends.iter().filter(|&&end| end <= cut_at).count();
            let boundary = complete == 0 && cut_at == 0 || ends.contains(&cut_at);
            prop_assert_eq!(recovery.records, complete as u64);
            prop_assert_eq!(recovery.truncated_bytes == 0, boundary);
            prop_assert_eq!(recovery.quarantined.is_empty(), boundary);
            prop_assert_eq!(replay_all(&spool), messages[..complete].to_vec());
        }

        /// A flipped byte anywhere: every record before it survives, the rest is set aside, and
        /// nothing after the damage is replayed as if it were good.
        #[test]
        fn corruption_keeps_every_good_record_before_it(
            messages in proptest::collection::vec(arb_message(), 1..30),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let ends = write_all(dir.path(), &messages);
            let path = segment_path(dir.path(), 1);
            let mut bytes = fs::read(&path).unwrap();
            let at = at.index(bytes.len());
            bytes[at] ^= flip;
            fs::write(&path, &bytes).unwrap();

            let (spool, recovery) = Spool::open(&config(dir.path())).unwrap();
            let intact = ends.iter().filter(|&&end| end as usize <= at).count();
            let replayed = replay_all(&spool);
            prop_assert_eq!(&replayed[..], &messages[..intact]);
            prop_assert_eq!(recovery.records as usize, intact);
            // Everything from the damaged record on is kept aside, byte for byte.
            let start = if intact == 0 { 0 } else { ends[intact - 1] as usize };
            prop_assert_eq!(recovery.quarantined.len(), 1);
            prop_assert_eq!(fs::read(&recovery.quarantined[0]).unwrap(), bytes[start..].to_vec());
        }
    }
}
