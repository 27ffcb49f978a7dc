//! Typed errors: one variant per thing a caller can act on.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why an event was not delivered.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::{AuditEntry, EmitError, KafkaEvent, MemoryProducer, Producer, UsageEvent};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::with_topics([("audit".into(), "ds.audit.1".into())].into())?;
/// // The map has no entry for `usage`: refused, never sent to a topic nobody configured.
/// let now = kafka_events::chrono::Utc::now();
/// let refused = UsageEvent::new("reports-api", now, now).emit_detached(&producer);
/// assert!(matches!(refused, Err(EmitError::UnmappedTopic { topic }) if topic == "usage"));
///
/// producer.close(Duration::from_secs(1)).await?;
/// let error = AuditEntry::new().emit(&producer).await.unwrap_err();
/// assert!(matches!(error, EmitError::Closed));
/// assert_eq!(error.to_string(), "the producer is closed");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event could not be serialized to JSON (e.g. a map with non-string keys).
    #[error("the event could not be serialized to JSON: {0}")]
    Serialize(#[source] serde_json::Error),
    /// A topic map is configured but has no entry for this logical topic.
    #[error(
        "logical topic `{topic}` has no physical topic: add `{topic}` to the producer's `topics` map"
    )]
    UnmappedTopic {
        /// The logical topic.
        topic: String,
    },
    /// The record is larger than the producer's `message.max.bytes` (or the broker's limit).
    /// Checked before the record goes anywhere, so the answer is the same whether a broker is
    /// reachable or not.
    #[error("the message is {size} bytes, over the {limit}-byte limit (`message.max.bytes`)")]
    MessageTooLarge {
        /// The record's size as librdkafka counts it: key, payload, headers and 36 bytes of
        /// framing.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The record has parts no Kafka record of this producer can carry: a header name over
    /// 65 535 bytes, more than 65 535 headers, or a key, header value or payload over 4 GiB.
    /// Checked before the record goes anywhere.
    #[error("the record can't be sent: it has {reason}")]
    InvalidRecord {
        /// What is out of bounds.
        reason: String,
    },
    /// The broker did not acknowledge the record within the delivery timeout.
    #[error("no acknowledgement from the broker within {0:?} (the delivery timeout)")]
    Timeout(Duration),
    /// The producer's in-memory queue stayed full.
    #[error("the producer queue is full")]
    QueueFull,
    /// The topic does not exist on the broker.
    #[error("topic `{topic}` does not exist on the broker")]
    UnknownTopic {
        /// The physical topic.
        topic: String,
    },
    /// No broker was reachable; the record was taken back from the queue undelivered.
    #[error("no broker is reachable; the record was not delivered")]
    Unreachable,
    /// The brokers refused the client's credentials (wrong user or password, a mechanism the
    /// broker does not enable, an OAUTHBEARER token it does not accept). Arrives as soon as
    /// librdkafka reports the refusal, not after the delivery timeout. A record that was
    /// already queued stays with the producer, as if its caller had stopped waiting:
    /// delivered if the brokers accept the client in time, otherwise spooled (with a spool)
    /// or handed back by `close`.
    #[error(
        "the brokers refused to authenticate this client: {reason}; check the SASL mechanism, user and password (or token)"
    )]
    Authentication {
        /// What librdkafka said (never the credentials).
        reason: String,
    },
    /// The TLS handshake failed (a certificate signed by a CA the client does not trust, a
    /// certificate for another host name, a client certificate the broker rejects or lacks).
    /// Arrives, and leaves a queued record, as [`Authentication`](Self::Authentication) does.
    #[error(
        "the TLS handshake with the brokers failed: {reason}; check `security.tls.ca`, that the broker's certificate names the host in `brokers`, and the client certificate if the broker requires one"
    )]
    Tls {
        /// What librdkafka said.
        reason: String,
    },
    /// librdkafka raised a fatal error (its idempotent producer was fenced or lost its
    /// sequence) and the producer could not hand the record to the new librdkafka producer that
    /// replaces it before the delivery timeout. Retry: the replacement is under way (see
    /// [`DeliveryStats::replacing_client`](crate::DeliveryStats::replacing_client)).
    #[error(
        "librdkafka raised a fatal error ({reason}); the producer is replacing its client, retry"
    )]
    Fatal {
        /// What librdkafka said.
        reason: String,
    },
    /// The producer was closed.
    #[error("the producer is closed")]
    Closed,
    /// The record had to go to the spool, and the spool could not take it (disk full,
    /// directory unwritable or removed); it was counted as dropped and logged.
    #[error("the record could not be spooled: {0}")]
    Spool(#[source] SpoolError),
    /// The broker will never take this record as it is: it is invalid, breaks a topic policy,
    /// or this client is not authorized to write the topic. Retrying the same record does not
    /// help; fix the record or the broker's ACLs.
    #[error("the broker refused the record for good: {reason}")]
    Rejected {
        /// What the broker said.
        reason: String,
    },
    /// The producer writes this event's topic in the `EventJson` envelope (see
    /// [`WireFormat`](crate::envelope::WireFormat)) and the event can't be written in it: it has
    /// no event type, or its JSON is not an object. Nothing was sent; give the event a type.
    #[error("the event on topic `{topic}` can't be written in the EventJson envelope: {reason}")]
    Envelope {
        /// The event's logical topic.
        topic: String,
        /// What is missing and what to do.
        reason: String,
    },
    /// The broker or client rejected the record for another reason.
    #[error("the record was not delivered: {reason}")]
    Broker {
        /// What the client library said.
        reason: String,
    },
}

