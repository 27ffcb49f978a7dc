//! What an event sends, said once: its JSON (with its `#[event(redact)]` fields masked), its
//! key, its logical topic, and the `content-type` and `event-type` headers; or, when the
//! producer writes the topic in the `EventJson` envelope, the envelope around the event's
//! payload, keyed by the envelope's id, with the `message-type` header too. `emit` (through
//! [`to_message`]) and `emit_detached` (through [`with_encoded`]) both take it from [`encode`],
//! so the two can never send different things.

use std::borrow::Cow;
use std::cell::RefCell;

use crate::envelope::{self, EnvelopeFields, EnvelopeSettings};
use crate::error::EmitError;
use crate::key::Key;
use crate::message::{Header, Message, MessageRef, headers};

/// What a record needs to know about its event besides its JSON (what
/// [`KafkaEvent`](crate::KafkaEvent) says of it).
pub(crate) struct EventInfo<'e> {
    /// Appends the event's flat JSON (`KafkaEvent::write_json`).
    pub json: &'e JsonWriter<'e>,
    pub topic: &'static str,
    pub key: Key<'e>,
    /// The fixed type (`#[event(type = "..")]`), which needs no copy.
    pub fixed_type: Option<&'static str>,
    pub event_type: Option<&'e str>,
    /// Set when the producer writes the topic in the envelope.
    pub envelope: Option<Enveloped<'e>>,
}

/// Appends JSON to a buffer: an event's own, or its envelope's payload.
pub(crate) type JsonWriter<'e> = dyn Fn(&mut Vec<u8>) -> Result<(), serde_json::Error> + 'e;

/// What the envelope of an event is made of.
pub(crate) struct Enveloped<'e> {
    pub settings: &'e EnvelopeSettings,
    pub fields: EnvelopeFields<'e>,
    /// Appends the envelope's payload (by default the event's JSON, masked).
    pub payload: &'e JsonWriter<'e>,
}

/// An encoded event: its JSON is in the caller's buffer; the rest is borrowed from the event.
pub(crate) struct Encoded<'e, 'b> {
    topic: &'static str,
    key: Key<'e>,
    payload: &'b [u8],
    /// The fixed type (`#[event(type = "..")]`), which needs no copy.
    fixed_type: Option<&'static str>,
    event_type: Option<&'e str>,
    /// In the envelope: the record carries the `message-type` header.
    enveloped: bool,
}

/// Serializes the event into `buffer` (appended) and borrows everything else a record needs.
pub(crate) fn encode<'e, 'b>(
    info: EventInfo<'e>,
    buffer: &'b mut Vec<u8>,
) -> Result<Encoded<'e, 'b>, EmitError> {
    let start = buffer.len();
    let key = match &info.envelope {
        None => {
            (info.json)(buffer).map_err(EmitError::Serialize)?;
            info.key
        }
        Some(enveloped) => {
            let event_type = enveloped.fields.event_type.or(info.event_type);
            let id = envelope::write(
                buffer,
                info.topic,
                enveloped.settings,
                event_type.unwrap_or_default(),
                &enveloped.fields,
                enveloped.payload,
            )?;
            Key::uuid(id)
        }
    };
    Ok(Encoded {
        topic: info.topic,
        key,
        payload: &buffer[start..],
        fixed_type: info.fixed_type,
        event_type: info.event_type,
        enveloped: info.envelope.is_some(),
    })
}

impl Encoded<'_, '_> {
    /// Calls `f` with the record as a [`MessageRef`], its headers on the stack.
    pub fn with_ref<R>(&self, f: impl FnOnce(MessageRef<'_>) -> R) -> R {
        let mut message_headers: [(&str, &[u8]); 3] =
            [(headers::CONTENT_TYPE, headers::APPLICATION_JSON.as_bytes()); 3];
        let mut count = 1;
        if let Some(event_type) = self.event_type {
            message_headers[count] = (headers::EVENT_TYPE, event_type.as_bytes());
            count += 1;
        }
        if self.enveloped {
            let (name, value) = envelope::MESSAGE_TYPE;
            message_headers[count] = (name, value.as_bytes());
            count += 1;
        }
        f(MessageRef {
            topic: self.topic,
            key: self.key.as_bytes(),
            payload: self.payload,
            headers: &message_headers[..count],
        })
    }

    /// The record's headers, owned.
    fn headers(&self) -> Vec<Header> {
        let mut owned = Vec::with_capacity(3);
        owned.push(Header::from_static(
            headers::CONTENT_TYPE,
            headers::APPLICATION_JSON,
        ));
        match (self.fixed_type, self.event_type) {
            (Some(fixed), _) => owned.push(Header::from_static(headers::EVENT_TYPE, fixed)),
            (None, Some(dynamic)) => {
                owned.push(Header::new(headers::EVENT_TYPE, dynamic.to_owned()));
            }
            (None, None) => {}
        }
        if self.enveloped {
            let (name, value) = envelope::MESSAGE_TYPE;
            owned.push(Header::from_static(name, value));
        }
        owned
    }
}

/// Encodes `event` into a buffer reused by the calling thread and calls `f` with the record:
/// the only copy per event is the one `f` makes (a producer's queue).
pub(crate) fn with_encoded<R>(
    info: EventInfo<'_>,
    f: impl FnOnce(MessageRef<'_>) -> R,
) -> Result<R, EmitError> {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let run = |buffer: &mut Vec<u8>| -> Result<R, EmitError> {
        let encoded = encode(info, buffer)?;
        Ok(encoded.with_ref(f))
    };
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            let result = run(&mut buffer);
            // Keep the buffer's capacity for the next event, unless one event was huge.
            if buffer.capacity() > 1 << 20 {
                *buffer = Vec::new();
            }
            result
        }
        // Re-entered from inside a producer or a Serialize impl: use a fresh buffer.
        Err(_) => run(&mut Vec::new()),
    })
}

/// The owned record for `event`, as `emit` sends it.
pub(crate) fn to_message(info: EventInfo<'_>) -> Result<Message, EmitError> {
    let topic = info.topic;
    let mut payload = Vec::new();
    let (key, headers) = {
        let encoded = encode(info, &mut payload)?;
        (encoded.key.as_bytes().to_vec(), encoded.headers())
    };
    Ok(Message {
        topic: Cow::Borrowed(topic),
        key,
        payload,
        headers,
    })
}
