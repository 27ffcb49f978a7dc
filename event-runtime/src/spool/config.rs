//! [`SpoolConfig`]: where and how the spool keeps records.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where and how the spool keeps records.
///
/// Segments are memory-mapped files, allocated whole when they start: put the spool on a
/// filesystem that allocates in place (ext4, xfs), where a full disk is an error when a segment
/// starts. On a copy-on-write filesystem (btrfs, ZFS) a full disk can instead stop the process
/// while it writes into a mapped segment.
///
/// ```
/// use kafka_events::{Durability, FsyncPolicy, KafkaConfig, SpoolConfig};
///
/// let spool = SpoolConfig::new("/var/lib/billing-api/kafka-spool")
///     .fsync(FsyncPolicy::Always)
///     .durability(Durability::WriteAhead);
/// assert_eq!(spool.segment_bytes, 8 << 20); // the default
///
/// // From a file, as part of a `KafkaConfig`; left-out fields take their defaults.
/// let loaded: KafkaConfig = serde_json::from_str(r#"{
///     "brokers": ["kafka-0:9092"],
///     "spool": {
///         "dir": "/var/lib/billing-api/kafka-spool",
///         "fsync": "always",
///         "durability": "write_ahead"
///     }
/// }"#)?;
/// assert_eq!(loaded.spool, Some(spool));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// The spool directory; created if missing. One producer at a time may use it.
    pub dir: PathBuf,
    /// When spooled records are forced to disk.
    pub fsync: FsyncPolicy,
    /// The size of a segment file (default 8 MiB). Each is allocated whole when it is started,
    /// so a full disk shows when a segment can't be started, never in the middle of one; a
    /// segment is at least large enough for the largest record the producer accepts.
    pub segment_bytes: u64,
    /// Which records go through the spool.
    pub durability: Durability,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("kafka-events-spool"),
            fsync: FsyncPolicy::default(),
            segment_bytes: 8 << 20,
            durability: Durability::default(),
        }
    }
}

impl SpoolConfig {
    /// A spool in `dir` with the default fsync policy, segment size and durability.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SpoolConfig {
            dir: dir.into(),
            ..SpoolConfig::default()
        }
    }

    /// Sets the fsync policy.
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.fsync = policy;
        self
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// When spooled records are forced to disk. A spooled record is in the operating system's page
/// cache as soon as it is accepted, so a killed process loses none under any policy; the policy
/// decides what a power loss or kernel crash can take. `fsync` always runs on the spool's own
/// writer thread (group commit: one `fsync` covers every record appended since the last), never
/// on a thread that emits.
///
/// ```
/// use kafka_events::{FsyncPolicy, SpoolConfig};
///
/// assert_eq!(FsyncPolicy::default(), FsyncPolicy::IntervalMs(100));
/// let spool: SpoolConfig =
///     serde_json::from_str(r#"{ "dir": "spool", "fsync": { "interval_ms": 20 } }"#)?;
/// assert_eq!(spool.fsync, FsyncPolicy::IntervalMs(20));
/// assert_eq!(serde_json::to_string(&FsyncPolicy::Never)?, r#""never""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// As soon as records are appended: a power loss can take only what was appended during the
    /// `fsync` in progress.
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

/// Which records the spool holds.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, Durability, KafkaEvent, KafkaProducer, SpoolConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 1)?;
/// # let dir = tempfile::tempdir()?;
/// let spool = SpoolConfig::new(dir.path()).durability(Durability::WriteAhead);
/// let producer = KafkaProducer::new(&kafka.producer_config().spool(spool))?;
///
/// AuditEntry::new().emit_detached(&producer)?;
/// assert_eq!(producer.stats().spooled, 1); // on disk before librdkafka has it
/// // It leaves the spool once the broker has acknowledged it.
/// assert!(producer.wait_delivered(Duration::from_secs(10)).await);
/// assert_eq!(producer.stats().spool_depth, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Records that can't go to the broker now (every broker down, the queue full, delivery
    /// failed, the producer closing) are spooled; the others live in librdkafka's memory until
    /// the broker acknowledges them, so a killed process loses those in flight.
    #[default]
    OnFailure,
    /// Every record of [`emit_detached`](crate::KafkaEvent::emit_detached) is written to the spool
    /// before librdkafka gets it and leaves the spool once the broker acknowledged it: a killed
    /// process loses no accepted record, at the cost of writing every record to disk.
    WriteAhead,
}
