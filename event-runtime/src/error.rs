//! Typed errors: one variant per thing a caller can act on.

use std::time::Duration;

/// Why an event was not delivered.
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
    /// The record is larger than the producer's `message.max.bytes`.
    #[error("the message is {size} bytes, over the {limit}-byte limit (`message.max.bytes`)")]
    MessageTooLarge {
        /// The payload size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
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
    /// The producer was closed.
    #[error("the producer is closed")]
    Closed,
    /// The broker or client rejected the record for another reason.
    #[error("the record was not delivered: {reason}")]
    Broker {
        /// What the client library said.
        reason: String,
    },
}

/// Why a producer configuration was rejected.
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
        reason: &'static str,
    },
    /// librdkafka rejected a property.
    #[error("property `{name}` = `{value}` is invalid: {reason}")]
    InvalidProperty {
        /// The property name.
        name: String,
        /// The value as given.
        value: String,
        /// What librdkafka said.
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
    /// The client could not be created from an otherwise valid configuration.
    #[error("the Kafka client could not be created: {reason}")]
    Client {
        /// What librdkafka said.
        reason: String,
    },
}

/// Why [`Producer::close`](crate::Producer::close) did not finish cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    /// Records were still undelivered when the deadline passed.
    #[error("{undelivered} records were not delivered within {timeout:?}")]
    Timeout {
        /// How many records were still in flight.
        undelivered: usize,
        /// The deadline given to `close`.
        timeout: Duration,
    },
}
