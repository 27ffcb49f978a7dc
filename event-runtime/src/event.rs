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

use serde::Serialize;

use crate::encode::{self, Enveloped, EventInfo, JsonWriter};
use crate::envelope::{EnvelopeFields, EnvelopeSettings};
use crate::error::EmitError;
use crate::key::Key;
use crate::message::Message;
use crate::producer::{Producer, SendFuture};

/// A typed event with a fixed Kafka topic and key. Derive it with `#[derive(KafkaEvent)]`.
///
/// The derive checks at compile time that the topic is a legal Kafka topic name, that the key
/// field exists, is always serialized and has a key type ([`EventKey`](crate::EventKey)), and that every JSON field
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
    /// [`event-type`](crate::headers::EVENT_TYPE) header.
    const EVENT_TYPE: Option<&'static str>;
    /// Every value the [`event-type`](crate::headers::EVENT_TYPE) header of this event can take: the
    /// fixed type, or the values an `#[event(type)]` field takes as `#[event(types = [..])]`
    /// lists them. Empty when not known. [`MemoryProducer::events`](crate::MemoryProducer::events)
    /// picks this event's records out of a shared topic by it.
    const EVENT_TYPES: &'static [&'static str] = &[];
    /// The JSON names of the fields marked `#[event(redact)]`: the record has `"***"` in their
    /// place.
    const REDACTED: &'static [&'static str] = &[];
    /// The JSON name of the key field (`key = ".."`), when known. The event's contract (feature
    /// `schema`) records it and describes the record key from it.
    ///
    /// ```
    /// use kafka_events::{AuditEntry, KafkaEvent};
    ///
    /// assert_eq!(AuditEntry::KEY_FIELD, Some("id"));
    /// ```
    const KEY_FIELD: Option<&'static str> = None;
    /// `#[serde(tag = "..")]` on the struct: the key serde adds to the JSON object, and the
    /// value it writes there (the struct's serde name).
    ///
    /// ```
    /// use kafka_events::KafkaEvent;
    /// use serde::Serialize;
    ///
    /// #[derive(Serialize, KafkaEvent)]
    /// #[serde(tag = "kind")]
    /// #[event(topic = "orders", key = "id")]
    /// struct OrderPlaced {
    ///     id: u64,
    /// }
    ///
    /// assert_eq!(OrderPlaced::TAG, Some(("kind", "OrderPlaced")));
    /// ```
    const TAG: Option<(&'static str, &'static str)> = None;
    /// The committed contract file this event was checked against at compile time
    /// (`#[event(contract = "..")]`), relative to the crate root. The contract check (feature
    /// `schema`) compares the event with this file.
    ///
    /// ```
    /// use kafka_events::{AuditEntry, KafkaEvent};
    ///
    /// assert_eq!(AuditEntry::CONTRACT, Some("contracts/audit/audit.log.json"));
    /// ```
    const CONTRACT: Option<&'static str> = None;

    /// The record key: the key field in its canonical string form.
    fn key(&self) -> Key<'_>;

    /// This event's type: [`EVENT_TYPE`](Self::EVENT_TYPE), or the value of the field marked
    /// `#[event(type)]`.
    fn event_type(&self) -> Option<&str> {
        Self::EVENT_TYPE
    }

    /// What this event puts in the `EventJson` envelope besides its payload, when a producer
    /// writes its topic in the envelope (see [`WireFormat`](crate::envelope::WireFormat)). By
    /// default nothing: a fresh id, zero tenant, request and session ids, the time of the emit.
    /// The derive takes it from `#[event(envelope_with = "module")]` (`module::fields`); the
    /// models set what the Go middleware sets.
    fn envelope_fields(&self) -> EnvelopeFields<'_> {
        EnvelopeFields::default()
    }

    /// Appends the event's JSON as its flat record carries it: the fields marked
    /// `#[event(redact)]` written as `"***"` ([`masked_json`] calls it).
    ///
    /// By default through the event's `Serialize` impl and `serde_json`. Under
    /// `#[event(fast_json)]` the derive writes it with code generated for the struct: its keys
    /// escaped at compile time, strings, numbers, booleans, UUIDs and raw JSON written without
    /// serde's calls, other values through their `Serialize` impls; the same bytes as
    /// `serde_json` writes for the derived `Serialize`, in less time (see BENCHMARKS.md).
    ///
    /// ```
    /// use kafka_events::KafkaEvent;
    ///
    /// #[derive(serde::Serialize, KafkaEvent)]
    /// #[event(topic = "payments", key = "id", fast_json)]
    /// struct Charged {
    ///     id: u64,
    ///     note: Option<String>,
    ///     #[event(redact)]
    ///     card_token: String,
    /// }
    ///
    /// let charged = Charged { id: 1, note: Some("first \"charge\"".into()), card_token: "tok_1".into() };
    /// let mut out = Vec::new();
    /// charged.write_json(&mut out)?;
    /// assert_eq!(out, br#"{"id":1,"note":"first \"charge\"","card_token":"***"}"#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>
    where
        Self: Sized,
    {
        crate::redact::to_writer(out, self, Self::REDACTED)
    }

    /// Appends the envelope's `payload`, a JSON object: by default the event's own JSON (fields
    /// marked `#[event(redact)]` written as `"***"`). The derive takes it from
    /// `#[event(envelope_with = "module")]` (`module::write_payload`); the models write the
    /// payload keys of the Go middleware's event types.
    fn write_envelope_payload(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>
    where
        Self: Sized,
    {
        masked_json(self, out)
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
        let envelope = producer.envelope_for(Self::TOPIC);
        let json = |out: &mut Vec<u8>| self.write_json(out);
        let payload = |out: &mut Vec<u8>| self.write_envelope_payload(out);
        match encode::to_message(info(self, &json, envelope, &payload)) {
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
        let envelope = producer.envelope_for(Self::TOPIC);
        let json = |out: &mut Vec<u8>| self.write_json(out);
        let payload = |out: &mut Vec<u8>| self.write_envelope_payload(out);
        encode::with_encoded(info(self, &json, envelope, &payload), |message| {
            producer.send_detached(message)
        })?
    }
}

/// Appends `event`'s JSON as its flat record has it: the fields marked `#[event(redact)]`
/// written as `"***"`. What the default envelope payload is, and what a
/// `#[event(envelope_with = "..")]` module's `write_payload` should call when the payload is
/// the event's own JSON: it gets the event unmasked.
///
/// ```
/// use kafka_events::{KafkaEvent, masked_json};
///
/// #[derive(serde::Serialize, KafkaEvent)]
/// #[event(topic = "payments", key = "id")]
/// struct Charged {
///     id: u64,
///     #[event(redact)]
///     card_token: String,
/// }
///
/// let mut out = Vec::new();
/// masked_json(&Charged { id: 1, card_token: "tok_live_1".into() }, &mut out)?;
/// assert_eq!(out, br#"{"id":1,"card_token":"***"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn masked_json<E: KafkaEvent>(event: &E, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    event.write_json(out)
}

