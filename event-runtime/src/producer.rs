//! The [`Producer`] trait: send one record, get its delivery or a typed error; close with a
//! deadline. It is object-safe, so `Arc<dyn Producer>` works.
//!
//! ```
//! use std::sync::Arc;
//! use kafka_events::{MemoryProducer, Message, Producer};
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! # rt.block_on(async {
//! let producer: Arc<dyn Producer> = Arc::new(MemoryProducer::new());
//! let delivery = producer
//!     .send(Message::new("audit", b"key-1".to_vec(), br#"{"id":"key-1"}"#.to_vec()))
//!     .await?;
//! assert_eq!((delivery.topic.as_str(), delivery.offset), ("audit", 0));
//! producer.close(std::time::Duration::from_secs(1)).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{CloseError, CloseReport, EmitError};

/// Header names and values this crate writes.
pub mod headers {
    /// Always `application/json`.
    pub const CONTENT_TYPE: &str = "content-type";
    /// The event type (`#[event(type = "..")]`), when the event has one.
    pub const EVENT_TYPE: &str = "event-type";
    /// The value of [`CONTENT_TYPE`].
    pub const APPLICATION_JSON: &str = "application/json";
}

/// One record to send: a logical topic, key bytes, a JSON payload and headers.
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

/// A borrowed view of a record, for [`Producer::send_detached`]: nothing is copied until the
/// producer copies it into its queue.
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

/// A record header.
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The physical topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
}

/// The future [`Producer::send`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Delivery, EmitError>> + Send + 'a>>;

/// The future [`Producer::close`] returns.
pub type CloseFuture<'a> =
    Pin<Box<dyn Future<Output = Result<CloseReport, CloseError>> + Send + 'a>>;

/// Sends records to Kafka (or somewhere that behaves like it, such as
/// [`MemoryProducer`](crate::MemoryProducer)).
///
/// The typed form of the Go package's `Producer` (`Send(ctx, key, value)`, `Close()`): events call
/// it through [`KafkaEvent::emit`](crate::KafkaEvent::emit).
pub trait Producer: Send + Sync {
    /// Sends one record and resolves with its delivery once the broker acknowledged it, or
    /// with an error once the delivery deadline has passed.
    fn send(&self, message: Message) -> SendFuture<'_>;

    /// Hands one record to the producer's bounded pipeline and returns at once. The outcome is
    /// handled in the background (logged, counted, and for [`KafkaProducer`](crate::KafkaProducer)
    /// spooled when it fails); an error here means the record was not taken.
    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError>;

    /// Stops taking records and waits up to `timeout` for those in flight; what is still
    /// undelivered then is spooled or handed back in the error. Sending after `close` fails
    /// with [`EmitError::Closed`].
    fn close(&self, timeout: Duration) -> CloseFuture<'_>;
}

macro_rules! forward_producer {
    ($($ptr:ty),*) => {$(
        impl<P: Producer + ?Sized> Producer for $ptr {
            fn send(&self, message: Message) -> SendFuture<'_> {
                (**self).send(message)
            }

            fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
                (**self).send_detached(message)
            }

            fn close(&self, timeout: Duration) -> CloseFuture<'_> {
                (**self).close(timeout)
            }
        }
    )*};
}

forward_producer!(&P, Box<P>, Arc<P>);
