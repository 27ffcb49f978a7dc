//! The [`KafkaEvent`] trait that `#[derive(KafkaEvent)]` implements, and event keys.
//!
//! ```
//! use kafka_events::{KafkaEvent, MemoryProducer};
//! use serde::Serialize;
//!
//! #[derive(Serialize, KafkaEvent)]
//! #[event(topic = "orders", key = "order_id", type = "order.placed")]
//! struct OrderPlaced {
//!     order_id: u64,
//!     total_cents: i64,
//! }
//!
//! assert_eq!(OrderPlaced::TOPIC, "orders");
//! assert_eq!(OrderPlaced::FIELD_NAMES, ["order_id", "total_cents"]);
//! let event = OrderPlaced { order_id: 42, total_cents: 1999 };
//! assert_eq!(event.key().as_ref(), b"42");
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let producer = MemoryProducer::new();
//! let delivery = event.emit(&producer).await?;
//! assert_eq!(delivery.topic, "orders");
//! # Ok::<(), kafka_events::EmitError>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::error::EmitError;
use crate::message::{Header, Message, MessageRef, headers};
use crate::producer::{Producer, SendFuture};

/// A typed event with a fixed Kafka topic and key. Derive it with `#[derive(KafkaEvent)]`.
///
/// The derive checks at compile time that the topic is a legal Kafka topic name, that the key
/// field exists, is always serialized and has a key type ([`EventKey`]), and that every JSON field
/// name (as serde writes it) follows the naming convention and is unique.
///
/// ```
/// use kafka_events::{KafkaEvent, MemoryProducer};
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent)]
/// #[event(topic = "billing.invoices", key = "invoice_id", type = "invoice.issued")]
/// struct InvoiceIssued {
///     invoice_id: uuid::Uuid,
///     amount_cents: i64,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let invoice = InvoiceIssued { invoice_id: uuid::Uuid::new_v4(), amount_cents: 1999 };
/// invoice.emit_detached(&producer)?;
///
/// let record = &producer.records()[0];
/// assert_eq!(record.topic, "billing.invoices");
/// assert_eq!(record.key, invoice.invoice_id.to_string().as_bytes());
/// assert_eq!(record.header("event-type"), Some(&b"invoice.issued"[..]));
/// # Ok(())
/// # }
/// ```
pub trait KafkaEvent: Serialize {
    /// The logical topic. A producer maps it to a physical topic (see
    /// [`KafkaConfig::topics`](crate::KafkaConfig::topics)); without a mapping it is the topic.
    const TOPIC: &'static str;
    /// The JSON field names, as serde writes them, in declaration order. Skipped fields are left
    /// out; `skip_serializing_if` fields are kept, since they may appear.
    const FIELD_NAMES: &'static [&'static str];
    /// The fixed event type, from `#[event(type = "..")]`, sent as the
    /// [`event-type`](headers::EVENT_TYPE) header.
    const EVENT_TYPE: Option<&'static str>;
    /// Every value the [`event-type`](headers::EVENT_TYPE) header of this event can take: the
    /// fixed type, or the values an `#[event(type)]` field takes as `#[event(types = [..])]`
    /// lists them. Empty when not known. [`MemoryProducer::events`](crate::MemoryProducer::events)
    /// picks this event's records out of a shared topic by it.
    const EVENT_TYPES: &'static [&'static str] = &[];
    /// The JSON names of the fields marked `#[event(redact)]`: the record has `"***"` in their
    /// place.
    const REDACTED: &'static [&'static str] = &[];

    /// The record key: the key field in its canonical string form.
    fn key(&self) -> Key<'_>;

    /// This event's type: [`EVENT_TYPE`](Self::EVENT_TYPE), or the value of the field marked
    /// `#[event(type)]`.
    fn event_type(&self) -> Option<&str> {
        Self::EVENT_TYPE
    }

    /// Serializes the event into a [`Message`] on its logical topic, with its key and the
    /// `content-type` and `event-type` headers.
    fn to_message(&self) -> Result<Message, EmitError> {
        let mut payload = Vec::new();
        crate::redact::to_writer(&mut payload, self, Self::REDACTED)
            .map_err(EmitError::Serialize)?;
        let mut message_headers = Vec::with_capacity(2);
        message_headers.push(Header::from_static(
            headers::CONTENT_TYPE,
            headers::APPLICATION_JSON,
        ));
        match Self::EVENT_TYPE {
            Some(fixed) => message_headers.push(Header::from_static(headers::EVENT_TYPE, fixed)),
            None => {
                if let Some(dynamic) = self.event_type() {
                    message_headers.push(Header::new(headers::EVENT_TYPE, dynamic.to_owned()));
                }
            }
        }
        Ok(Message {
            topic: Cow::Borrowed(Self::TOPIC),
            key: self.key().as_ref().to_vec(),
            payload,
            headers: message_headers,
        })
    }

    /// Serializes the event and sends it, resolving once the broker has acknowledged it (for
    /// [`KafkaProducer`](crate::KafkaProducer): `acks=all`, within its delivery timeout) or with
    /// a typed error.
    ///
    /// The event is serialized before this returns, so the future does not borrow it.
    fn emit<'p, P>(&self, producer: &'p P) -> SendFuture<'p>
    where
        P: Producer + ?Sized,
        Self: Sized,
    {
        match self.to_message() {
            Ok(message) => producer.send(message),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    /// Serializes the event and hands it to the producer's bounded pipeline without waiting:
    /// no `.await`, no task. Delivery is handled in the background: failures are logged and
    /// counted, and with a spool configured the record is kept on disk until the broker takes
    /// it. An error means the record was not taken (it can't be serialized, its topic is not
    /// mapped, it is too large, the producer is closed, or the overflow policy refused it).
    ///
    /// This is what request middleware calls. The JSON is written into a buffer reused by the
    /// calling thread, so the only copy per event is the one the producer's queue makes.
    fn emit_detached<P>(&self, producer: &P) -> Result<(), EmitError>
    where
        P: Producer + ?Sized,
        Self: Sized,
    {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffer) => {
                buffer.clear();
                let result = send_detached(self, producer, &mut buffer);
                // Keep the buffer's capacity for the next event, unless one event was huge.
                if buffer.capacity() > 1 << 20 {
                    *buffer = Vec::new();
                }
                result
            }
            // Re-entered from inside a producer or a Serialize impl: use a fresh buffer.
            Err(_) => send_detached(self, producer, &mut Vec::new()),
        })
    }
}