/// Why a producer configuration was rejected.
///
/// Every variant names the field or property at fault, and never shows a secret's value.
///
/// ```
/// use kafka_events::{ConfigError, KafkaConfig, KafkaProducer};
///
/// // A property that a typed field owns.
/// let config = KafkaConfig::new(["kafka-0:9092"]).property("client.id", "billing-api");
/// let Err(error) = KafkaProducer::new(&config) else { panic!("accepted") };
/// assert!(matches!(error, ConfigError::ReservedProperty { field: "client_id", .. }));
/// assert_eq!(
///     error.to_string(),
///     "property `client.id` is set by `client_id`: remove it from `properties`"
/// );
///
/// let no_brokers = KafkaConfig::default();
/// assert!(matches!(KafkaProducer::new(&no_brokers), Err(ConfigError::NoBrokers)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `brokers` is empty.
    #[error("`brokers` is empty: give at least one `host:port`")]
    NoBrokers,
    /// An entry of `brokers` is not `host:port`.
    #[error("`brokers` entry `{address}` is invalid: {reason}")]
    InvalidBroker {
        /// The entry as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A physical topic in `topics` is not a legal Kafka topic name.
    #[error("`topics.{logical}` = `{physical}` is not a valid Kafka topic name: {reason}")]
    InvalidTopic {
        /// The logical topic.
        logical: String,
        /// The physical topic as given.
        physical: String,
        /// What is wrong with it.
        reason: String,
    },
    /// librdkafka rejected a property.
    #[error("property `{name}` = `{value}` is invalid: {reason}")]
    InvalidProperty {
        /// The property name.
        name: String,
        /// The value as given; `***` for a property that holds a secret.
        value: String,
        /// What librdkafka said (a secret's value written as `***`).
        reason: String,
    },
    /// The CloudEvents `source` is empty or not a URI-reference.
    #[error("cloudevents: {reason}")]
    CloudEvents {
        /// What is wrong and what to do.
        reason: String,
    },
    /// The wire format or the envelope's settings can't be used (see
    /// [`WireFormat`](crate::envelope::WireFormat)).
    #[error("wire format: {reason}")]
    Envelope {
        /// What is wrong and what to do.
        reason: String,
    },
    /// The TLS or SASL settings are incomplete, contradict each other, or need a feature this
    /// build lacks.
    #[error("security settings: {reason}")]
    Security {
        /// What is wrong and what to do.
        reason: String,
    },
    /// An environment variable of [`KafkaConfig::from_env`](crate::KafkaConfig::from_env) is
    /// missing or has a value that can't be used.
    #[error("environment variable `{variable}` {reason}")]
    Environment {
        /// The variable.
        variable: String,
        /// What is wrong with it (never its value when it holds a secret).
        reason: String,
    },
    /// A property that this crate sets from a typed field was also given in `properties`.
    #[error("property `{name}` is set by `{field}`: remove it from `properties`")]
    ReservedProperty {
        /// The property name.
        name: String,
        /// The typed field that sets it.
        field: &'static str,
    },
    /// `overflow = "spool"` without a `spool` to write to.
    #[error("`overflow = \"spool\"` needs a spool: set `spool.dir`")]
    SpoolRequired,
    /// The spool could not be opened.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The client could not be created from an otherwise valid configuration.
    #[error("the Kafka client could not be created: {reason}")]
    Client {
        /// What librdkafka said.
        reason: String,
    },
}

/// What [`Producer::close`](crate::Producer::close) left behind.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer, Producer, SpoolConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # let spool = tempfile::tempdir()?;
/// let config = kafka.producer_config().spool(SpoolConfig::new(spool.path()));
/// let producer = KafkaProducer::new(&config)?;
/// kafka.all_down()?; // an outage at shutdown
/// AuditEntry::new().emit_detached(&producer)?;
///
/// let report = producer.close(Duration::from_millis(100)).await?;
/// assert_eq!(report.spooled, 1); // the next producer on this spool delivers it
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// Records left in the spool, to be replayed by the next producer on it.
    pub spooled: u64,
    /// Fatal errors librdkafka raised during the producer's life (each was logged, and the
    /// librdkafka producer that raised it replaced: see
    /// [`DeliveryStats::fatal_errors`](crate::DeliveryStats::fatal_errors)).
    pub fatal_errors: u64,
}

/// Why [`Producer::close`](crate::Producer::close) did not finish cleanly.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, CloseError, KafkaEvent, KafkaProducer, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?; // no spool
/// kafka.all_down()?;
/// let entry = AuditEntry::new();
/// entry.emit_detached(&producer)?;
///
/// match producer.close(Duration::from_millis(100)).await {
///     // Keep them or resend them elsewhere: nothing else holds them now.
///     Err(CloseError::Undelivered { messages, .. }) => {
///         assert_eq!(messages[0].key, entry.id.to_string().as_bytes());
///     }
///     other => panic!("expected the record back, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    /// Records were still undelivered at the deadline and there is no spool: here they are, to
    /// keep or resend.
    #[error("{} records were not delivered within {timeout:?}", messages.len())]
    Undelivered {
        /// The records, as they were sent.
        messages: Vec<crate::message::Message>,
        /// The deadline given to `close`.
        timeout: Duration,
    },
}

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