/// What a record needs to know about `event`: `json` writes its JSON; with `envelope`, what
/// the envelope around it is made of (`payload` writes the envelope's payload).
fn info<'e, E: KafkaEvent>(
    event: &'e E,
    json: &'e JsonWriter<'e>,
    envelope: Option<&'e EnvelopeSettings>,
    payload: &'e JsonWriter<'e>,
) -> EventInfo<'e> {
    EventInfo {
        json,
        topic: E::TOPIC,
        key: event.key(),
        fixed_type: E::EVENT_TYPE,
        event_type: event.event_type(),
        envelope: envelope.map(|settings| Enveloped {
            settings,
            fields: event.envelope_fields(),
            payload,
        }),
    }
}

impl Message {
    /// What `emit` and `emit_detached` send for `event`: its JSON (fields marked
    /// `#[event(redact)]` written as `"***"`), on its logical topic, with its key and the
    /// `content-type` and `event-type` headers.
    ///
    /// ```
    /// use kafka_events::{AuditEntry, Message};
    ///
    /// let entry = AuditEntry::new();
    /// let message = Message::from_event(&entry)?;
    /// assert_eq!(message.topic, "audit");
    /// assert_eq!(message.key, entry.id.to_string().as_bytes());
    /// assert_eq!(message.header("event-type"), Some(&b"audit.log"[..]));
    /// # Ok::<(), kafka_events::EmitError>(())
    /// ```
    pub fn from_event<E: KafkaEvent>(event: &E) -> Result<Message, EmitError> {
        let json = |out: &mut Vec<u8>| event.write_json(out);
        encode::to_message(info(event, &json, None, &|_| Ok(())))
    }

    /// What `emit` sends for `event` to a producer that writes its topic in the `EventJson`
    /// envelope: the envelope around the event's payload, keyed by the envelope's id, with the
    /// `content-type`, `event-type` and `message-type: Event` headers.
    ///
    /// ```
    /// use kafka_events::envelope::{EnvelopeSettings, EventJson};
    /// use kafka_events::{AuthEvent, Message};
    ///
    /// let settings = EnvelopeSettings::new("identity.auth.gateway.v1", "gateway")?;
    /// let event = AuthEvent::login_success("gateway", "alice");
    /// let message = Message::from_event_in_envelope(&event, &settings)?;
    /// let envelope = EventJson::from_slice(&message.payload)?;
    /// assert_eq!(envelope.event_type, "login.success");
    /// assert_eq!(message.key, envelope.id.to_string().as_bytes());
    /// assert_eq!(message.header("message-type"), Some(&b"Event"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_event_in_envelope<E: KafkaEvent>(
        event: &E,
        settings: &EnvelopeSettings,
    ) -> Result<Message, EmitError> {
        let json = |out: &mut Vec<u8>| event.write_json(out);
        let payload = |out: &mut Vec<u8>| event.write_envelope_payload(out);
        encode::to_message(info(event, &json, Some(settings), &payload))
    }
}
