//! The durable spool: an on-disk log of records the broker has not acknowledged, replayed when
//! a broker is reachable and on the next start.
//!
//! Layout: a directory of segment files (`00000000000000000001.seg`, …; format in [`codec`]),
//! an `.acks` file beside each segment that says which of its records are done, `quarantine/`
//! for records the broker refused for good, and a `spool.lock` that one producer holds.
//!
//! Who does what:
//! - an emitting thread appends: one copy into the mapped active segment (no system call), so
//!   a killed process leaves the record to the kernel;
//! - the spool's writer thread does every file operation: it allocates the next segment ahead
//!   of time, `fsync`s by the [`FsyncPolicy`] (group commit), records acknowledgements, deletes
//!   finished segments (backing off when it can't), writes the quarantine, and recreates the
//!   directory if it disappears;
//! - the producer's replay thread reads segments and sends their pending records, one record's
//!   outcome at a time: an acknowledged record is never sent again, a failed one is retried
//!   later, a poison one is quarantined.
//!
//! Opening the spool only lists its files; the replay thread checks each old segment (checksums,
//! torn tails, which records were acknowledged) before replaying it.

mod codec;
mod config;
mod map;
mod quarantine;
mod store;
mod writer;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use config::{Durability, FsyncPolicy, SpoolConfig};
pub use quarantine::QuarantinedRecord;

use self::codec::{FILE_HEADER, Span};
use self::map::{MapFlusher, MapWriter};
use self::quarantine::Quarantine;
use self::store::Prepared;
use crate::flow::{Backoff, Bell, lock};
use crate::message::{Message, MessageRef, Parts};

/// Why the spool could not be opened or could not take a record.
///
/// Opening one arrives as [`ConfigError::Spool`](crate::ConfigError::Spool) from
/// `KafkaProducer::new`; taking a record, as [`EmitError::Spool`](crate::EmitError::Spool).
///
/// ```
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{ConfigError, KafkaProducer, SpoolConfig, SpoolError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # let dir = tempfile::tempdir()?;
/// let config = kafka.producer_config().spool(SpoolConfig::new(dir.path()));
/// let _first = KafkaProducer::new(&config)?;
/// // One producer at a time on a spool directory.
/// let Err(ConfigError::Spool(error)) = KafkaProducer::new(&config) else {
///     panic!("a second producer opened the same spool");
/// };
/// assert!(matches!(&error, SpoolError::Locked(path) if path == dir.path()));
/// assert!(error.to_string().ends_with("is in use by another producer"));
/// # Ok(())
/// # }
/// ```
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
    /// The disk holding the spool is full: no new segment can be started. Records that need the
    /// spool are refused with this error until there is room again.
    #[error("the disk holding spool {} is full: free space there; records that need the spool are refused until then", .dir.display())]
    Full {
        /// The spool directory.
        dir: PathBuf,
    },
    /// The spool can't take records now (its directory is unwritable or was removed and could
    /// not be recreated, or the producer is closing).
    #[error("spool {} can't take records: {reason}", .dir.display())]
    Unavailable {
        /// The spool directory.
        dir: PathBuf,
        /// What is wrong, and what to fix.
        reason: String,
    },
}

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

/// Who appends: whether the caller's thread may do file I/O when it has to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A thread that emits (maybe an async runtime's): never waits for a disk.
    Emitter,
    /// A thread that emits off any async runtime, under the `block` overflow policy: it may
    /// wait, until then, for the writer thread to prepare the next segment (it does no file
    /// I/O itself).
    EmitterUntil(std::time::Instant),
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

/// Where a record is in the spool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub segment: u64,
    pub index: u32,
}

/// Counts of what the spool did on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpoolCounts {
    /// Records in the spool not yet done (delivered or quarantined).
    pub pending: u64,
    /// Records written to the quarantine.
    pub quarantined: u64,
    /// Records lost to damage found while running, or that could not be quarantined.
    pub lost: u64,
}

/// A segment read back for replay: its bytes, and the records in it not yet done.
pub(crate) struct Loaded {
    pub bytes: Vec<u8>,
    pub records: Vec<(u32, Span)>,
}

