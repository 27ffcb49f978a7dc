//! Turning a [`KafkaConfig`] into librdkafka's configuration: the typed fields, the defaults,
//! the security settings and `properties`, checked (reserved names, broker addresses, redacted
//! secrets given back); and what the producer needs of it besides (its limits and secrets).

use rdkafka::ClientConfig;

use super::fields::KafkaConfig;
use super::policy::OverflowPolicy;
use crate::error::ConfigError;
use crate::kafka::security::{PemSource, SECURITY_PROPERTIES};
use crate::secret::{REDACTED, Redactor, Secret, is_secret_property};

impl KafkaConfig {
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
        // librdkafka takes a topic property with a `topic.` prefix too.
        for name in self.properties.keys() {
            let bare = name.strip_prefix("topic.").unwrap_or(name);
            if let Some((_, field)) = RESERVED.iter().find(|(reserved, _)| *reserved == bare) {
                return Err(ConfigError::ReservedProperty {
                    name: name.clone(),
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
        // Every record's fate is carried out from its delivery report: a producer that heard of
        // failures only would never learn that a record was delivered.
        if let Some(value) = self.properties.get("delivery.report.only.error")
            && !matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "false" | "f" | "0"
            )
        {
            return Err(ConfigError::InvalidProperty {
                name: "delivery.report.only.error".into(),
                value: value.clone(),
                reason: "kafka-events learns that a record was delivered from its delivery \
                         report (awaited emits, the spool, the stats): remove the property"
                    .into(),
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
        Redactor::new(secrets)
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
    use crate::kafka::security::SaslMechanism;

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
    fn a_producer_reporting_failures_only_is_refused() {
        for value in ["true", " TRUE ", "1"] {
            let config = KafkaConfig::new(["a:1"]).property("delivery.report.only.error", value);
            let err = config.client_config().unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "delivery.report.only.error"),
                "{err}"
            );
            assert!(err.to_string().contains("remove the property"), "{err}");
        }
        for value in ["false", "F", "0"] {
            let config = KafkaConfig::new(["a:1"]).property("delivery.report.only.error", value);
            assert!(config.client_config().is_ok(), "{value}");
        }
    }

    #[test]
    fn a_reserved_topic_property_is_refused_with_its_topic_prefix_too() {
        for name in [
            "topic.message.timeout.ms",
            "topic.delivery.timeout.ms",
            "topic.partitioner",
            "message.timeout.ms",
        ] {
            let err = KafkaConfig::new(["a:1"])
                .property(name, "0")
                .client_config()
                .unwrap_err();
            assert!(
                matches!(&err, ConfigError::ReservedProperty { name: given, .. } if given == name),
                "{name}: {err}"
            );
        }
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
}
