//! The fields of [`KafkaConfig`], their defaults, and the builders that set them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{OverflowPolicy, Partitioner};
use crate::envelope::{EnvelopeConfig, WireFormat};
use crate::kafka::security::{SaslConfig, SaslMechanism, SecurityConfig, TlsConfig};
use crate::secret::{REDACTED, Secret, is_secret_property};
use crate::spool::SpoolConfig;

/// Configuration of a [`KafkaProducer`](crate::KafkaProducer), deserializable from TOML, JSON or
/// environment loaders; unknown keys are errors.
///
/// Typed fields cover what every service sets; `properties` passes anything else to librdkafka
/// and overrides the defaults in [`KafkaConfig::DEFAULT_PROPERTIES`].
///
/// ```
/// use std::time::Duration;
/// use kafka_events::{KafkaConfig, SpoolConfig};
///
/// // In code:
/// let config = KafkaConfig::new(["kafka-0.internal:9092", "kafka-1.internal:9092"])
///     .client_id("billing-api")
///     .topic("audit", "ds.core.config.compliance.1.0.0")
///     .delivery_timeout(Duration::from_secs(10))
///     .spool(SpoolConfig::new("/var/lib/billing-api/kafka-spool"))
///     .property("linger.ms", "10"); // any librdkafka property
///
/// // Or from a file (TOML, JSON, ... through serde):
/// let loaded: KafkaConfig = serde_json::from_str(r#"{
///     "brokers": ["kafka-0.internal:9092", "kafka-1.internal:9092"],
///     "client_id": "billing-api",
///     "topics": { "audit": "ds.core.config.compliance.1.0.0" },
///     "delivery_timeout_ms": 10000,
///     "spool": { "dir": "/var/lib/billing-api/kafka-spool" },
///     "properties": { "linger.ms": "10" }
/// }"#)?;
/// assert_eq!(loaded, config);
///
/// // Or from the environment: KafkaConfig::from_env().
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Secrets never show: `Debug` and `Serialize` write `***` for the passwords and keys of
/// [`security`](Self::security) and for every property that holds one (passwords, secrets,
/// PEM text, the OAUTHBEARER settings and JAAS configuration).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// How long librdkafka may hold an awaited `emit`'s record to batch it with others
    /// (`linger.ms` of the producer awaited emits go through; default 0: sent at once). Awaited
    /// and detached records go through two librdkafka producers when this differs from the
    /// `linger.ms` detached records batch with (librdkafka's default 5 ms, or what
    /// `properties` says), so a caller waiting for the acknowledgement does not wait for a
    /// batch to fill, and detached records still batch. Records of one key sent both ways may then reach their partition
    /// out of order.
    pub awaited_linger_ms: u32,
    /// The deadline for one record, retries included: `emit` fails with
    /// [`EmitError::Timeout`](crate::EmitError::Timeout) after it, and a detached record goes to
    /// the spool (librdkafka's `message.timeout.ms`, whose own default is 5 minutes).
    pub delivery_timeout_ms: u64,
    /// The most records librdkafka's in-memory queue holds (`queue.buffering.max.messages`).
    /// With a producer of their own for awaited emits (see
    /// [`awaited_linger_ms`](Self::awaited_linger_ms)), each of the two has this bound.
    pub max_queued_messages: u32,
    /// The most bytes librdkafka's in-memory queue holds (`queue.buffering.max.kbytes`), per
    /// producer as above.
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
    /// TLS and SASL (see [`SecurityConfig`]).
    pub security: SecurityConfig,
    /// When set, every record also carries CloudEvents binary-mode headers (`ce_specversion`,
    /// `ce_id`, `ce_source` = this, `ce_type`, `ce_time`), per the CloudEvents Kafka protocol
    /// binding; the payload is unchanged. A URI-reference naming the service, e.g.
    /// `/billing-api`.
    pub cloudevents: Option<String>,
    /// How events are written: the flat documents of the seed's Go middleware (the default),
    /// or the `EventJson` envelope today's Go services (middleware v3.x) require, which needs
    /// [`envelope`](Self::envelope). See README "Wire formats".
    pub wire_format: WireFormat,
    /// The wire format of single logical topics, over [`wire_format`](Self::wire_format): to
    /// move one topic at a time.
    pub wire_formats: BTreeMap<String, WireFormat>,
    /// The envelope's `event_source` and `created_by`, needed when any topic is written in the
    /// envelope.
    pub envelope: Option<EnvelopeConfig>,
    /// Raw librdkafka properties (`linger.ms`, `socket.keepalive.enable`, ...).
    #[serde(serialize_with = "redacted_properties")]
    pub properties: BTreeMap<String, String>,
}

/// The properties with the values of secret ones written as `***`.
fn redacted(properties: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    properties
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret_property(name) {
                REDACTED
            } else {
                value.as_str()
            };
            (name.as_str(), shown)
        })
        .collect()
}

