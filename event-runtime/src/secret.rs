//! [`Secret`]: a value that never shows itself, and [`Redactor`], which hides a configuration's
//! secrets in text.

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
pub(crate) use kafka_events_rules::MASK as REDACTED;
/// Whether a librdkafka property holds a secret (the rule lives in `kafka-events-rules`).
pub(crate) use kafka_events_rules::is_secret_property;

/// Replaces a configuration's secrets in text (librdkafka's errors and log lines) with `***`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor(Vec<Secret>);

impl Redactor {
    /// A redactor for these secrets; empty ones are left out, and a secret that contains another
    /// is hidden whole, not around it.
    pub(crate) fn new(mut secrets: Vec<Secret>) -> Self {
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose().len()));
        Redactor(secrets)
    }

    /// `text` with every secret written as `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.0 {
            text = text.replace(secret.expose(), REDACTED);
        }
        text
    }
}
