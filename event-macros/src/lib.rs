//! Derive macro for [`kafka-events`](https://docs.rs/kafka-events).
//!
//! Use it through the `kafka-events` crate, which re-exports it together with the runtime trait it
//! implements.
//!
//! Inside, the pipeline is: `ast` reads the struct, `attr` parses `#[event]` strictly and
//! `#[serde]` leniently, `valid` checks what needs several facts at once, `expand` writes the
//! impl (with `json` the writer `fast_json` asks for), and `fallback` writes a stub impl next
//! to the errors when anything is wrong.

mod ast;
mod attr;
mod case;
mod expand;
mod fallback;
mod json;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives [`KafkaEvent`] for a struct with named fields that also derives `serde::Serialize`:
/// a Kafka event with a fixed topic and key, checked at compile time.
///
/// ```
/// use kafka_events::KafkaEvent;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent)]
/// #[event(topic = "orders", key = "order_id", type = "order.placed")]
/// struct OrderPlaced {
///     order_id: u64,
///     customer: String,
///     #[event(redact)]
///     card_number: String,
/// }
///
/// assert_eq!(OrderPlaced::TOPIC, "orders");
/// assert_eq!(OrderPlaced::FIELD_NAMES, ["order_id", "customer", "card_number"]);
/// assert_eq!(OrderPlaced::EVENT_TYPE, Some("order.placed"));
/// let order = OrderPlaced { order_id: 42, customer: "ann".into(), card_number: "4111".into() };
/// assert_eq!(order.key().as_ref(), b"42");
/// ```
///
/// # Attributes
///
/// | attribute | required | meaning |
/// | --- | --- | --- |
/// | `topic = "audit"` | yes | The logical topic ([`KafkaEvent::TOPIC`]); a producer maps it to a physical one ([`KafkaConfig::topics`]). It must be a legal Kafka topic name: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`. |
/// | `key = "id"` | yes | The field (by its Rust name; `r#type` is `"type"`) whose value keys the record ([`KafkaEvent::key`]). Its type must be an [`EventKey`]: `Uuid`, integers, strings. |
/// | `type = "audit.log"` | no | A fixed event type, sent in the `event-type` header ([`KafkaEvent::EVENT_TYPE`]). |
/// | `#[event(type)]` on a field | no | The event type is that field's value (`AsRef<str>`), as [`AuthEvent`]'s `login.success` / `login.failure`. |
/// | `types = ["a", "b"]` | no | With an `#[event(type)]` field: every value it takes ([`KafkaEvent::EVENT_TYPES`]), so [`MemoryProducer::events`] picks this event out of a shared topic. |
/// | `naming = "snake_case"` | no | The convention every JSON field name must follow: one of serde's rule names `lowercase`, `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case` (default), `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`. |
/// | `crate = "path"` | no | Where `kafka_events` is, when the dependency is renamed or re-exported (default `::kafka_events`). |
/// | `contract = "contracts/orders/order.placed.json"` | no | The committed contract file, relative to the crate root; a field it has that the struct no longer writes is a compile error. |
/// | `envelope_with = "module"` | no | What the event puts in the `EventJson` envelope: `module::fields(&Event) -> EnvelopeFields` and `module::write_payload(&Event, &mut Vec<u8>)`, which gets the event unmasked (call `masked_json` for its masked JSON). |
/// | `fast_json` | no | The derive writes the event's JSON itself ([`KafkaEvent::write_json`]): keys escaped at compile time, strings, numbers, booleans, UUIDs and raw JSON without serde's calls, other values through their `Serialize` impls. The bytes are those `serde_json` writes for the **derived** `Serialize` (don't use it with a hand-written one), provided each `write_json_with` function writes what serde would; refused with `flatten`, `getter`, `into`, a `remote` type other than `Self`, and type parameters. |
/// | `#[event(redact)]` on a field | no | Writes the field as `"***"` in the record (its name stays); not on the key. |
/// | `#[event(allow_sensitive)]` on a field | no | The field's JSON name looks like a secret, and it holds none: write it as it is. |
/// | `#[event(write_json_with = "path")]` on a field | no | With `fast_json`: `path(&value, &mut Vec<u8>)` appends the field's JSON, in place of its `Serialize` (or `serialize_with`) going through serde's calls; `skip_serializing_if` still decides whether it is written. It must append exactly the bytes `serde_json` writes for the field: `fast_json`'s bytes are serde's only as long as it does (the models use it for their `serialize_with` UUIDs and timestamps). Refused without `fast_json`, on a redacted or skipped field, and for a function returning a value. |
///
/// # What it checks
///
/// JSON names are computed as serde computes them (`rename`, `rename_all`, `skip`, `tag`), and
/// each must follow `naming` and be unique. The key field must exist, always be serialized (no
/// `skip`, `skip_serializing_if`, `flatten`), not be an `Option`, and have a key type. A field
/// whose JSON name looks like a secret (`password`, `token`, `api_key`, `card_number`, ...: the
/// list the [HTTP middleware](https://docs.rs/kafka-events/latest/kafka_events/middleware/index.html)
/// masks by) must be `#[event(redact)]` or `#[event(allow_sensitive)]`. Every mistake is one error
/// pointing at the token to fix, all reported in one build; a failed derive still emits a
/// placeholder impl so code using the type shows no follow-on errors.
///
/// [`KafkaEvent`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html
/// [`KafkaEvent::TOPIC`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html#associatedconstant.TOPIC
/// [`KafkaEvent::EVENT_TYPE`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html#associatedconstant.EVENT_TYPE
/// [`KafkaEvent::EVENT_TYPES`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html#associatedconstant.EVENT_TYPES
/// [`KafkaEvent::write_json`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html#method.write_json
/// [`KafkaEvent::key`]: https://docs.rs/kafka-events/latest/kafka_events/trait.KafkaEvent.html#tymethod.key
/// [`KafkaConfig::topics`]: https://docs.rs/kafka-events/latest/kafka_events/struct.KafkaConfig.html#structfield.topics
/// [`EventKey`]: https://docs.rs/kafka-events/latest/kafka_events/trait.EventKey.html
/// [`AuthEvent`]: https://docs.rs/kafka-events/latest/kafka_events/struct.AuthEvent.html
/// [`MemoryProducer::events`]: https://docs.rs/kafka-events/latest/kafka_events/struct.MemoryProducer.html#method.events
#[proc_macro_derive(KafkaEvent, attributes(event))]
pub fn derive_kafka_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
