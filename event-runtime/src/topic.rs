//! Logical topics and the map from them to physical topics.

use std::collections::BTreeMap;

use crate::error::{ConfigError, EmitError};

/// Maps logical topics (`#[event(topic = "audit")]`) to physical ones
/// (`ds.core.config.compliance.1.0.0`).
///
/// The rule: with an empty map every logical topic is used as the physical topic. Once the map
/// has any entry, every logical topic must be in it; an unmapped one is
/// [`EmitError::UnmappedTopic`], never a send to a topic nobody configured.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_events::{ConfigError, EmitError, TopicMap};
///
/// assert_eq!(TopicMap::default().resolve("audit")?, "audit");
///
/// let topics = TopicMap::new(BTreeMap::from([("audit".into(), "ds.audit.1".into())]))?;
/// assert_eq!(topics.resolve("audit")?, "ds.audit.1");
/// assert!(matches!(topics.resolve("usage"), Err(EmitError::UnmappedTopic { .. })));
///
/// let bad = TopicMap::new(BTreeMap::from([("audit".into(), "audit log".into())]));
/// assert!(matches!(bad, Err(ConfigError::InvalidTopic { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicMap {
    map: BTreeMap<String, String>,
}

impl TopicMap {
    /// Checks that every physical topic is a legal Kafka topic name.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for (logical, physical) in &map {
            if let Some(reason) = topic_name_problem(physical) {
                return Err(ConfigError::InvalidTopic {
                    logical: logical.clone(),
                    physical: physical.clone(),
                    reason,
                });
            }
        }
        Ok(TopicMap { map })
    }

    /// The physical topic for `logical`.
    pub fn resolve<'a>(&'a self, logical: &'a str) -> Result<&'a str, EmitError> {
        if self.map.is_empty() {
            return Ok(logical);
        }
        self.map
            .get(logical)
            .map(String::as_str)
            .ok_or_else(|| EmitError::UnmappedTopic {
                topic: logical.to_owned(),
            })
    }
}

/// Why `name` is not a legal Kafka topic name: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.`
/// or `..`. The derive checks logical topics by the same rule at compile time.
///
/// ```
/// use kafka_events::topic_name_problem;
///
/// assert_eq!(topic_name_problem("ds.core.config.compliance.1.0.0"), None);
/// assert_eq!(
///     topic_name_problem("audit log"),
///     Some("a topic name may only contain ASCII letters, digits, `.`, `_` and `-`")
/// );
/// assert!(topic_name_problem("..").is_some());
/// assert!(topic_name_problem(&"a".repeat(250)).is_some());
/// ```
pub fn topic_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a topic name can't be empty")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are reserved")
    } else if name.len() > 249 {
        Some("a topic name has at most 249 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("a topic name may only contain ASCII letters, digits, `.`, `_` and `-`")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_map_is_identity_and_a_map_is_strict() {
        assert_eq!(TopicMap::default().resolve("audit").unwrap(), "audit");
        let map = TopicMap::new([("audit".into(), "ds.audit.1".into())].into()).unwrap();
        assert_eq!(map.resolve("audit").unwrap(), "ds.audit.1");
        assert!(matches!(
            map.resolve("usage"),
            Err(EmitError::UnmappedTopic { topic }) if topic == "usage"
        ));
    }

    #[test]
    fn physical_names_are_checked() {
        let err = TopicMap::new([("audit".into(), "bad topic".into())].into()).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidTopic { .. }), "{err}");
    }
}
