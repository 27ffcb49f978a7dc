//! The records everything else passes around: the outgoing [`Message`] and its borrowed view
//! [`MessageRef`], [`Header`]s, the [`Delivery`] the broker confirms, and the stored [`Record`]
//! read back. This module imports nothing else of the crate.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

/// Header names and values this crate writes.
///
/// ```
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer, headers};
///
/// let producer = MemoryProducer::new();
/// AuditEntry::new().emit_detached(&producer)?;
///
/// let record = &producer.records()[0];
/// assert_eq!(record.header_str(headers::CONTENT_TYPE), Some(headers::APPLICATION_JSON));
/// // What consumers of a shared topic route on.
/// assert_eq!(record.header_str(headers::EVENT_TYPE), Some("audit.log"));
/// # Ok::<(), kafka_events::EmitError>(())
/// ```
pub mod headers {
    /// Always `application/json`.
    ///
    /// ```
    /// assert_eq!(kafka_events::headers::CONTENT_TYPE, "content-type");
    /// ```
    pub const CONTENT_TYPE: &str = "content-type";
    /// The event type (`#[event(type = "..")]`), when the event has one.
    ///
    /// ```
    /// assert_eq!(kafka_events::headers::EVENT_TYPE, "event-type");
    /// ```
    pub const EVENT_TYPE: &str = "event-type";
    /// The value of [`CONTENT_TYPE`].
    ///
    /// ```
    /// assert_eq!(kafka_events::headers::APPLICATION_JSON, "application/json");
    /// ```
    pub const APPLICATION_JSON: &str = "application/json";
}

/// One record to send: a logical topic, key bytes, a JSON payload and headers.
///
/// ```
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer, Message, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // What an event serializes to: its topic, key, JSON and headers.
/// let entry = AuditEntry::new();
/// let message = Message::from_event(&entry)?;
/// assert_eq!(message.topic, "audit");
/// assert_eq!(message.key, entry.id.to_string().as_bytes());
/// assert_eq!(message.header("event-type"), Some(&b"audit.log"[..]));
///
/// // Or built by hand, and sent as it is by any producer.
/// let raw = Message::new("audit", b"key-1".to_vec(), br#"{"id":"key-1"}"#.to_vec());
/// let delivery = MemoryProducer::new().send(raw).await?;
/// assert_eq!(delivery.topic, "audit");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The logical topic; the producer maps it to a physical one.
    pub topic: Cow<'static, str>,
    /// The key bytes.
    pub key: Vec<u8>,
    /// The payload (JSON, for events).
    pub payload: Vec<u8>,
    /// Record headers, in order.
    pub headers: Vec<Header>,
}

impl Message {
    /// Calls `f` with a borrowed view of this message.
    pub fn with_ref<R>(&self, f: impl FnOnce(MessageRef<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = header_pairs(&self.headers).collect();
        f(MessageRef {
            topic: &self.topic,
            key: &self.key,
            payload: &self.payload,
            headers: &headers,
        })
    }

    /// A message without headers.
    pub fn new(topic: impl Into<Cow<'static, str>>, key: Vec<u8>, payload: Vec<u8>) -> Self {
        Message {
            topic: topic.into(),
            key,
            payload,
            headers: Vec::new(),
        }
    }

    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }
}

/// Headers as name/value pairs, the form librdkafka and the spool take.
pub(crate) fn header_pairs(headers: &[Header]) -> impl ExactSizeIterator<Item = (&str, &[u8])> {
    headers.iter().map(|h| (h.name.as_ref(), h.value.as_ref()))
}

/// The value of the first header named `name`.
pub(crate) fn find_header<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_ref())
}

impl From<MessageRef<'_>> for Message {
    fn from(message: MessageRef<'_>) -> Self {
        Message {
            topic: message.topic.to_owned().into(),
            key: message.key.to_vec(),
            payload: message.payload.to_vec(),
            headers: message
                .headers
                .iter()
                .map(|(name, value)| Header::new(name.to_string(), value.to_vec()))
                .collect(),
        }
    }
}