impl Loaded {
    /// The record at `span`, borrowed.
    pub fn record(&self, span: Span) -> Option<Parts<'_>> {
        codec::decode_record(self.bytes.get(span.offset..span.offset + span.len)?)
    }
}

/// A segment ready to be replayed.
pub(crate) struct Ticket {
    pub segment: u64,
    file: Arc<File>,
    end: usize,
    done: Vec<u64>,
    records: u32,
}

pub(crate) struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// `dir`, canonical: what [`OPEN`] lists.
    key: PathBuf,
    fsync: FsyncPolicy,
    durability: Durability,
    capacity: usize,
    active: Mutex<Active>,
    segs: Mutex<Segs>,
    /// Records not yet done.
    pending: AtomicU64,
    /// Records appended so far; `fsync` progress is measured against it.
    appended: AtomicU64,
    /// `appended` as of the last completed `fsync`.
    synced: AtomicU64,
    /// `appended` as of the last explicit request for an `fsync` (`close`).
    sync_wanted: AtomicU64,
    quarantined: AtomicU64,
    lost: AtomicU64,
    recovery: OnceLock<SpoolRecovery>,
    /// Rung when records change state: appended, done, released, segments sealed.
    bell: Bell,
    /// Wakes the writer thread.
    work: Bell,
    stop: AtomicBool,
    quarantine: Quarantine,
    jobs: Mutex<Vec<Job>>,
    /// Quarantine jobs not written yet, and the bytes their records hold in memory.
    jobs_queued: AtomicU64,
    jobs_bytes: AtomicU64,
    lock_file: Mutex<File>,
    /// Set once the directory is unlocked, as this is dropped.
    released: Arc<AtomicBool>,
}

struct Active {
    current: Option<Current>,
    /// Segments made ahead of time, up to [`SPARES`].
    spare: Vec<Prepared>,
    /// Why no spare segment can be made now.
    blocked: Option<Blocked>,
}

#[derive(Clone, Debug)]
enum Blocked {
    Full,
    Unavailable(String),
}

struct Current {
    id: u64,
    writer: MapWriter,
    offset: usize,
    records: u32,
    in_flight: Arc<AtomicU32>,
}

struct Segs {
    map: BTreeMap<u64, Seg>,
    next_id: u64,
    /// Mappings to flush: the active segment's, and sealed ones not yet flushed.
    mapped: Vec<(u64, MapFlusher)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SegState {
    /// Found at open; the replay thread checks it before anything else touches it.
    Unchecked,
    Active,
    Sealed,
}

struct Seg {
    file: Arc<File>,
    state: SegState,
    /// Records in the segment (for the active one, as of sealing).
    records: u32,
    /// Where its records end (for the active one, as of sealing).
    end: usize,
    done_bits: Vec<u64>,
    done: u32,
    in_flight: Arc<AtomicU32>,
    acks_dirty: bool,
    /// When to try deleting it again after a failure.
    delete_after: Option<Instant>,
    delete_backoff: Backoff,
    /// When to replay it again after some of its records failed.
    retry_after: Option<Instant>,
    replay_backoff: Backoff,
    /// Never deleted: damaged bytes in it could not be set aside.
    keep: bool,
}

impl Seg {
    fn new(file: File, state: SegState) -> Self {
        Seg {
            file: Arc::new(file),
            state,
            records: 0,
            end: FILE_HEADER,
            done_bits: Vec::new(),
            done: 0,
            in_flight: Arc::new(AtomicU32::new(0)),
            acks_dirty: false,
            delete_after: None,
            delete_backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            retry_after: None,
            replay_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            keep: false,
        }
    }

