//! [`EnvelopeFields`]: what an event puts in the envelope besides its JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The envelope fields an event knows: what
/// [`KafkaEvent::envelope_fields`](crate::KafkaEvent::envelope_fields)
/// returns. Whatever is `None` is written as the Go services write it when they don't know: a
/// fresh random `id`, the zero UUID for the tenant, request and session, the time of the emit,
/// `metadata: null`, and no `message` or `owner_id` key.
///
/// ```
/// use kafka_events::envelope::{EnvelopeFields, EnvelopeSettings, EventJson};
/// use kafka_events::{KafkaEvent, MemoryProducer};
///
/// #[derive(serde::Serialize, KafkaEvent)]
/// #[event(topic = "orders", key = "order_id", type = "order.placed")]
/// #[event(envelope_with = "order_envelope")]
/// struct OrderPlaced {
///     order_id: u64,
///     tenant: uuid::Uuid,
/// }
///
/// mod order_envelope {
///     use kafka_events::envelope::EnvelopeFields;
///
///     pub fn fields(order: &super::OrderPlaced) -> EnvelopeFields<'_> {
///         EnvelopeFields { tenant_id: Some(order.tenant), ..EnvelopeFields::default() }
///     }
///
///     // It gets the event unmasked: `masked_json` writes what its flat record has.
///     pub fn write_payload(
///         order: &super::OrderPlaced,
///         out: &mut Vec<u8>,
///     ) -> Result<(), kafka_events::serde_json::Error> {
///         kafka_events::masked_json(order, out)
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new()
///     .with_envelope(EnvelopeSettings::new("shop.orders.api.v1", "orders-api")?);
/// let order = OrderPlaced { order_id: 42, tenant: uuid::Uuid::new_v4() };
/// order.emit_detached(&producer)?;
/// let envelope = EventJson::from_slice(&producer.records()[0].payload)?;
/// assert_eq!(envelope.tenant_id, order.tenant);
/// assert_eq!(envelope.payload()["order_id"], 42);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvelopeFields<'a> {
    /// The envelope id, also the record key (default: a fresh random UUID per record).
    pub id: Option<Uuid>,
    /// The envelope's `event_type`, when it differs from the event's type (the `event-type`
    /// header keeps the event's own).
    pub event_type: Option<&'a str>,
    /// The tenant.
    pub tenant_id: Option<Uuid>,
    /// The request that caused the event.
    pub request_id: Option<Uuid>,
    /// The caller's session.
    pub session_id: Option<Uuid>,
    /// When it happened (default: when it was emitted).
    pub timestamp: Option<DateTime<Utc>>,
    /// String pairs for the envelope's `metadata` (default: `null`).
    pub metadata: Option<&'a BTreeMap<String, String>>,
    /// The `message` key (the Go middleware copies the `X-Message` header here).
    pub message: Option<&'a str>,
    /// The `owner_id` key (the Go middleware copies the `X-Owner-ID` header here).
    pub owner_id: Option<&'a str>,
}
