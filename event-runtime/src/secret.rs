//! [`Secret`]: a value that never shows itself, and the rule for which librdkafka properties hold
//! one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A password, key or token. Its `Debug`, `Display` and `Serialize` write `***`, so it can't end
/// up in a log line, an error message or a dumped configuration; read it with
/// [`expose`](Secret::expose) where it is used.
///
/// ```
/// use kafka_events::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password} {password:?}"), "*** ***");
/// assert_eq!(serde_json::to_string(&password).unwrap(), r#""***""#);
/// assert_eq!(password.expose(), "hunter2");
/// // Read from configuration like any string.
/// let read: Secret = serde_json::from_str(r#""s3cr3t""#).unwrap();
/// assert_eq!(read.expose(), "s3cr3t");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        if value.trim() == REDACTED {
            return Err(serde::de::Error::custom(
                "a secret reads `***`, the redacted form a configuration is shown and serialized \
                 with, not the secret: give the real value",
            ));
        }
        Ok(Secret(value))
    }
}

/// What a secret is written as.
pub(crate) const REDACTED: &str = "***";

/// Whether a librdkafka property holds a secret: passwords, secrets, PEM text, the OAUTHBEARER
/// settings and JAAS configuration. Their values are written as `***` wherever this crate shows
/// a configuration or an error.
///
/// ```
/// use kafka_events::{KafkaConfig, is_secret_property};
///
/// assert!(is_secret_property("sasl.password"));
/// assert!(is_secret_property("ssl.key.pem"));
/// assert!(!is_secret_property("linger.ms"));
///
/// let config = KafkaConfig::new(["kafka-0:9092"]).property("ssl.key.password", "hunter2");
/// assert!(!format!("{config:?}").contains("hunter2"));
/// assert!(!serde_json::to_string(&config).unwrap().contains("hunter2"));
/// ```
pub fn is_secret_property(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    name.contains("password")
        || name.contains("secret")
        || name.contains("credential")
        || name.ends_with(".pem")
        || name.starts_with("sasl.oauthbearer.")
        || name == "sasl.jaas.config"
        || name.starts_with("ssl.keystore.")
        || name.starts_with("ssl_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_properties_by_name() {
        for secret in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl.certificate.pem",
            "ssl.ca.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.jaas.config",
            "SASL.PASSWORD",
            "ssl.key.pem ",
            " sasl.oauthbearer.config",
            "sasl.jaas.config\t",
        ] {
            assert!(is_secret_property(secret), "{secret}");
        }
        for plain in [
            "sasl.username",
            "sasl.mechanism",
            "ssl.ca.location",
            "ssl.key.location",
            "linger.ms",
            "security.protocol",
        ] {
            assert!(!is_secret_property(plain), "{plain}");
        }
    }
}
