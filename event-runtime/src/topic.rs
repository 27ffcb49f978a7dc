//! Logical topics and the map from them to physical topics.

use std::collections::BTreeMap;

use crate::error::{ConfigError, EmitError};

/// Maps logical topics (`#[event(topic = "audit")]`) to physical ones
/// (`ds.core.config.compliance.1.0.0`): [`KafkaConfig::topics`](crate::KafkaConfig::topics)
/// documents the rule. With an empty map every logical topic is used as the physical topic.
/// Once the map has any entry, every logical topic must be in it; an unmapped one is
/// [`EmitError::UnmappedTopic`], never a send to a topic nobody configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicMap {
    map: BTreeMap<String, String>,
}

impl TopicMap {
    /// Checks that every physical topic is a legal Kafka topic name.
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        for (logical, physical) in &map {
            if let Some(problem) = kafka_events_rules::topic_problem(physical) {
                return Err(ConfigError::InvalidTopic {
                    logical: logical.clone(),
                    physical: physical.clone(),
                    reason: problem.describe(physical),
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