fn send_detached<E, P>(event: &E, producer: &P, buffer: &mut Vec<u8>) -> Result<(), EmitError>
where
    E: KafkaEvent,
    P: Producer + ?Sized,
{
    crate::redact::to_writer(&mut *buffer, event, E::REDACTED).map_err(EmitError::Serialize)?;
    let key = event.key();
    let content_type = (headers::CONTENT_TYPE, headers::APPLICATION_JSON.as_bytes());
    let with_type;
    let only_content_type;
    let message_headers: &[(&str, &[u8])] = match event.event_type() {
        Some(event_type) => {
            with_type = [content_type, (headers::EVENT_TYPE, event_type.as_bytes())];
            &with_type
        }
        None => {
            only_content_type = [content_type];
            &only_content_type
        }
    };
    producer.send_detached(MessageRef {
        topic: E::TOPIC,
        key: key.as_bytes(),
        payload: buffer,
        headers: message_headers,
    })
}

/// The bytes of an event key, borrowed from the event or formatted into an inline buffer (UUIDs
/// and integers), so that taking a key does not allocate.
///
/// ```
/// use kafka_events::{AuditEntry, EventKey, KafkaEvent, Key};
///
/// let entry = AuditEntry::new();
/// // An event's key is its key field in canonical form: here, the hyphenated UUID.
/// assert_eq!(entry.key(), entry.id.to_key());
/// assert_eq!(entry.key().as_bytes(), entry.id.to_string().as_bytes());
///
/// let key = Key::borrowed(b"tenant-7");
/// assert_eq!(key.as_bytes(), b"tenant-7");
/// assert_eq!(format!("{:?}", 42u64.to_key()), r#"Key("42")"#);
/// ```
#[derive(Clone)]
pub struct Key<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a [u8]),
    Inline { buf: [u8; Key::INLINE], len: u8 },
}

