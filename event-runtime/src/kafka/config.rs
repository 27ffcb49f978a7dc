//! [`KafkaConfig`]: what a [`KafkaProducer`](super::KafkaProducer) is built from.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::spool::SpoolConfig;

/// Configuration of a [`KafkaProducer`](super::KafkaProducer), deserializable from TOML, JSON or
/// environment loaders; unknown keys are errors.
///
/// Typed fields cover what every service sets; `properties` passes anything else to librdkafka
/// and overrides the defaults in [`KafkaConfig::DEFAULT_PROPERTIES`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port` each (the Go config's `Event.Brokers`).
    pub brokers: Vec<String>,
    /// The client id brokers log and quota by.
    pub client_id: String,
    /// Logical → physical topic names (the Go config's `Event.Topic.Audit` / `.Usage`). Empty:
    /// logical names are used as they are. Not empty: every logical topic must be listed, or
    /// sending fails with [`EmitError::UnmappedTopic`](crate::EmitError::UnmappedTopic).
    pub topics: BTreeMap<String, String>,
    /// The deadline for one record, retries included: `emit` fails with
    /// [`EmitError::Timeout`](crate::EmitError::Timeout) after it, and a detached record goes to
    /// the spool (librdkafka's `message.timeout.ms`, whose own default is 5 minutes).
    pub delivery_timeout_ms: u64,
    /// The most records librdkafka's in-memory queue holds (`queue.buffering.max.messages`).
    pub max_queued_messages: u32,
    /// The most bytes librdkafka's in-memory queue holds (`queue.buffering.max.kbytes`).
    pub max_queued_bytes: u64,
    /// What a detached send does when librdkafka's queue is full. Default: `spool` when a spool
    /// is configured, otherwise `drop_newest`.
    pub overflow: Option<OverflowPolicy>,
    /// The durable spool for records the broker has not acknowledged. Without one, a detached
    /// record that can't be delivered is logged and counted as dropped.
    pub spool: Option<SpoolConfig>,
    /// How keys choose partitions. The default matches the Go services (kafka-go's `Hash`,
    /// sarama's default), so a key lands on the same partition whichever of them sent it.
    pub partitioner: Partitioner,
    /// How long a topic may be missing before its records count as undeliverable and are
    /// quarantined rather than retried (default 10 minutes).
    pub missing_topic_timeout_ms: u64,
    /// Raw librdkafka properties (`linger.ms`, `security.protocol`, ...).
    pub properties: BTreeMap<String, String>,
}

