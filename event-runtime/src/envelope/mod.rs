//! The `EventJson` envelope of today's Go services (their event-stream SDK, middleware v3.x),
//! next to the seed's flat documents: which [`WireFormat`] a producer writes, the envelope's
//! settings, what an event puts in it ([`EnvelopeFields`]), and reading it back ([`EventJson`])
//! with the checks the Go SDK's reader applies.
//!
//! In the envelope, the event's own JSON is the `payload`; the envelope adds its id (also the
//! record key), the event type, where it comes from (`event_source`, `created_by`), the
//! tenant, request and session ids, a timestamp, `metadata` and the MD5 of the payload. Records
//! carry the headers `content-type: application/json` and `message-type: Event`.
//!
//! ```
//! use kafka_events::envelope::{EnvelopeSettings, EventJson};
//! use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
//!
//! let settings = EnvelopeSettings::new("identity.auth.gateway.v1", "gateway")?;
//! let producer = MemoryProducer::new().with_envelope(settings);
//! let entry = AuditEntry { http_method: "GET".into(), status_code: 200, ..AuditEntry::new() };
//! entry.emit_detached(&producer)?;
//!
//! let record = &producer.records()[0];
//! let envelope = EventJson::from_slice(&record.payload)?; // the Go reader's checks
//! assert_eq!(envelope.event_type, "audit.log");
//! assert_eq!(envelope.event_source, "identity.auth.gateway.v1");
//! assert_eq!(record.key, envelope.id.to_string().as_bytes());
//! assert_eq!(record.header_str("message-type"), Some("Event"));
//! assert_eq!(envelope.payload()["status_code"], 200);
//! assert!(envelope.md5_matches());
//! // The model reads either format.
//! assert_eq!(record.decode::<AuditEntry>()?, entry);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod fields;
mod read;
mod settings;
mod write;

pub use fields::EnvelopeFields;
pub(crate) use read::{Checks, is_envelope, parts_from_value};
pub use read::{EnvelopeError, EventJson};
pub(crate) use settings::WireFormats;
pub use settings::{EnvelopeConfig, EnvelopeSettings, WireFormat};
pub(crate) use write::write;

/// The `message-type` header every envelope record carries, and its value.
pub const MESSAGE_TYPE: (&str, &str) = ("message-type", "Event");
