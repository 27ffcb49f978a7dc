//! Which wire format a producer writes ([`WireFormat`], per producer and per logical topic), and
//! the envelope's producer-wide fields ([`EnvelopeConfig`], checked into [`EnvelopeSettings`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// How events are written on a topic.
///
/// ```
/// use kafka_events::envelope::WireFormat;
///
/// assert_eq!(WireFormat::default(), WireFormat::Flat);
/// let format: WireFormat = serde_json::from_str(r#""envelope""#)?;
/// assert_eq!(format, WireFormat::Envelope);
/// assert_eq!("flat".parse::<WireFormat>()?, WireFormat::Flat);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFormat {
    /// The event's own JSON, as the Go middleware of the seed's era writes and reads it (the
    /// default).
    #[default]
    Flat,
    /// The event inside the `EventJson` envelope that today's Go services (middleware v3.x and
    /// their event-stream SDK) write and require.
    Envelope,
}

impl std::str::FromStr for WireFormat {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        match text.trim() {
            "flat" => Ok(WireFormat::Flat),
            "envelope" => Ok(WireFormat::Envelope),
            other => Err(ConfigError::Envelope {
                reason: format!("unknown wire format `{other}`, expected `flat` or `envelope`"),
            }),
        }
    }
}

/// The envelope's fields that come from the producer, not the event (section `envelope` of
/// [`KafkaConfig`](crate::KafkaConfig)).
///
/// ```
/// use kafka_events::envelope::EnvelopeConfig;
///
/// let config: EnvelopeConfig = serde_json::from_str(
///     r#"{"event_source": "billing.invoices.api.v2", "created_by": "billing-api"}"#,
/// )?;
/// assert_eq!(config, EnvelopeConfig::new("billing.invoices.api.v2", "billing-api"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeConfig {
    /// Where the events come from, `{domain}.{group}.{name}.v{major}` as the Go middleware
    /// writes it, e.g. `identity.auth.gateway.v1`.
    pub event_source: String,
    /// Who writes them (the service's name); the Go reader refuses an empty one.
    pub created_by: String,
}

impl EnvelopeConfig {
    /// The settings with this source and writer.
    pub fn new(event_source: impl Into<String>, created_by: impl Into<String>) -> Self {
        EnvelopeConfig {
            event_source: event_source.into(),
            created_by: created_by.into(),
        }
    }
}

/// [`EnvelopeConfig`], checked: a producer writing the envelope holds one.
///
/// ```
/// use kafka_events::envelope::EnvelopeSettings;
///
/// let settings = EnvelopeSettings::new("identity.auth.gateway.v1", "gateway")?;
/// assert_eq!(settings.event_source(), "identity.auth.gateway.v1");
///
/// let error = EnvelopeSettings::new("gateway", "gateway").unwrap_err();
/// assert!(error.to_string().contains("{domain}.{group}.{name}.v{major}"), "{error}");
/// assert!(EnvelopeSettings::new("identity.auth.gateway.v1", " ").is_err());
/// # Ok::<(), kafka_events::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSettings {
    event_source: String,
    created_by: String,
}

impl EnvelopeSettings {
    /// Checks `event_source` (`{domain}.{group}.{name}.v{major}`: three names of ASCII letters,
    /// digits, `-` or `_`, then `v` and the major version) and `created_by` (not blank, no
    /// control characters).
    pub fn new(
        event_source: impl Into<String>,
        created_by: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let (event_source, created_by) = (event_source.into(), created_by.into());
        check_source(&event_source)?;
        if created_by.trim().is_empty() || created_by.chars().any(char::is_control) {
            return Err(ConfigError::Envelope {
                reason: "`envelope.created_by` must name the service writing the events (the Go \
                         reader refuses an empty one), without control characters"
                    .into(),
            });
        }
        Ok(EnvelopeSettings {
            event_source,
            created_by,
        })
    }

    /// The envelope's `event_source`.
    pub fn event_source(&self) -> &str {
        &self.event_source
    }

    /// The envelope's `created_by`.
    pub fn created_by(&self) -> &str {
        &self.created_by
    }
}

impl TryFrom<&EnvelopeConfig> for EnvelopeSettings {
    type Error = ConfigError;

    fn try_from(config: &EnvelopeConfig) -> Result<Self, ConfigError> {
        EnvelopeSettings::new(config.event_source.clone(), config.created_by.clone())
    }
}