/// A borrowed view of a record, for [`Producer::send_detached`](crate::Producer::send_detached): nothing is copied until the
/// producer copies it into its queue.
///
/// ```
/// use kafka_events::{MemoryProducer, MessageRef, Producer};
///
/// let producer = MemoryProducer::new();
/// producer.send_detached(MessageRef {
///     topic: "orders",
///     key: b"order-42",
///     payload: br#"{"order_id":42}"#,
///     headers: &[("content-type", &b"application/json"[..])],
/// })?;
///
/// let record = &producer.records()[0];
/// assert_eq!(record.key_str(), Some("order-42"));
/// assert_eq!(record.header_str("content-type"), Some("application/json"));
/// # Ok::<(), kafka_events::EmitError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MessageRef<'a> {
    /// The logical topic.
    pub topic: &'a str,
    /// The key bytes.
    pub key: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
    /// Header names and values, in order.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// A record whose parts are borrowed from somewhere else (a spool segment, a delivery report),
/// with its headers collected, so it can be viewed as a [`MessageRef`].
pub(crate) struct BorrowedRecord<'a> {
    pub topic: &'a str,
    pub key: &'a [u8],
    pub payload: &'a [u8],
    pub headers: Vec<(&'a str, &'a [u8])>,
}

impl BorrowedRecord<'_> {
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            topic: self.topic,
            key: self.key,
            payload: self.payload,
            headers: &self.headers,
        }
    }

    pub fn to_message(&self) -> Message {
        self.as_ref().into()
    }
}

/// A record header.
///
/// ```
/// use kafka_events::{Header, MemoryProducer, Message, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut message = Message::new("orders", b"order-42".to_vec(), br#"{"order_id":42}"#.to_vec());
/// message.headers.push(Header::from_static("content-type", "application/json"));
/// let tenant = String::from("acme"); // known at run time
/// message.headers.push(Header::new("x-tenant", tenant));
/// assert_eq!(message.header("x-tenant"), Some(&b"acme"[..]));
///
/// let producer = MemoryProducer::new();
/// producer.send(message).await?;
/// let record = &producer.records()[0];
/// assert_eq!(record.headers[0], Header::new("content-type", "application/json"));
/// assert_eq!(record.header_str("x-tenant"), Some("acme"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The header name.
    pub name: Cow<'static, str>,
    /// The header value.
    pub value: Cow<'static, [u8]>,
}

impl Header {
    /// A header with owned or borrowed parts.
    pub fn new(name: impl Into<Cow<'static, str>>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            name: name.into(),
            value: Cow::Owned(value.into()),
        }
    }

    /// A header from static strings, without allocating.
    pub const fn from_static(name: &'static str, value: &'static str) -> Self {
        Header {
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value.as_bytes()),
        }
    }
}

/// Where the broker stored a record.
///
/// ```
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::with_topics([("audit".into(), "ds.audit.1".into())].into())?;
/// let first = AuditEntry::new().emit(&producer).await?;
/// let second = AuditEntry::new().emit(&producer).await?;
/// assert_eq!(first.topic, "ds.audit.1"); // the physical topic
/// assert_eq!((second.partition, second.offset), (first.partition, first.offset + 1));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The physical topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
}

/// A stored record: where it landed, its key, payload and headers.
///
/// ```
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
///
/// let producer = MemoryProducer::new();
/// let entry = AuditEntry { service: "orders-api".into(), ..AuditEntry::new() };
/// entry.emit_detached(&producer)?;
///
/// let record = &producer.records()[0];
/// assert_eq!((record.topic.as_str(), record.partition, record.offset), ("audit", 0, 0));
/// assert_eq!(record.key_str(), Some(entry.id.to_string().as_str()));
/// assert_eq!(record.header_str("event-type"), Some("audit.log"));
/// assert_eq!(record.json()?["service"], "orders-api");
/// assert_eq!(record.decode::<AuditEntry>()?, entry);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The physical topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The key bytes (empty when the record had none).
    pub key: Vec<u8>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }

    /// The value of the first header with this name, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The key as UTF-8 text.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }

    /// The payload as a JSON value.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }

    /// The payload decoded as `T`. A record in the `EventJson` envelope (header
    /// `message-type: Event`) decodes whole when `T` reads envelopes (the models do), and
    /// otherwise its `payload`, the event's own JSON, decodes as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let whole = serde_json::from_slice(&self.payload);
        if whole.is_ok() || self.header_str("message-type") != Some("Event") {
            return whole;
        }
        #[derive(serde::Deserialize)]
        struct Enveloped<T> {
            payload: T,
        }
        serde_json::from_slice::<Enveloped<T>>(&self.payload).map(|e| e.payload)
    }
}
