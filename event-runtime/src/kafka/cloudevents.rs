//! CloudEvents in binary mode (the CloudEvents Kafka protocol binding, v1.0.2): with
//! [`KafkaConfig::cloudevents`](crate::KafkaConfig::cloudevents) set, every record gets the
//! `ce_` headers of its event's attributes, added when it is emitted (a record spooled and
//! replayed later keeps them), and the payload stays the JSON it was, so consumers that know
//! nothing of CloudEvents read the same bytes. The record's own `content-type` header is the
//! event's `datacontenttype`.
//!
//! | header | attribute | value |
//! | --- | --- | --- |
//! | `ce_specversion` | `specversion` | `1.0` |
//! | `ce_id` | `id` | a fresh UUID per record |
//! | `ce_source` | `source` | the configured source (a URI-reference) |
//! | `ce_type` | `type` | the event type (`event-type` header), or the logical topic without one |
//! | `ce_time` | `time` | when it was emitted, RFC 3339 in UTC |

use chrono::{SecondsFormat, Utc};

use crate::error::ConfigError;
use crate::message::{Header, Message, MessageRef};

/// The CloudEvents spec version the headers follow.
pub const SPEC_VERSION: &str = "1.0";

/// The header that carries the event type (see `encode.rs`).
const EVENT_TYPE: &str = "event-type";

/// What a producer adds to each record.
#[derive(Debug)]
pub(super) struct CloudEvents {
    source: String,
}

impl CloudEvents {
    /// From the configured source; an empty or blank one is refused (CloudEvents requires a
    /// non-empty `source`).
    pub fn new(source: &str) -> Result<Self, ConfigError> {
        if source.trim().is_empty() || source.chars().any(char::is_control) {
            return Err(ConfigError::CloudEvents {
                reason: "`cloudevents` (the CloudEvents `source`) must be a non-empty \
                         URI-reference without control characters, e.g. `/billing-api` or \
                         `https://billing.example.com`"
                    .into(),
            });
        }
        Ok(CloudEvents {
            source: source.to_owned(),
        })
    }

    /// The `ce_` headers of a record, in the binding's order.
    fn headers(&self, topic: &str, event_type: Option<&[u8]>) -> [(&'static str, Vec<u8>); 5] {
        let kind = event_type.map_or_else(|| topic.as_bytes().to_vec(), <[u8]>::to_vec);
        [
            ("ce_specversion", SPEC_VERSION.as_bytes().to_vec()),
            ("ce_id", uuid::Uuid::new_v4().to_string().into_bytes()),
            ("ce_source", self.source.as_bytes().to_vec()),
            ("ce_type", kind),
            (
                "ce_time",
                Utc::now()
                    .to_rfc3339_opts(SecondsFormat::Micros, true)
                    .into_bytes(),
            ),
        ]
    }

    /// Adds the headers to an owned record (an awaited emit).
    pub fn stamp(&self, message: &mut Message) {
        let event_type = message
            .headers
            .iter()
            .find(|h| h.name == EVENT_TYPE)
            .map(|h| h.value.to_vec());
        for (name, value) in self.headers(&message.topic, event_type.as_deref()) {
            message.headers.push(Header::new(name, value));
        }
    }

    /// Runs `send` with the record and its headers (a detached emit).
    pub fn with_stamped<R>(
        &self,
        message: MessageRef<'_>,
        send: impl FnOnce(MessageRef<'_>) -> R,
    ) -> R {
        let event_type = message
            .headers
            .iter()
            .find(|(name, _)| *name == EVENT_TYPE)
            .map(|(_, value)| *value);
        let added = self.headers(message.topic, event_type);
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(message.headers.len() + 5);
        headers.extend_from_slice(message.headers);
        headers.extend(added.iter().map(|(name, value)| (*name, value.as_slice())));
        send(MessageRef {
            headers: &headers,
            ..message
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_source_is_refused() {
        for source in ["", "  ", "a\nb"] {
            assert!(matches!(
                CloudEvents::new(source),
                Err(ConfigError::CloudEvents { .. })
            ));
        }
    }

    #[test]
    fn both_paths_add_the_same_attributes_after_the_record_s_own_headers() {
        let ce = CloudEvents::new("/billing").unwrap();
        let mut owned = Message {
            topic: "audit".into(),
            key: b"k".to_vec(),
            payload: b"{}".to_vec(),
            headers: vec![
                Header::new("content-type", b"application/json".to_vec()),
                Header::new("event-type", b"audit.log".to_vec()),
            ],
        };
        ce.stamp(&mut owned);
        let names: Vec<&str> = owned.headers.iter().map(|h| h.name.as_ref()).collect();
        let borrowed_names = owned.with_ref(|m| {
            let first_two = MessageRef {
                headers: &m.headers[..2],
                ..m
            };
            ce.with_stamped(first_two, |m| {
                m.headers
                    .iter()
                    .map(|(n, _)| n.to_string())
                    .collect::<Vec<_>>()
            })
        });
        assert_eq!(names, borrowed_names);
        assert_eq!(
            &names[2..],
            ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"]
        );
        let value = |name: &str| {
            owned
                .headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| String::from_utf8(h.value.to_vec()).unwrap())
                .unwrap()
        };
        assert_eq!(value("ce_type"), "audit.log");
        assert_eq!(value("ce_source"), "/billing");
        assert!(chrono::DateTime::parse_from_rfc3339(&value("ce_time")).is_ok());
        assert!(uuid::Uuid::parse_str(&value("ce_id")).is_ok());
    }

    #[test]
    fn an_event_without_a_type_is_typed_by_its_topic() {
        let ce = CloudEvents::new("/billing").unwrap();
        let mut owned = Message {
            topic: "orders".into(),
            key: Vec::new(),
            payload: b"{}".to_vec(),
            headers: Vec::new(),
        };
        ce.stamp(&mut owned);
        let kind = owned.headers.iter().find(|h| h.name == "ce_type").unwrap();
        assert_eq!(kind.value.as_ref(), b"orders");
    }
}
