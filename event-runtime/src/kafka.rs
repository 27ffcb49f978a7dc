//! The rdkafka backend: [`KafkaConfig`] and [`KafkaProducer`].
//!
//! ```
//! use kafka_events::{KafkaConfig, KafkaProducer, ConfigError};
//!
//! // Loads from TOML, JSON or the environment through serde; unknown keys are errors.
//! let config: KafkaConfig = serde_json::from_str(r#"{
//!     "brokers": ["127.0.0.1:9092"],
//!     "client_id": "billing-api",
//!     "topics": { "audit": "ds.core.config.compliance.1.0.0", "usage": "ds.core.config.billing.1.0.0" },
//!     "properties": { "linger.ms": "10" }
//! }"#)?;
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # let _guard = rt.enter();
//! let producer = KafkaProducer::new(&config)?;
//!
//! // Mistakes are typed errors that name the field.
//! let bad = KafkaConfig::new(["localhost"]);
//! assert!(matches!(KafkaProducer::new(&bad), Err(ConfigError::InvalidBroker { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use serde::{Deserialize, Serialize};

use crate::error::{CloseError, ConfigError, EmitError};
use crate::producer::{CloseFuture, Delivery, Message, Producer, SendFuture};
use crate::topic::TopicMap;

/// Configuration of a [`KafkaProducer`], deserializable from TOML, JSON or environment loaders.
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
    /// sending fails with [`EmitError::UnmappedTopic`].
    pub topics: BTreeMap<String, String>,
    /// How long librdkafka may try to deliver a record, retries included, before
    /// [`EmitError::Timeout`] (librdkafka's `message.timeout.ms`; its own default is 5 minutes).
    pub delivery_timeout_ms: u64,
    /// How long `send` waits for room when librdkafka's queue is full before
    /// [`EmitError::QueueFull`].
    pub queue_timeout_ms: u64,
    /// Raw librdkafka properties (`linger.ms`, `security.protocol`, ...).
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: Vec::new(),
            client_id: "kafka-events".into(),
            topics: BTreeMap::new(),
            delivery_timeout_ms: 30_000,
            queue_timeout_ms: 5_000,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    /// Production defaults, applied before `properties`: every in-sync replica acknowledges,
    /// retries cannot duplicate or reorder, batches are compressed, and keys partition like the
    /// Java client does, so consumers in other languages see the same key → partition mapping.
    pub const DEFAULT_PROPERTIES: &'static [(&'static str, &'static str)] = &[
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("compression.type", "lz4"),
        ("partitioner", "murmur2_random"),
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

    fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        const RESERVED: &[(&str, &str)] = &[
            ("bootstrap.servers", "brokers"),
            ("metadata.broker.list", "brokers"),
            ("client.id", "client_id"),
            ("message.timeout.ms", "delivery_timeout_ms"),
            ("delivery.timeout.ms", "delivery_timeout_ms"),
        ];
        for (name, field) in RESERVED {
            if self.properties.contains_key(*name) {
                return Err(ConfigError::ReservedProperty {
                    name: (*name).to_owned(),
                    field,
                });
            }
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers()?)
            .set("client.id", &self.client_id)
            .set("message.timeout.ms", self.delivery_timeout_ms.to_string());
        for (name, value) in Self::DEFAULT_PROPERTIES {
            config.set(*name, *value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        Ok(config)
    }

    fn max_message_bytes(&self) -> usize {
        self.properties
            .get("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(Self::DEFAULT_MAX_MESSAGE_BYTES)
    }
}

fn check_broker(address: &str) -> Result<(), &'static str> {
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

/// A [`Producer`] on librdkafka. Cheap to share: wrap it in an `Arc`.
pub struct KafkaProducer {
    inner: FutureProducer,
    topics: TopicMap,
    delivery_timeout: Duration,
    queue_timeout: Duration,
    max_message_bytes: usize,
    closed: AtomicBool,
}

impl KafkaProducer {
    /// Creates the producer. Nothing is sent yet; an unreachable broker shows up as
    /// [`EmitError::Timeout`] on the first sends, not here.
    ///
    /// Must be called inside a Tokio runtime (librdkafka's queue-full back-off uses its timer).
    pub fn new(config: &KafkaConfig) -> Result<Self, ConfigError> {
        let topics = TopicMap::new(config.topics.clone())?;
        let client_config = config.client_config()?;
        // Building the native config first names the property librdkafka rejects.
        if let Err(error) = client_config.create_native_config() {
            return Err(match error {
                KafkaError::ClientConfig(_, reason, name, value) => ConfigError::InvalidProperty {
                    name,
                    value,
                    reason,
                },
                other => ConfigError::Client {
                    reason: other.to_string(),
                },
            });
        }
        let inner: FutureProducer = client_config.create().map_err(|e| ConfigError::Client {
            reason: match e {
                KafkaError::ClientCreation(reason) => reason,
                other => other.to_string(),
            },
        })?;
        Ok(KafkaProducer {
            inner,
            topics,
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            queue_timeout: Duration::from_millis(config.queue_timeout_ms),
            max_message_bytes: config.max_message_bytes(),
            closed: AtomicBool::new(false),
        })
    }

    /// How many records are queued or awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        usize::try_from(self.inner.in_flight_count()).unwrap_or(0)
    }

    /// The underlying rdkafka producer, for what this crate does not cover. Its type follows the
    /// `rdkafka` version this crate depends on.
    pub fn rdkafka(&self) -> &FutureProducer {
        &self.inner
    }

    fn map_error(&self, error: KafkaError, topic: &str, size: usize) -> EmitError {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => EmitError::MessageTooLarge {
                size,
                limit: self.max_message_bytes,
            },
            Some(RDKafkaErrorCode::MessageTimedOut) => EmitError::Timeout(self.delivery_timeout),
            Some(RDKafkaErrorCode::QueueFull) => EmitError::QueueFull,
            Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition) => {
                EmitError::UnknownTopic {
                    topic: topic.to_owned(),
                }
            }
            _ => EmitError::Broker {
                reason: error.to_string(),
            },
        }
    }
}

