//! [`KafkaConfig::from_env`]: a configuration from the usual deployment variables.

use super::fields::KafkaConfig;
use crate::envelope::EnvelopeConfig;
use crate::error::ConfigError;
use crate::kafka::security::{
    PemSource, SaslConfig, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig,
};
use crate::secret::Secret;
use crate::spool::SpoolConfig;

impl KafkaConfig {
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
    /// | `CLOUDEVENTS_SOURCE` | adds CloudEvents headers with this `source` ([`KafkaConfig::cloudevents`]) |
    /// | `TOPICS` | logical to physical topics: `audit=ds.audit.1,usage=ds.billing.1` |
    /// | `WIRE_FORMAT` | `flat` (default) or `envelope` ([`KafkaConfig::wire_format`]) |
    /// | `WIRE_FORMATS` | per logical topic: `audit=envelope,usage=flat` |
    /// | `ENVELOPE_EVENT_SOURCE`, `ENVELOPE_CREATED_BY` | the envelope's settings ([`KafkaConfig::envelope`]) |
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
        if let Some(source) = var("CLOUDEVENTS_SOURCE") {
            config.cloudevents = Some(source);
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
        let format = |name: &str, text: &str| {
            text.parse()
                .map_err(|_| bad(name, format!("`{text}` is not `flat` or `envelope`")))
        };
        if let Some(text) = var("WIRE_FORMAT") {
            config.wire_format = format("WIRE_FORMAT", &text)?;
        }
        if let Some(formats) = var("WIRE_FORMATS") {
            for pair in formats.split(',').filter(|p| !p.trim().is_empty()) {
                let (topic, text) = pair.split_once('=').ok_or_else(|| {
                    bad("WIRE_FORMATS", format!("`{pair}` is not `topic=format`"))
                })?;
                if topic.trim().is_empty() {
                    return Err(bad("WIRE_FORMATS", format!("`{pair}` names no topic")));
                }
                let parsed = format("WIRE_FORMATS", text.trim())?;
                config.wire_formats.insert(topic.trim().to_owned(), parsed);
            }
        }
        match (var("ENVELOPE_EVENT_SOURCE"), var("ENVELOPE_CREATED_BY")) {
            (Some(source), Some(created_by)) => {
                config.envelope = Some(EnvelopeConfig::new(source, created_by));
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(bad(
                    "ENVELOPE_CREATED_BY",
                    format!("is not set, but {prefix}ENVELOPE_EVENT_SOURCE is: set both"),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "ENVELOPE_EVENT_SOURCE",
                    format!("is not set, but {prefix}ENVELOPE_CREATED_BY is: set both"),
                ));
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn from_the_environment() {
        let config = KafkaConfig::from_vars(
            "K_",
            vars(&[
                ("K_BROKERS", "a:1, b:2"),
                ("K_CLIENT_ID", "orders"),
                ("K_CLOUDEVENTS_SOURCE", "/orders-api"),
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
        assert_eq!(config.cloudevents.as_deref(), Some("/orders-api"));
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