fn check_source(source: &str) -> Result<(), ConfigError> {
    let name = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let parts: Vec<&str> = source.split('.').collect();
    let valid = match parts.as_slice() {
        [domain, group, service, major] => {
            name(domain)
                && name(group)
                && name(service)
                && major
                    .strip_prefix('v')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ConfigError::Envelope {
            reason: format!(
                "`envelope.event_source` is `{source}`; it must be \
                 `{{domain}}.{{group}}.{{name}}.v{{major}}`, as the Go middleware writes it, e.g. \
                 `identity.auth.gateway.v1`"
            ),
        })
    }
}

/// A producer's wire format for each logical topic, resolved once when it is built.
#[derive(Clone, Debug, Default)]
pub(crate) struct WireFormats {
    envelope: Option<Arc<EnvelopeSettings>>,
    default: WireFormat,
    per_topic: BTreeMap<String, WireFormat>,
}

impl WireFormats {
    /// From a producer's configuration; the envelope anywhere needs its settings. `topics` is
    /// the producer's topic map: when it has entries, every logical topic is one of its keys,
    /// and a wire format for another name (a physical one, a typo) would never apply.
    pub fn new(
        default: WireFormat,
        per_topic: &BTreeMap<String, WireFormat>,
        envelope: Option<&EnvelopeConfig>,
        topics: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        if let Some(unknown) = per_topic
            .keys()
            .find(|topic| !topics.is_empty() && !topics.contains_key(*topic))
        {
            return Err(ConfigError::Envelope {
                reason: format!(
                    "`wire_formats` names `{unknown}`, which is not a logical topic of `topics`: \
                     name the logical topic (the events' `topic`)"
                ),
            });
        }
        let used = default == WireFormat::Envelope
            || per_topic.values().any(|f| *f == WireFormat::Envelope);
        let envelope = match (envelope, used) {
            (Some(config), _) => Some(Arc::new(EnvelopeSettings::try_from(config)?)),
            (None, true) => {
                return Err(ConfigError::Envelope {
                    reason: "the `envelope` wire format needs an `envelope` section with \
                             `event_source` and `created_by` (or KAFKA_ENVELOPE_EVENT_SOURCE and \
                             KAFKA_ENVELOPE_CREATED_BY)"
                        .into(),
                });
            }
            (None, false) => None,
        };
        Ok(WireFormats {
            envelope,
            default,
            per_topic: per_topic.clone(),
        })
    }

    /// Every topic in the envelope.
    pub fn envelope_everywhere(settings: EnvelopeSettings) -> Self {
        WireFormats {
            envelope: Some(Arc::new(settings)),
            default: WireFormat::Envelope,
            per_topic: BTreeMap::new(),
        }
    }

    /// The envelope's settings when `topic` (logical) is written in it.
    pub fn envelope_for(&self, topic: &str) -> Option<&EnvelopeSettings> {
        let format = self.per_topic.get(topic).copied().unwrap_or(self.default);
        match format {
            WireFormat::Flat => None,
            WireFormat::Envelope => self.envelope.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_sources_follow_the_go_middlewares_pattern() {
        for good in [
            "identity.auth.gateway.v1",
            "a.b.c.v10",
            "billing-x.in_v.api.v0",
        ] {
            assert!(check_source(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a.b.c",
            "a.b.c.1",
            "a.b.c.v",
            "a.b.c.vx",
            "a..c.v1",
            "a.b.c.d.v1",
            "a b.c.d.v1",
        ] {
            assert!(check_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topics_choose_their_format_and_the_envelope_needs_settings() {
        let config = EnvelopeConfig::new("a.b.c.v1", "svc");
        let per_topic = BTreeMap::from([("usage".to_owned(), WireFormat::Envelope)]);
        let none = BTreeMap::new();
        let formats = WireFormats::new(WireFormat::Flat, &per_topic, Some(&config), &none).unwrap();
        assert!(formats.envelope_for("audit").is_none());
        assert_eq!(
            formats
                .envelope_for("usage")
                .map(EnvelopeSettings::created_by),
            Some("svc")
        );
        let missing = WireFormats::new(WireFormat::Flat, &per_topic, None, &none).unwrap_err();
        assert!(
            missing.to_string().contains("`envelope` section"),
            "{missing}"
        );
        assert!(WireFormats::new(WireFormat::Flat, &BTreeMap::new(), None, &none).is_ok());
        let mapped = BTreeMap::from([("usage".to_owned(), "ds.usage.1".to_owned())]);
        assert!(WireFormats::new(WireFormat::Flat, &per_topic, Some(&config), &mapped).is_ok());
        let physical = BTreeMap::from([("ds.usage.1".to_owned(), WireFormat::Envelope)]);
        let error =
            WireFormats::new(WireFormat::Flat, &physical, Some(&config), &mapped).unwrap_err();
        assert!(error.to_string().contains("not a logical topic"), "{error}");
    }
}