    fn is_done(&self, index: u32) -> bool {
        let (word, bit) = (index as usize / 64, index % 64);
        self.done_bits
            .get(word)
            .is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Marks a record done; false if it already was.
    fn set_done(&mut self, index: u32) -> bool {
        if self.is_done(index) {
            return false;
        }
        let (word, bit) = (index as usize / 64, index % 64);
        if self.done_bits.len() <= word {
            self.done_bits.resize(word + 1, 0);
        }
        self.done_bits[word] |= 1 << bit;
        self.done += 1;
        self.acks_dirty = true;
        true
    }

    fn finished(&self) -> bool {
        self.state == SegState::Sealed
            && self.done >= self.records
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.keep
    }
}

/// A record to write to the quarantine, and where it is in the spool (to mark it done after).
struct Job {
    message: Message,
    reason: String,
    position: Option<Position>,
    /// What it holds in memory (counted in `jobs_bytes` until it is written).
    bytes: u64,
}

/// How many segments the writer keeps ready, so that a burst of appends does not outrun it.
const SPARES: usize = 2;

/// The most bytes of records waiting in memory for the quarantine.
pub(crate) const MAX_QUARANTINE_QUEUE_BYTES: u64 = 64 << 20;

/// What a quarantine job holds in memory.
fn job_bytes(message: &Message) -> u64 {
    let headers: usize = message
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    (message.topic.len() + message.key.len() + message.payload.len() + headers) as u64
}

/// Spools of this process that were dropped, and whether their writer thread has let go of the
/// directory yet.
static OPEN: Mutex<Vec<(PathBuf, Arc<AtomicBool>)>> = Mutex::new(Vec::new());
static RELEASED: Condvar = Condvar::new();

impl Spool {
    /// Opens (creating if needed) and locks the spool directory, and starts its writer thread.
    /// Records left by an earlier run are checked later, by [`Spool::recover`].
    ///
    /// `max_record` is the largest record (as [`MessageRef`] bytes) the producer accepts: every
    /// segment has room for at least one.
    pub fn open(config: &SpoolConfig, max_record: usize) -> Result<Spool, SpoolError> {
        let dir = config.dir.clone();
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| SpoolError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let key = fs::canonicalize(&dir).map_err(io_err(&dir))?;
        wait_for_release(&key);
        let lock_file = take_lock(&dir)?;
        let ids = store::list_segments(&dir).map_err(io_err(&dir))?;
        let mut map = BTreeMap::new();
        for &id in &ids {
            let path = store::segment_path(&dir, id);
            let file = OpenOptions::new()
                .read(true)
                .open(&path)
                .map_err(io_err(&path))?;
            map.insert(id, Seg::new(file, SegState::Unchecked));
        }
        let capacity = (config.segment_bytes as usize)
            .max(FILE_HEADER + max_record + 64)
            .max(1 << 20)
            .min(u32::MAX as usize);
        let inner = Arc::new(Inner {
            fsync: config.fsync,
            durability: config.durability,
            capacity,
            active: Mutex::new(Active {
                current: None,
                spare: Vec::new(),
                blocked: None,
            }),
            segs: Mutex::new(Segs {
                map,
                next_id: ids.last().map_or(1, |last| last.saturating_add(1)),
                mapped: Vec::new(),
            }),
            pending: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            sync_wanted: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            recovery: OnceLock::new(),
            bell: Bell::default(),
            work: Bell::default(),
            stop: AtomicBool::new(false),
            quarantine: Quarantine::new(&dir),
            jobs: Mutex::new(Vec::new()),
            jobs_queued: AtomicU64::new(0),
            jobs_bytes: AtomicU64::new(0),
            lock_file: Mutex::new(lock_file),
            released: Arc::new(AtomicBool::new(false)),
            dir,
            key,
        });
        // The first segments are made here, so the first appends never find none.
        writer::prepare_spares(&inner);
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name("kafka-events-spool".into())
            .spawn(move || writer::run(thread_inner))
            .map_err(|source| SpoolError::Io {
                path: inner.dir.clone(),
                source,
            })?;
        Ok(Spool { inner })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// Whether the spool can hold `message` at all (a record larger than a segment can't be
    /// spooled).
    pub fn fits(&self, message: &MessageRef<'_>) -> bool {
        FILE_HEADER + codec::encoded_len(message) <= self.inner.capacity
    }

    /// Appends one record: a copy into the mapped active segment, no system call. With
    /// `in_flight`, the record is counted as handed to librdkafka (write-ahead), so replay leaves
    /// it alone until its outcome is known; call [`Spool::release`] if handing it over fails.
    ///
    /// When the segments the writer made ahead are used up, a caller that may block
    /// ([`Caller::MayBlock`]: librdkafka's thread, the producer's own threads) makes the next
    /// one itself; an emitter allowed to wait ([`Caller::EmitterUntil`]) waits for the writer
    /// to make it, until its deadline; any other emitting thread gets an error instead.
    pub fn append(
        &self,
        message: MessageRef<'_>,
        in_flight: bool,
        caller: Caller,
    ) -> Result<Position, SpoolError> {
        match (self.try_append(message, in_flight), caller) {
            (Err(Roll::NotReady), Caller::MayBlock) => {
                writer::prepare_spares(&self.inner);
                self.try_append(message, in_flight)
                    .map_err(|e| self.inner.roll_error(e))
            }
            (Err(Roll::NotReady), Caller::EmitterUntil(until)) => {
                // The writer rings the bell when it has prepared a segment, or can't.
                let inner = &*self.inner;
                inner.work.ring();
                loop {
                    let seen = inner.bell.rung();
                    match self.try_append(message, in_flight) {
                        Err(Roll::NotReady) if Instant::now() < until => inner
                            .bell
                            .wait(seen, until.saturating_duration_since(Instant::now())),
                        result => break result.map_err(|e| inner.roll_error(e)),
                    }
                }
            }
            (result, _) => result.map_err(|e| self.inner.roll_error(e)),
        }
    }

    fn try_append(&self, message: MessageRef<'_>, in_flight: bool) -> Result<Position, Roll> {
        let inner = &*self.inner;
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
            inner.roll(&mut active)?;
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
            // The first record since the last fsync: the writer starts counting from here.
            inner.work.ring();
        }
        if !in_flight {
            inner.bell.ring();
        }
        Ok(position)
    }