impl<'a> Key<'a> {
    /// Long enough for a hyphenated UUID (36) and any `i128` (40).
    const INLINE: usize = 40;

    /// A key made of these bytes.
    pub fn borrowed(bytes: &'a [u8]) -> Self {
        Key(Repr::Borrowed(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Borrowed(bytes) => bytes,
            Repr::Inline { buf, len } => &buf[..usize::from(*len)],
        }
    }

    fn inline(bytes: &[u8]) -> Key<'static> {
        let mut buf = [0u8; Key::INLINE];
        buf[..bytes.len()].copy_from_slice(bytes);
        Key(Repr::Inline {
            buf,
            len: bytes.len() as u8,
        })
    }
}

impl AsRef<[u8]> for Key<'_> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key<'_> {}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => write!(f, "Key({text:?})"),
            Err(_) => write!(f, "Key({:?})", self.as_bytes()),
        }
    }
}

/// A type that can key a Kafka record. Key bytes are the canonical string form the Go services
/// send: a hyphenated lower-case UUID, a decimal integer, a string as it is.
///
/// Implement it for your own id newtypes by delegating to the inner value.
///
/// ```
/// use kafka_events::{EventKey, KafkaEvent, Key};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct TenantId(uuid::Uuid);
///
/// impl EventKey for TenantId {
///     fn to_key(&self) -> Key<'_> {
///         self.0.to_key()
///     }
/// }
///
/// #[derive(Serialize, KafkaEvent)]
/// #[event(topic = "tenants", key = "tenant_id", type = "tenant.created")]
/// struct TenantCreated {
///     tenant_id: TenantId,
///     name: String,
/// }
///
/// let id = uuid::Uuid::new_v4();
/// let created = TenantCreated { tenant_id: TenantId(id), name: "acme".into() };
/// assert_eq!(created.key().as_bytes(), id.to_string().as_bytes());
/// assert_eq!((-7i64).to_key().as_bytes(), b"-7");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a Kafka event key",
    label = "not a key type",
    note = "a key field must be a `Uuid`, `String`, `&str`, `Cow<str>` or an integer (or implement `EventKey`)",
    note = "an `Option` is never a key: a Kafka event key is never absent"
)]
pub trait EventKey {
    /// The key bytes.
    fn to_key(&self) -> Key<'_>;
}

impl EventKey for Uuid {
    fn to_key(&self) -> Key<'_> {
        let mut buf = Uuid::encode_buffer();
        Key::inline(self.hyphenated().encode_lower(&mut buf).as_bytes())
    }
}

impl EventKey for str {
    fn to_key(&self) -> Key<'_> {
        Key::borrowed(self.as_bytes())
    }
}

macro_rules! string_keys {
    ($($ty:ty),*) => {$(
        impl EventKey for $ty {
            fn to_key(&self) -> Key<'_> {
                Key::borrowed(AsRef::<str>::as_ref(self).as_bytes())
            }
        }
    )*};
}

string_keys!(String, Cow<'_, str>, Box<str>, Arc<str>, Rc<str>);

macro_rules! integer_keys {
    ($($ty:ty),*) => {$(
        impl EventKey for $ty {
            fn to_key(&self) -> Key<'_> {
                Key::inline(itoa::Buffer::new().format(*self).as_bytes())
            }
        }
    )*};
}

integer_keys!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl<T: EventKey + ?Sized> EventKey for &T {
    fn to_key(&self) -> Key<'_> {
        (**self).to_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_key_bytes() {
        let id = Uuid::parse_str("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(
            id.to_key().as_bytes(),
            b"6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
        assert_eq!(
            i128::MIN.to_key().as_bytes(),
            i128::MIN.to_string().as_bytes()
        );
        assert_eq!(
            u128::MAX.to_key().as_bytes(),
            u128::MAX.to_string().as_bytes()
        );
        assert_eq!((-7i32).to_key().as_bytes(), b"-7");
        assert_eq!("tenant-1".to_key().as_bytes(), b"tenant-1");
        assert_eq!(String::from("x").to_key().as_bytes(), b"x");
        assert_eq!(Cow::Borrowed("y").to_key().as_bytes(), b"y");
        assert_eq!(format!("{:?}", 5u8.to_key()), "Key(\"5\")");
    }
}
