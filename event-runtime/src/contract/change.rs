//! What a difference between two contracts is called, and the [`Mode`] that says which ones
//! break consumers. The classification itself is in `diff`.

use std::fmt;

/// How the consumers decode, which decides what breaks them.
///
/// | change | [`Go`](Mode::Go) (default) | [`Closed`](Mode::Closed) |
/// | --- | --- | --- |
/// | a field removed or renamed | breaking | breaking |
/// | a field's JSON type changed, or widened (`integer` → `number`, `string` → `string or null`) | breaking | breaking |
/// | a string format dropped or changed (`uuid`, `date-time`) | breaking | breaking |
/// | a number's range widened (`i16` → `i64`) | breaking | breaking |
/// | a field always written → may be absent | breaking | breaking |
/// | an enum value no longer written | breaking | breaking |
/// | the topic, the key field or an event type changed or removed | breaking | breaking |
/// | a field added | compatible | breaking |
/// | an enum value added, or the enum opened to any value of its type | compatible | breaking |
/// | an event type added | compatible | breaking |
/// | a type, format, range or enum narrowed; a field may be absent → always written | compatible | compatible |
///
/// ```
/// use kafka_events::contract::Mode;
///
/// assert_eq!(Mode::default(), Mode::Go);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Consumers decode as Go's `encoding/json` into the Go services' structs: unknown fields
    /// are ignored, a missing field or `null` becomes the zero value (a consumer can't tell it
    /// from a real one, so whatever leaves a field out breaks it), a JSON type that doesn't fit
    /// the Go field fails the whole record, a `uuid.UUID` or `time.Time` fails on a string that
    /// isn't one, an `int16` on a number outside its range; enums are plain strings.
    #[default]
    Go,
    /// As [`Go`](Mode::Go), and consumers also refuse what they don't know: unknown fields
    /// (serde's `deny_unknown_fields`, a JSON Schema with `additionalProperties: false`),
    /// unknown enum values (a Rust enum) and unknown event types.
    Closed,
}

/// One difference between a committed contract and the event as it is now.
///
/// It reads as one line: `order.placed: field total_cents: integer → string`.
///
/// ```
/// use kafka_events::contract::{ChangeKind, Contract, Mode};
/// use kafka_events::KafkaEvent;
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// mod before {
///     #[derive(serde::Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
///     #[event(topic = "orders", key = "id", type = "order.placed")]
///     pub struct OrderPlaced { pub id: u64, pub total_cents: i64 }
/// }
/// mod after {
///     #[derive(serde::Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
///     #[event(topic = "orders", key = "id", type = "order.placed")]
///     pub struct OrderPlaced { pub id: u64, pub total_cents: String }
/// }
///
/// let committed = Contract::of::<before::OrderPlaced>()?;
/// let changes = Contract::of::<after::OrderPlaced>()?.changes_since(&committed, Mode::Go);
/// assert_eq!(changes[0].to_string(), "order.placed: field total_cents: integer → string");
/// assert!(changes[0].breaking);
/// assert!(matches!(changes[0].kind, ChangeKind::TypeChanged { .. }));
/// # Ok::<(), kafka_events::contract::SchemaError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The contract's name: its event type, or the event's name when it has several types.
    pub event: String,
    /// What changed.
    pub kind: ChangeKind,
    /// Whether the change breaks consumers that decode as the [`Mode`] says.
    pub breaking: bool,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.event, self.kind)
    }
}