    /// The broker acknowledged a spooled record: it is done.
    pub fn delivered(&self, position: Position) {
        self.inner.done(position);
    }

    /// A spooled record handed to librdkafka came back undelivered: it stays pending, for replay.
    pub fn release(&self, position: Position) {
        let inner = &*self.inner;
        if let Some(seg) = lock(&inner.segs).map.get(&position.segment) {
            decrement(&seg.in_flight);
        }
        inner.bell.ring();
    }

    /// Moves a record the broker refused for good to the quarantine (on the writer thread); a
    /// spooled one (`position`) is done once it is there. Records held in memory for it are
    /// bounded ([`MAX_QUARANTINE_QUEUE_BYTES`]): past that, a record that is not in the spool is
    /// dropped, counted and logged.
    pub fn quarantine(&self, message: Message, reason: String, position: Option<Position>) {
        let inner = &*self.inner;
        let bytes = job_bytes(&message);
        if position.is_none()
            && inner.jobs_bytes.load(Ordering::Acquire) + bytes > MAX_QUARANTINE_QUEUE_BYTES
        {
            inner.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                reason,
                topic = %message.topic,
                "kafka-events: the broker refused a record for good and the quarantine is behind by \
                 more than {MAX_QUARANTINE_QUEUE_BYTES} bytes; the record is dropped"
            );
            return;
        }
        inner.jobs_queued.fetch_add(1, Ordering::AcqRel);
        inner.jobs_bytes.fetch_add(bytes, Ordering::AcqRel);
        lock(&inner.jobs).push(Job {
            message,
            reason,
            position,
            bytes,
        });
        inner.work.ring();
    }

    /// Records not yet done, and what the spool quarantined or lost.
    pub fn counts(&self) -> SpoolCounts {
        SpoolCounts {
            pending: self.inner.pending.load(Ordering::Acquire),
            quarantined: self.inner.quarantined.load(Ordering::Relaxed),
            lost: self.inner.lost.load(Ordering::Relaxed),
        }
    }

    /// Whether every record is done (and every segment of an earlier run was checked).
    pub fn is_empty(&self) -> bool {
        self.inner.recovery.get().is_some()
            && self.inner.pending.load(Ordering::Acquire) == 0
            && self.inner.jobs_queued.load(Ordering::Acquire) == 0
            && !self.has_unchecked()
    }

