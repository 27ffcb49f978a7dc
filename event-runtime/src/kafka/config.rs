//! [`KafkaConfig`]: what a [`KafkaProducer`](super::KafkaProducer) is built from.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use super::security::{
    PemSource, SECURITY_PROPERTIES, SaslConfig, SaslMechanism, SecurityConfig, SecurityProtocol,
    TlsConfig,
};
use crate::error::ConfigError;
use crate::secret::{REDACTED, Secret, is_secret_property};
use crate::spool::SpoolConfig;

/// Configuration of a [`KafkaProducer`](super::KafkaProducer), deserializable from TOML, JSON or
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
/// [`security`](Self::security) and for every property that holds one (see
/// [`is_secret_property`](crate::is_secret_property)).
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
            .field("properties", &redacted(&self.properties))
            .finish()
    }
}

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

/// Replaces a configuration's secrets in text (librdkafka's errors) with `***`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor(Vec<Secret>);

impl Redactor {
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.0 {
            text = text.replace(secret.expose(), REDACTED);
        }
        text
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

    /// Authenticates with SASL (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`; for `OAUTHBEARER` see
    /// [`KafkaProducer::with_token_provider`](super::KafkaProducer::with_token_provider)).
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

    /// A configuration from the usual deployment variables, so a twelve-factor service needs no
    /// code: [`from_env_prefixed`](Self::from_env_prefixed) with the prefix `KAFKA_`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_prefixed("KAFKA_")
    }

    /// A configuration from environment variables named with `prefix`:
    ///
    /// | variable | meaning |
    /// | --- | --- |
    /// | `BROKERS` (or `BOOTSTRAP_SERVERS`) | `host:port`, comma-separated (required) |
    /// | `CLIENT_ID` | the client id |
    /// | `TOPICS` | logical to physical topics: `audit=ds.audit.1,usage=ds.billing.1` |
    /// | `DELIVERY_TIMEOUT_MS` | the delivery timeout |
    /// | `SPOOL_DIR` | a spool directory (with the default spool settings) |
    /// | `SECURITY_PROTOCOL` | `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl` (any case) |
    /// | `SASL_MECHANISM` | `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER` |
    /// | `SASL_USERNAME`, `SASL_PASSWORD` | SASL credentials |
    /// | `SSL_CA_LOCATION` or `SSL_CA_PEM` | the CA certificate(s), as a file or PEM text |
    /// | `SSL_CERTIFICATE_LOCATION` or `_PEM`, `SSL_KEY_LOCATION` or `_PEM` | mutual TLS |
    /// | `SSL_KEY_PASSWORD` | the private key's password |
    /// | `SSL_VERIFY_HOSTNAME` | `false` to skip hostname verification (default `true`) |
    ///
    /// A bad value is a [`ConfigError::Environment`] naming the variable, never showing a
    /// secret's value.
    ///
    /// ```
    /// use kafka_events::{KafkaConfig, ConfigError};
    ///
    /// // In a deployment, these come from the environment:
    /// # unsafe {
    /// std::env::set_var("ORDERS_KAFKA_BROKERS", "kafka-0:9092,kafka-1:9092");
    /// std::env::set_var("ORDERS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512");
    /// std::env::set_var("ORDERS_KAFKA_SASL_USERNAME", "orders");
    /// std::env::set_var("ORDERS_KAFKA_SASL_PASSWORD", "s3cr3t");
    /// # }
    /// let config = KafkaConfig::from_env_prefixed("ORDERS_KAFKA_")?;
    /// assert_eq!(config.brokers, ["kafka-0:9092", "kafka-1:9092"]);
    /// assert_eq!(config.security.sasl.as_ref().unwrap().password.expose(), "s3cr3t");
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn from_env_prefixed(prefix: &str) -> Result<Self, ConfigError> {
        Self::from_vars(prefix, |name| std::env::var(name).ok())
    }

    pub(crate) fn from_vars(
        prefix: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(&format!("{prefix}{name}"))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // A password is taken as it is: spaces around it are part of it.
        let secret_var = |name: &str| get(&format!("{prefix}{name}")).filter(|v| !v.is_empty());
        let bad = |name: &str, reason: String| ConfigError::Environment {
            variable: format!("{prefix}{name}"),
            reason,
        };
        let brokers = var("BROKERS")
            .or_else(|| var("BOOTSTRAP_SERVERS"))
            .ok_or_else(|| {
                bad(
                    "BROKERS",
                    "is not set: give `host:port`, comma-separated".into(),
                )
            })?;
        let mut config =
            KafkaConfig::new(brokers.split(',').map(str::trim).filter(|b| !b.is_empty()));
        if let Some(client_id) = var("CLIENT_ID") {
            config.client_id = client_id;
        }
        if let Some(topics) = var("TOPICS") {
            for pair in topics.split(',').filter(|p| !p.trim().is_empty()) {
                let (logical, physical) = pair
                    .split_once('=')
                    .ok_or_else(|| bad("TOPICS", format!("`{pair}` is not `logical=physical`")))?;
                config
                    .topics
                    .insert(logical.trim().to_owned(), physical.trim().to_owned());
            }
        }
        if let Some(ms) = var("DELIVERY_TIMEOUT_MS") {
            config.delivery_timeout_ms = ms
                .parse()
                .map_err(|_| bad("DELIVERY_TIMEOUT_MS", format!("`{ms}` is not a number")))?;
        }
        if let Some(dir) = var("SPOOL_DIR") {
            config.spool = Some(SpoolConfig::new(dir));
        }
        let mut security = SecurityConfig::default();
        if let Some(protocol) = var("SECURITY_PROTOCOL") {
            let normalized = protocol.to_ascii_lowercase().replace('-', "_");
            security.protocol = Some(
                serde_json::from_value(serde_json::Value::String(normalized)).map_err(|_| {
                    bad(
                        "SECURITY_PROTOCOL",
                        format!(
                            "`{protocol}` is not one of plaintext, ssl, sasl_plaintext, sasl_ssl"
                        ),
                    )
                })?,
            );
        }
        if let Some(mechanism) = var("SASL_MECHANISM") {
            let mechanism = match mechanism.to_ascii_uppercase().replace('_', "-").as_str() {
                "PLAIN" => SaslMechanism::Plain,
                "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
                "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
                "OAUTHBEARER" => SaslMechanism::OAuthBearer,
                _ => {
                    return Err(bad(
                        "SASL_MECHANISM",
                        format!(
                            "`{mechanism}` is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"
                        ),
                    ));
                }
            };
            let password = secret_var("SASL_PASSWORD");
            if password.is_none() && mechanism != SaslMechanism::OAuthBearer {
                return Err(bad(
                    "SASL_PASSWORD",
                    format!(
                        "is not set, but SASL {} needs a password",
                        mechanism.as_str()
                    ),
                ));
            }
            security.sasl = Some(SaslConfig {
                mechanism,
                username: var("SASL_USERNAME").unwrap_or_default(),
                password: Secret::new(password.unwrap_or_default()),
            });
        } else if var("SASL_USERNAME").is_some() || secret_var("SASL_PASSWORD").is_some() {
            return Err(bad(
                "SASL_MECHANISM",
                "is not set, but SASL credentials are: set it (e.g. SCRAM-SHA-512)".into(),
            ));
        }
        let pem = |name: &str| -> Result<Option<PemSource>, ConfigError> {
            match (
                var(&format!("{name}_LOCATION")),
                var(&format!("{name}_PEM")),
            ) {
                (Some(_), Some(_)) => Err(bad(
                    &format!("{name}_PEM"),
                    format!("is set together with {prefix}{name}_LOCATION: keep one"),
                )),
                (Some(file), None) => Ok(Some(PemSource::File(file.into()))),
                (None, Some(text)) => Ok(Some(PemSource::Pem(Secret::new(text)))),
                (None, None) => Ok(None),
            }
        };
        let tls = TlsConfig {
            ca: pem("SSL_CA")?,
            certificate: pem("SSL_CERTIFICATE")?,
            key: pem("SSL_KEY")?,
            key_password: secret_var("SSL_KEY_PASSWORD").map(Secret::new),
            verify_hostname: match var("SSL_VERIFY_HOSTNAME").as_deref() {
                None | Some("true" | "1" | "yes") => true,
                Some("false" | "0" | "no") => false,
                Some(other) => {
                    return Err(bad(
                        "SSL_VERIFY_HOSTNAME",
                        format!("`{other}` is not true or false"),
                    ));
                }
            },
        };
        let wants_tls = tls != TlsConfig::default()
            || matches!(
                security.protocol,
                Some(SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
            );
        if wants_tls {
            security.tls = Some(tls);
        }
        config.security = security;
        Ok(config)
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

    /// The librdkafka configuration of the producer awaited emits go through, when it differs
    /// from the detached one's: the same, but for `linger.ms`.
    pub(crate) fn awaited_client_config(&self, detached: &ClientConfig) -> Option<ClientConfig> {
        const LINGER: [&str; 2] = ["linger.ms", "queue.buffering.max.ms"];
        // librdkafka's own default.
        let detached_linger: f64 = LINGER
            .iter()
            .find_map(|name| detached.get(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(5.0);
        if detached_linger == f64::from(self.awaited_linger_ms) {
            return None;
        }
        let mut awaited = detached.clone();
        for name in LINGER {
            awaited.remove(name);
        }
        awaited.set("linger.ms", self.awaited_linger_ms.to_string());
        // One request at a time per broker: while it is out, the records of the callers
        // awaiting meanwhile gather into the next, so under load requests carry many records
        // (and cost the broker less each), while a lone record still goes at once.
        const IN_FLIGHT: [&str; 2] = ["max.in.flight.requests.per.connection", "max.in.flight"];
        if !IN_FLIGHT
            .iter()
            .any(|name| self.properties.contains_key(*name))
        {
            awaited.set("max.in.flight.requests.per.connection", "1");
        }
        Some(awaited)
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
        if self.security.is_set()
            && let Some(name) = SECURITY_PROPERTIES
                .iter()
                .find(|name| self.properties.contains_key(**name))
        {
            return Err(ConfigError::ReservedProperty {
                name: (*name).to_owned(),
                field: "security",
            });
        }
        // `***` is how a secret is shown and serialized: a configuration saved that way and
        // read back lost its secrets, which must not go to the broker as passwords.
        if let Some(name) = self
            .properties
            .iter()
            .find(|(name, value)| is_secret_property(name) && value.trim() == REDACTED)
            .map(|(name, _)| name)
        {
            return Err(ConfigError::InvalidProperty {
                name: name.clone(),
                value: REDACTED.into(),
                reason: "this is the redacted form a configuration is shown and serialized \
                         with, not the secret: give the real value"
                    .into(),
            });
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
        self.security.apply(&mut config)?;
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        Ok(config)
    }

    /// `text` with every secret of this configuration written as `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.redactor().redact(text)
    }

    /// What replaces this configuration's secrets in text from librdkafka.
    pub(crate) fn redactor(&self) -> Redactor {
        let mut secrets: Vec<Secret> = self
            .properties
            .iter()
            .filter(|(name, _)| is_secret_property(name))
            .map(|(_, value)| Secret::new(value.as_str()))
            .collect();
        if let Some(sasl) = &self.security.sasl {
            secrets.push(sasl.password.clone());
        }
        if let Some(tls) = &self.security.tls {
            secrets.extend(tls.key_password.clone());
            for source in [&tls.ca, &tls.certificate, &tls.key].into_iter().flatten() {
                if let PemSource::Pem(pem) = source {
                    secrets.push(pem.clone());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first: a secret that contains another is hidden whole, not around it.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        Redactor(secrets)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn awaited_emits_get_their_own_producer_only_when_lingers_differ() {
        let base = KafkaConfig::new(["h:1"]);
        let detached = base.client_config().unwrap();
        let awaited = base.awaited_client_config(&detached).expect("5 ms vs 0");
        assert_eq!(awaited.get("linger.ms"), Some("0"));
        assert_eq!(
            awaited.get("max.in.flight.requests.per.connection"),
            Some("1")
        );
        // Everything else is the same.
        assert_eq!(awaited.get("acks"), detached.get("acks"));
        assert_eq!(
            awaited.get("bootstrap.servers"),
            detached.get("bootstrap.servers")
        );
        // Same linger: one producer.
        let zero = base.clone().property("queue.buffering.max.ms", "0");
        assert!(
            zero.awaited_client_config(&zero.client_config().unwrap())
                .is_none()
        );
        // The user's in-flight limit stands.
        let own = KafkaConfig {
            awaited_linger_ms: 1,
            ..base.property("max.in.flight.requests.per.connection", "3")
        };
        let awaited = own
            .awaited_client_config(&own.client_config().unwrap())
            .unwrap();
        assert_eq!(awaited.get("linger.ms"), Some("1"));
        assert_eq!(
            awaited.get("max.in.flight.requests.per.connection"),
            Some("3")
        );
    }

    #[test]
    fn a_saved_configuration_with_redacted_secrets_is_refused() {
        let config = KafkaConfig::new(["a:1"]).property("ssl.key.password", "***");
        let err = config.client_config().unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "ssl.key.password"),
            "{err}"
        );
        let saved =
            serde_json::to_value(KafkaConfig::new(["a:1"]).security(crate::SecurityConfig {
                sasl: Some(crate::SaslConfig {
                    mechanism: SaslMechanism::ScramSha512,
                    username: "u".into(),
                    password: Secret::new("hunter2"),
                }),
                ..Default::default()
            }))
            .unwrap();
        assert!(!saved.to_string().contains("hunter2"));
        let err = serde_json::from_value::<KafkaConfig>(saved).unwrap_err();
        assert!(err.to_string().contains("redacted form"), "{err}");
    }

    #[test]
    fn the_longest_secret_is_hidden_first() {
        let config = KafkaConfig::new(["a:1"])
            .property("sasl.password", "hunter2")
            .property("ssl.key.password", "hunter2-key");
        let text = config.redactor().redact("wrong: hunter2-key and hunter2");
        assert_eq!(text, "wrong: *** and ***");
    }

    #[test]
    fn from_the_environment() {
        let config = KafkaConfig::from_vars(
            "K_",
            vars(&[
                ("K_BROKERS", "a:1, b:2"),
                ("K_CLIENT_ID", "orders"),
                ("K_TOPICS", "audit=ds.audit.1,usage=ds.billing.1"),
                ("K_DELIVERY_TIMEOUT_MS", "2500"),
                ("K_SECURITY_PROTOCOL", "SASL_SSL"),
                ("K_SASL_MECHANISM", "scram-sha-256"),
                ("K_SASL_USERNAME", "orders"),
                ("K_SASL_PASSWORD", " s3cr3t "),
                ("K_SSL_CA_LOCATION", "/etc/ca.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(config.brokers, ["a:1", "b:2"]);
        assert_eq!(config.client_id, "orders");
        assert_eq!(config.topics["usage"], "ds.billing.1");
        assert_eq!(config.delivery_timeout_ms, 2500);
        assert_eq!(config.security.protocol, Some(SecurityProtocol::SaslSsl));
        let sasl = config.security.sasl.as_ref().unwrap();
        assert_eq!(
            (
                sasl.mechanism,
                sasl.username.as_str(),
                sasl.password.expose()
            ),
            (SaslMechanism::ScramSha256, "orders", " s3cr3t "),
            "a password is taken as it is"
        );
        let tls = config.security.tls.as_ref().unwrap();
        assert_eq!(tls.ca, Some(PemSource::File("/etc/ca.pem".into())));
        assert!(tls.verify_hostname);
    }

    #[test]
    fn environment_mistakes_name_the_variable_and_hide_secrets() {
        for (pairs, variable) in [
            (vec![], "K_BROKERS"),
            (
                vec![("K_BROKERS", "a:1"), ("K_SASL_MECHANISM", "KERBEROS")],
                "K_SASL_MECHANISM",
            ),
            (
                vec![("K_BROKERS", "a:1"), ("K_SASL_USERNAME", "u")],
                "K_SASL_MECHANISM",
            ),
            (
                vec![("K_BROKERS", "a:1"), ("K_TOPICS", "audit")],
                "K_TOPICS",
            ),
            (
                vec![
                    ("K_BROKERS", "a:1"),
                    ("K_SASL_MECHANISM", "SCRAM-SHA-512"),
                    ("K_SASL_USERNAME", "u"),
                ],
                "K_SASL_PASSWORD",
            ),
            (
                vec![
                    ("K_BROKERS", "a:1"),
                    ("K_SSL_KEY_LOCATION", "/k"),
                    ("K_SSL_KEY_PEM", "PEM-SECRET"),
                ],
                "K_SSL_KEY_PEM",
            ),
            (
                vec![("K_BROKERS", "a:1"), ("K_SECURITY_PROTOCOL", "tls")],
                "K_SECURITY_PROTOCOL",
            ),
        ] {
            let err = KafkaConfig::from_vars("K_", vars(&pairs)).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Environment { variable: v, .. } if v == variable),
                "{err}"
            );
            assert!(!err.to_string().contains("PEM-SECRET"), "{err}");
        }
    }
}