fn redacted_properties<S: serde::Serializer>(
    properties: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    redacted(properties).serialize(serializer)
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("client_id", &self.client_id)
            .field("topics", &self.topics)
            .field("awaited_linger_ms", &self.awaited_linger_ms)
            .field("delivery_timeout_ms", &self.delivery_timeout_ms)
            .field("max_queued_messages", &self.max_queued_messages)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("overflow", &self.overflow)
            .field("spool", &self.spool)
            .field("partitioner", &self.partitioner)
            .field("missing_topic_timeout_ms", &self.missing_topic_timeout_ms)
            .field("security", &self.security)
            .field("cloudevents", &self.cloudevents)
            .field("wire_format", &self.wire_format)
            .field("wire_formats", &self.wire_formats)
            .field("envelope", &self.envelope)
            .field("properties", &redacted(&self.properties))
            .finish()
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Vec::new(),
            client_id: "kafka-events".into(),
            topics: BTreeMap::new(),
            awaited_linger_ms: 0,
            delivery_timeout_ms: 5_000,
            max_queued_messages: 100_000,
            max_queued_bytes: 64 << 20,
            overflow: None,
            spool: None,
            partitioner: Partitioner::default(),
            missing_topic_timeout_ms: 600_000,
            security: SecurityConfig::default(),
            cloudevents: None,
            wire_format: WireFormat::Flat,
            wire_formats: BTreeMap::new(),
            envelope: None,
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
    pub(super) const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;

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

    /// Adds CloudEvents binary-mode headers to every record, with this `source` (see
    /// [`cloudevents`](Self::cloudevents)).
    ///
    /// ```
    /// use kafka_events::KafkaConfig;
    ///
    /// let config = KafkaConfig::new(["kafka:9092"]).cloudevents("/billing-api");
    /// assert_eq!(config.cloudevents.as_deref(), Some("/billing-api"));
    /// ```
    pub fn cloudevents(mut self, source: impl Into<String>) -> Self {
        self.cloudevents = Some(source.into());
        self
    }

    /// Writes events in the `EventJson` envelope with these settings, on every topic (or on
    /// the topics [`topic_wire_format`](Self::topic_wire_format) says).
    ///
    /// ```
    /// use kafka_events::KafkaConfig;
    /// use kafka_events::envelope::{EnvelopeConfig, WireFormat};
    ///
    /// let config = KafkaConfig::new(["kafka:9092"])
    ///     .envelope(EnvelopeConfig::new("identity.auth.gateway.v1", "gateway"))
    ///     .topic_wire_format("usage", WireFormat::Flat); // not moved yet
    /// assert_eq!(config.wire_format, WireFormat::Envelope);
    ///
    /// // The same from TOML or JSON:
    /// let loaded: KafkaConfig = serde_json::from_str(r#"{
    ///     "brokers": ["kafka:9092"],
    ///     "wire_format": "envelope",
    ///     "wire_formats": { "usage": "flat" },
    ///     "envelope": { "event_source": "identity.auth.gateway.v1", "created_by": "gateway" }
    /// }"#)?;
    /// assert_eq!(loaded, config);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn envelope(mut self, envelope: EnvelopeConfig) -> Self {
        self.envelope = Some(envelope);
        self.wire_format = WireFormat::Envelope;
        self
    }

    /// Sets the wire format of one logical topic.
    pub fn topic_wire_format(mut self, topic: impl Into<String>, format: WireFormat) -> Self {
        self.wire_formats.insert(topic.into(), format);
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

    /// Authenticates with SASL (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; for `OAUTHBEARER` see
    /// [`KafkaProducer::with_token_provider`](crate::KafkaProducer::with_token_provider)).
    pub fn sasl(
        mut self,
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.security.sasl = Some(SaslConfig {
            mechanism,
            username: username.into(),
            password: password.into(),
        });
        self
    }

    /// Connects over TLS.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.security.tls = Some(tls);
        self
    }

    /// Sets every security setting at once.
    pub fn security(mut self, security: SecurityConfig) -> Self {
        self.security = security;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_deserializes_with_defaults_and_rejects_typos() {
        let config: KafkaConfig = serde_json::from_str(
            r#"{"brokers": ["h:1"], "overflow": {"block": {"timeout_ms": 50}}, "spool": {"dir": "/tmp/x", "fsync": "always", "durability": "write_ahead"}}"#,
        )
        .unwrap();
        assert_eq!(config.client_id, "kafka-events");
        assert_eq!(config.delivery_timeout_ms, 5_000);
        assert_eq!(
            config.overflow,
            Some(OverflowPolicy::Block { timeout_ms: 50 })
        );
        let spool = config.spool.unwrap();
        assert_eq!(spool.fsync, crate::FsyncPolicy::Always);
        assert_eq!(spool.durability, crate::Durability::WriteAhead);
        let typo = serde_json::from_str::<KafkaConfig>(r#"{"broker": ["h:1"]}"#).unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `broker`"),
            "{typo}"
        );
        let policy: OverflowPolicy = serde_json::from_str(r#""drop_newest""#).unwrap();
        assert_eq!(policy, OverflowPolicy::DropNewest);
    }
}