/// What changed. A `field` is a path: `total_cents`, `customer.address.city`, `lines[].sku`
/// (an array's items), `tags.*` (a map's values); empty for the record itself.
///
/// ```
/// use kafka_events::contract::ChangeKind;
///
/// let change = ChangeKind::FieldRemoved { field: "total_cents".into() };
/// assert_eq!(change.to_string(), "field total_cents removed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// The field is no longer written.
    FieldRemoved {
        /// The field.
        field: String,
    },
    /// The field is written under another name (a field removed and one of the same shape
    /// added).
    FieldRenamed {
        /// The old name.
        field: String,
        /// The new name.
        to: String,
    },
    /// A new field.
    FieldAdded {
        /// The field.
        field: String,
    },
    /// The JSON types the value can have changed.
    TypeChanged {
        /// The field.
        field: String,
        /// As before: `integer`, `string or null`, ...
        from: String,
        /// As now.
        to: String,
    },
    /// A string's format changed (`uuid`, `date-time`); `None` is any string.
    FormatChanged {
        /// The field.
        field: String,
        /// As before.
        from: Option<String>,
        /// As now.
        to: Option<String>,
    },
    /// A number's range changed: `-32768..=32767`, `0..`, `unbounded`.
    RangeChanged {
        /// The field.
        field: String,
        /// As before.
        from: String,
        /// As now.
        to: String,
    },
    /// An enum value is no longer written.
    ValueRemoved {
        /// The field.
        field: String,
        /// The value, as JSON.
        value: String,
    },
    /// A new enum value.
    ValueAdded {
        /// The field.
        field: String,
        /// The value, as JSON.
        value: String,
    },
    /// The value was one of a list; now it is any value of its type.
    ValuesOpened {
        /// The field.
        field: String,
        /// The type, `string`, ...
        kind: String,
    },
    /// The value was any of its type; now it is one of a list.
    ValuesRestricted {
        /// The field.
        field: String,
        /// The values now written, as JSON.
        values: Vec<String>,
    },
    /// The field was always written; now it may be left out.
    NowOptional {
        /// The field.
        field: String,
    },
    /// The field could be left out; now it is always written.
    NowRequired {
        /// The field.
        field: String,
    },
    /// The event goes to another (logical) topic.
    TopicChanged {
        /// As before.
        from: String,
        /// As now.
        to: String,
    },
    /// Another field keys the record (its partition and order).
    KeyChanged {
        /// As before.
        from: Option<String>,
        /// As now.
        to: Option<String>,
    },
    /// An event type is no longer sent (`event-type` header).
    EventTypeRemoved {
        /// The type.
        event_type: String,
    },
    /// A new event type.
    EventTypeAdded {
        /// The type.
        event_type: String,
    },
}

fn field(path: &str) -> String {
    if path.is_empty() {
        "the record".into()
    } else {
        format!("field {path}")
    }
}

fn or_none(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("none")
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeKind::FieldRemoved { field: path } => write!(f, "{} removed", field(path)),
            ChangeKind::FieldRenamed { field: path, to } => {
                write!(f, "{} renamed to {to}", field(path))
            }
            ChangeKind::FieldAdded { field: path } => write!(f, "{} added", field(path)),
            ChangeKind::TypeChanged {
                field: path,
                from,
                to,
            } => write!(f, "{}: {from} → {to}", field(path)),
            ChangeKind::FormatChanged {
                field: path,
                from,
                to,
            } => {
                let string = |format: &Option<String>| match format {
                    Some(format) => format!("string ({format})"),
                    None => "any string".to_owned(),
                };
                write!(f, "{}: {} → {}", field(path), string(from), string(to))
            }
            ChangeKind::RangeChanged {
                field: path,
                from,
                to,
            } => write!(f, "{}: range {from} → {to}", field(path)),
            ChangeKind::ValueRemoved { field: path, value } => {
                write!(f, "{}: value {value} removed", field(path))
            }
            ChangeKind::ValueAdded { field: path, value } => {
                write!(f, "{}: value {value} added", field(path))
            }
            ChangeKind::ValuesOpened { field: path, kind } => {
                write!(f, "{}: any {kind}, no longer a fixed list", field(path))
            }
            ChangeKind::ValuesRestricted {
                field: path,
                values,
            } => write!(f, "{}: only {}", field(path), values.join(", ")),
            ChangeKind::NowOptional { field: path } => {
                write!(f, "{}: always written → may be absent", field(path))
            }
            ChangeKind::NowRequired { field: path } => {
                write!(f, "{}: may be absent → always written", field(path))
            }
            ChangeKind::TopicChanged { from, to } => write!(f, "topic {from} → {to}"),
            ChangeKind::KeyChanged { from, to } => {
                write!(f, "key {} → {}", or_none(from), or_none(to))
            }
            ChangeKind::EventTypeRemoved { event_type } => {
                write!(f, "event type {event_type} removed")
            }
            ChangeKind::EventTypeAdded { event_type } => write!(f, "event type {event_type} added"),
        }
    }
}