/// What [`emit_detached`](crate::KafkaEvent::emit_detached) does when librdkafka's in-memory
/// queue is full. An awaited [`emit`](crate::KafkaEvent::emit) always waits for room, without
/// blocking, up to `delivery_timeout_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OverflowPolicy {
    /// Write the record to the spool (needs [`KafkaConfig::spool`]).
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

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Vec::new(),
            client_id: "kafka-events".into(),
            topics: BTreeMap::new(),
            delivery_timeout_ms: 5_000,
            max_queued_messages: 100_000,
            max_queued_bytes: 64 << 20,
            overflow: None,
            spool: None,
            partitioner: Partitioner::default(),
            missing_topic_timeout_ms: 600_000,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Production defaults, applied before `properties`: every in-sync replica acknowledges,
    /// retries cannot duplicate or reorder, and batches are compressed. (Partitioning is the
    /// typed [`partitioner`](Self::partitioner).)
    pub const DEFAULT_PROPERTIES: &'static [(&'static str, &'static str)] = &[
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("compression.type", "lz4"),
    ];

    /// librdkafka's default `message.max.bytes`.
    const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;

    /// A configuration with these brokers and the defaults.
    pub fn new<I, S>(brokers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KafkaConfig {
            brokers: brokers.into_iter().map(Into::into).collect(),
            ..KafkaConfig::default()
        }
    }

    /// Maps a logical topic to a physical one.
    pub fn topic(mut self, logical: impl Into<String>, physical: impl Into<String>) -> Self {
        self.topics.insert(logical.into(), physical.into());
        self
    }

    /// Sets a raw librdkafka property.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Sets the delivery timeout.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout_ms = timeout.as_millis().try_into().unwrap_or(u64::MAX);
        self
    }

    /// Sets the client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Keeps undeliverable records in a durable spool.
    pub fn spool(mut self, spool: SpoolConfig) -> Self {
        self.spool = Some(spool);
        self
    }

    /// Sets the overflow policy.
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = Some(policy);
        self
    }

    /// Sets how keys choose partitions.
    pub fn partitioner(mut self, partitioner: Partitioner) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// Bounds librdkafka's in-memory queue.
    pub fn max_queued(mut self, messages: u32, bytes: u64) -> Self {
        self.max_queued_messages = messages;
        self.max_queued_bytes = bytes;
        self
    }

    pub(crate) fn overflow_policy(&self) -> Result<OverflowPolicy, ConfigError> {
        match (self.overflow, &self.spool) {
            (Some(OverflowPolicy::Spool), None) => Err(ConfigError::SpoolRequired),
            (Some(policy), _) => Ok(policy),
            (None, Some(_)) => Ok(OverflowPolicy::Spool),
            (None, None) => Ok(OverflowPolicy::DropNewest),
        }
    }

    fn bootstrap_servers(&self) -> Result<String, ConfigError> {
        let mut addresses = Vec::new();
        for entry in &self.brokers {
            for address in entry.split(',').map(str::trim) {
                check_broker(address).map_err(|reason| ConfigError::InvalidBroker {
                    address: address.to_owned(),
                    reason,
                })?;
                addresses.push(address);
            }
        }
        if addresses.is_empty() {
            return Err(ConfigError::NoBrokers);
        }
        Ok(addresses.join(","))
    }

    pub(crate) fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        const RESERVED: &[(&str, &str)] = &[
            ("bootstrap.servers", "brokers"),
            ("metadata.broker.list", "brokers"),
            ("client.id", "client_id"),
            ("message.timeout.ms", "delivery_timeout_ms"),
            ("delivery.timeout.ms", "delivery_timeout_ms"),
            ("queue.buffering.max.messages", "max_queued_messages"),
            ("queue.buffering.max.kbytes", "max_queued_bytes"),
            ("partitioner", "partitioner"),
        ];
        for (name, field) in RESERVED {
            if self.properties.contains_key(*name) {
                return Err(ConfigError::ReservedProperty {
                    name: (*name).to_owned(),
                    field,
                });
            }
        }
        if self.delivery_timeout_ms == 0 {
            return Err(ConfigError::InvalidProperty {
                name: "delivery_timeout_ms".into(),
                value: "0".into(),
                reason: "a record needs some time to be delivered; use at least 1".into(),
            });
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers()?)
            .set("client.id", &self.client_id)
            .set("message.timeout.ms", self.delivery_timeout_ms.to_string())
            .set(
                "queue.buffering.max.messages",
                self.max_queued_messages.to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                self.max_queued_bytes.div_ceil(1024).max(1).to_string(),
            );
        config.set("partitioner", self.partitioner.librdkafka_name());
        for (name, value) in Self::DEFAULT_PROPERTIES {
            config.set(*name, *value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        Ok(config)
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        self.properties
            .get("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(Self::DEFAULT_MAX_MESSAGE_BYTES)
    }
}

pub(crate) fn check_broker(address: &str) -> Result<(), &'static str> {
    let without_scheme = address.split_once("://").map_or(address, |(_, rest)| rest);
    let Some((host, port)) = without_scheme.rsplit_once(':') else {
        return Err("expected `host:port`, e.g. `127.0.0.1:9092`");
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("the host is empty");
    }
    if host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("the host contains a space or `/`");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("the port must be a number from 1 to 65535"),
        Ok(_) => Ok(()),
    }
}