impl Producer for KafkaProducer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(EmitError::Closed);
            }
            let topic = self.topics.resolve(&message.topic)?;
            let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
            for header in &message.headers {
                headers = headers.insert(rdkafka::message::Header {
                    key: &header.name,
                    value: Some(header.value.as_ref()),
                });
            }
            let record = FutureRecord::to(topic)
                .key(&message.key)
                .payload(&message.payload)
                .headers(headers);
            match self
                .inner
                .send(record, Timeout::After(self.queue_timeout))
                .await
            {
                Ok(delivery) => Ok(Delivery {
                    topic: topic.to_owned(),
                    partition: delivery.partition,
                    offset: delivery.offset,
                }),
                Err((error, _)) => Err(self.map_error(error, topic, message.payload.len())),
            }
        })
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        self.closed.store(true, Ordering::Release);
        let producer = self.inner.clone();
        Box::pin(async move {
            // flush blocks; run it on its own thread so no async worker is held.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let result = producer.flush(Timeout::After(timeout));
                let _ = tx.send((result, producer.in_flight_count()));
            });
            match rx.await {
                Ok((Ok(()), _)) => Ok(()),
                Ok((Err(_), undelivered)) => Err(CloseError::Timeout {
                    undelivered: usize::try_from(undelivered).unwrap_or(0),
                    timeout,
                }),
                Err(_) => Err(CloseError::Timeout {
                    undelivered: self.in_flight(),
                    timeout,
                }),
            }
        })
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        let at_risk = self.in_flight();
        if at_risk > 0 && !self.closed.load(Ordering::Acquire) {
            tracing::warn!(
                at_risk,
                "KafkaProducer dropped without close(): librdkafka purges undelivered records"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses() {
        for good in [
            "127.0.0.1:9092",
            "kafka-0.kafka:9092",
            "[::1]:9092",
            "SSL://host:9093",
        ] {
            assert_eq!(check_broker(good), Ok(()), "{good}");
        }
        for bad in [
            "localhost",
            ":9092",
            "host:0",
            "host:99999",
            "host:port",
            "a b:1",
        ] {
            assert!(check_broker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        assert!(matches!(
            KafkaProducer::new(&KafkaConfig::default()),
            Err(ConfigError::NoBrokers)
        ));
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("no.such", "1"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "no.such"),
            "{err}"
        );
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("acks", "maybe"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "acks"),
            "{err}"
        );
        let err = KafkaProducer::new(
            &KafkaConfig::new(["127.0.0.1:9092"]).property("bootstrap.servers", "x:1"),
        )
        .err()
        .unwrap();
        assert!(matches!(
            err,
            ConfigError::ReservedProperty {
                field: "brokers",
                ..
            }
        ));
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_typos() {
        let config: KafkaConfig = serde_json::from_str(r#"{"brokers": ["h:1"]}"#).unwrap();
        assert_eq!(config.client_id, "kafka-events");
        assert_eq!(config.delivery_timeout_ms, 30_000);
        let typo = serde_json::from_str::<KafkaConfig>(r#"{"broker": ["h:1"]}"#).unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `broker`"),
            "{typo}"
        );
    }
}