    /// Whether a segment of an earlier run could not be read yet.
    pub fn has_unchecked(&self) -> bool {
        lock(&self.inner.segs)
            .map
            .values()
            .any(|s| s.state == SegState::Unchecked)
    }

    /// What the check of an earlier run's records found, once [`Spool::recover`] ran.
    pub fn recovery(&self) -> Option<&SpoolRecovery> {
        self.inner.recovery.get()
    }

    /// The bell rung whenever records change state.
    pub fn bell(&self) -> &Bell {
        &self.inner.bell
    }

    /// Checks every segment an earlier run left: finds its records (cutting off a torn or corrupt
    /// tail into a `.damaged` file) and which of them were acknowledged. Runs on the replay
    /// thread before anything is replayed, and again later for a segment it could not read;
    /// returns what the first check found. Stops early when `stop` says so.
    pub fn recover(&self, stop: impl Fn() -> bool) -> &SpoolRecovery {
        let inner = &*self.inner;
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
        let recovery = inner.recovery.get_or_init(|| recovery);
        // Finished segments (all acknowledged, not yet deleted) can go now.
        inner.work.ring();
        inner.bell.ring();
        recovery
    }

    /// The oldest segment with records to replay that is not pausing after a failure and has
    /// none of its records with librdkafka now. The active segment is sealed first (new records
    /// go to the next one), so its records can be replayed while new ones keep coming. A segment
    /// whose records keep failing pauses (longer after each failure) and does not hold up the
    /// segments after it.
    pub fn next_to_replay(&self) -> Option<Ticket> {
        let inner = &*self.inner;
        inner.recovery.get()?;
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
                        // Write-ahead keeps its records with librdkafka; only those that came
                        // back undelivered are replayed.
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

    /// The replay of a segment's records has finished: if some are still pending (they failed),
    /// the segment pauses before its next replay, longer after each failure.
    pub fn replayed(&self, segment: u64) {
        let mut segs = lock(&self.inner.segs);
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
    pub fn load(&self, ticket: &Ticket) -> Result<Loaded, SpoolError> {
        let inner = &*self.inner;
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
    pub fn sending(&self, position: Position) {
        if let Some(seg) = lock(&self.inner.segs).map.get(&position.segment) {
            seg.in_flight.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether a replayed segment still has records with librdkafka.
    pub fn in_flight(&self, segment: u64) -> u32 {
        lock(&self.inner.segs)
            .map
            .get(&segment)
            .map_or(0, |s| s.in_flight.load(Ordering::Acquire))
    }

    /// Asks the writer for an `fsync` of everything appended so far and waits up to `timeout`
    /// for it. Blocks: for `close`'s own thread.
    /// Quarantine jobs queued before the call are written too, whatever the fsync policy.
    pub fn sync(&self, timeout: Duration) -> bool {
        let inner = &*self.inner;
        let target = match inner.fsync {
            FsyncPolicy::Never => 0,
            _ => inner.appended.load(Ordering::Acquire),
        };
        inner.sync_wanted.fetch_max(target, Ordering::AcqRel);
        inner.work.ring();
        inner.bell.wait_until(timeout, || {
            inner.synced.load(Ordering::Acquire) >= target
                && inner.jobs_queued.load(Ordering::Acquire) == 0
        })
    }

    /// Every record in the quarantine, oldest first. Does file I/O.
    pub fn quarantined(&self) -> io::Result<Vec<QuarantinedRecord>> {
        self.inner.quarantine.list()
    }

    /// Deletes a listed quarantined record.
    pub fn remove_quarantined(&self, record: &QuarantinedRecord) -> io::Result<()> {
        self.inner.quarantine.remove(record)
    }
}

impl Spool {
    /// Announces that this spool is going away, so that a producer opened on the same directory
    /// in this process waits for it to let go instead of finding it locked.
    pub fn going_away(&self) {
        let mut open = lock(&OPEN);
        if !open
            .iter()
            .any(|(_, r)| Arc::ptr_eq(r, &self.inner.released))
        {
            open.push((self.inner.key.clone(), self.inner.released.clone()));
        }
    }
}

impl Drop for Spool {
    /// The writer thread finishes (quarantine jobs, the last `fsync`, acknowledgements) and
    /// then releases the directory.
    fn drop(&mut self) {
        self.going_away();
        self.inner.stop.store(true, Ordering::Release);
        self.inner.work.ring();
    }
}

impl Inner {
    fn unavailable(&self, reason: &str) -> SpoolError {
        SpoolError::Unavailable {
            dir: self.dir.clone(),
            reason: reason.to_owned(),
        }
    }

    fn roll_error(&self, roll: Roll) -> SpoolError {
        match roll {
            Roll::Blocked(Blocked::Full) => SpoolError::Full {
                dir: self.dir.clone(),
            },
            Roll::Blocked(Blocked::Unavailable(reason)) => self.unavailable(&reason),
            Roll::NotReady => self.unavailable("the next segment is not ready yet; retry shortly"),
            Roll::Closed => self.unavailable("the producer is closed"),
            Roll::TooLarge(len) => self.unavailable(&format!(
                "a record of {len} bytes is larger than a segment ({} bytes)",
                self.capacity
            )),
        }
    }

    /// Seals the current segment and starts the spare one (which the writer prepared).
    fn roll(&self, active: &mut Active) -> Result<(), Roll> {
        if active.spare.is_empty() {
            return Err(match &active.blocked {
                Some(blocked) => Roll::Blocked(blocked.clone()),
                None => Roll::NotReady,
            });
        }
        let spare = active.spare.remove(0);
        if let Some(current) = active.current.take() {
            self.seal(current);
        }
        let in_flight = Arc::new(AtomicU32::new(0));
        {
            let mut segs = lock(&self.segs);
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
        self.work.ring();
        Ok(())
    }

    /// Closes a segment to appends; its mapping is flushed and unmapped by the writer.
    fn seal(&self, current: Current) {
        let mut segs = lock(&self.segs);
        if let Some(seg) = segs.map.get_mut(&current.id) {
            seg.state = SegState::Sealed;
            seg.records = current.records;
            seg.end = current.offset;
        }
        drop(segs);
        self.work.ring();
    }

    fn done(&self, position: Position) {
        let mut segs = lock(&self.segs);
        let Some(seg) = segs.map.get_mut(&position.segment) else {
            return;
        };
        decrement(&seg.in_flight);
        let newly = seg.set_done(position.index);
        let finished = seg.finished();
        drop(segs);
        if newly {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        if finished {
            self.work.ring();
        }
        self.bell.ring();
    }
}

/// Whether bit `index` of a bit set (64 to a word, as `.acks` files hold it) is set.
fn bit_set(bits: &[u64], index: u32) -> bool {
    bits.get(index as usize / 64)
        .is_some_and(|word| word & (1 << (index % 64)) != 0)
}

fn decrement(counter: &AtomicU32) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}

/// Waits while a spool on `dir` dropped earlier in this process is still finishing, so that a
/// new producer on the same directory can open it (bounded: after 30 s the lock is reported as
/// held). Only `KafkaProducer::new` waits here, and only right after dropping a producer.
fn wait_for_release(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open = lock(&OPEN);
    loop {
        open.retain(|(_, released)| !released.load(Ordering::Acquire));
        let busy = open.iter().any(|(path, _)| path == dir);
        let left = deadline.saturating_duration_since(Instant::now());
        if !busy || left.is_zero() {
            return;
        }
        open = RELEASED
            .wait_timeout(open, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let go of the directory first; then a producer waiting to open it may go.
        let _ = lock(&self.lock_file).unlock();
        self.released.store(true, Ordering::Release);
        let _guard = lock(&OPEN);
        RELEASED.notify_all();
    }
}

fn take_lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join("spool.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| SpoolError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(SpoolError::Locked(dir.to_owned())),
        Err(fs::TryLockError::Error(source)) => Err(SpoolError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests;
