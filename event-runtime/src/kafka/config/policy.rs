//! What a detached send does when the queue is full ([`OverflowPolicy`]), and how keys choose
//! partitions ([`Partitioner`]).

use serde::{Deserialize, Serialize};

/// What [`emit_detached`](crate::KafkaEvent::emit_detached) does when librdkafka's in-memory
/// queue is full. An awaited [`emit`](crate::KafkaEvent::emit) always waits for room, without
/// blocking, up to `delivery_timeout_ms`.
///
/// ```
/// use kafka_events::{ConfigError, KafkaConfig, KafkaProducer, OverflowPolicy};
///
/// let config =
///     KafkaConfig::new(["kafka-0:9092"]).overflow(OverflowPolicy::Block { timeout_ms: 50 });
/// let loaded: KafkaConfig = serde_json::from_str(r#"{
///     "brokers": ["kafka-0:9092"],
///     "overflow": { "block": { "timeout_ms": 50 } }
/// }"#)?;
/// assert_eq!(loaded, config);
///
/// // `spool` needs a spool to write to.
/// let no_spool = KafkaConfig::new(["kafka-0:9092"]).overflow(OverflowPolicy::Spool);
/// assert!(matches!(KafkaProducer::new(&no_spool), Err(ConfigError::SpoolRequired)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OverflowPolicy {
    /// Write the record to the spool (needs [`KafkaConfig::spool`](crate::KafkaConfig::spool)).
    Spool,
    /// Refuse the record with [`EmitError::QueueFull`](crate::EmitError::QueueFull) and count it
    /// as dropped.
    DropNewest,
    /// Wait for room up to `timeout_ms`, then refuse it like `drop_newest`; but only on a
    /// thread outside any async runtime. On an async runtime's thread waiting would stall every
    /// task of that thread, so there it refuses at once, like `drop_newest`.
    Block {
        /// How long to wait.
        timeout_ms: u64,
    },
}

/// Which partition a keyed record goes to. Records with the same key go to the same partition
/// as long as the partition count does not change; what differs is which producers agree.
///
/// ```
/// use kafka_events::{KafkaConfig, Partitioner};
///
/// assert_eq!(Partitioner::default(), Partitioner::KafkaGoHash);
/// assert_eq!(Partitioner::KafkaGoHash.librdkafka_name(), "fnv1a_random");
///
/// // Sharing a topic with Java producers instead:
/// let config = KafkaConfig::new(["kafka-0:9092"]).partitioner(Partitioner::JavaMurmur2);
/// let loaded: KafkaConfig =
///     serde_json::from_str(r#"{ "brokers": ["kafka-0:9092"], "partitioner": "java_murmur2" }"#)?;
/// assert_eq!(loaded, config);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// What the Go services use: kafka-go's `Hash` balancer (since kafka-go 0.3.1) and sarama's
    /// default hash partitioner. FNV-1a 32-bit of the key, as a signed number, modulo the
    /// partition count, absolute value (librdkafka's `fnv1a_random`).
    #[default]
    KafkaGoHash,
    /// What the Java client uses: murmur2 of the key, positive, modulo the partition count
    /// (librdkafka's `murmur2_random`).
    JavaMurmur2,
    /// librdkafka's own default, CRC32 of the key (`consistent_random`), which no other client
    /// uses.
    LibrdkafkaCrc32,
}

impl Partitioner {
    /// The librdkafka `partitioner` property value.
    pub fn librdkafka_name(self) -> &'static str {
        match self {
            Partitioner::KafkaGoHash => "fnv1a_random",
            Partitioner::JavaMurmur2 => "murmur2_random",
            Partitioner::LibrdkafkaCrc32 => "consistent_random",
        }
    }
}
