//! The JSON writer `#[event(fast_json)]` generates code for: an event's keys are written as
//! byte literals the derive escaped at compile time, and each value by the fastest writer that
//! gives `serde_json`'s bytes, so a record is the same whichever wrote it.
//!
//! [`WriteJson`] is what this crate writes itself (strings, numbers, booleans, UUIDs, raw JSON,
//! options and lists of those); every other value goes through its `Serialize` impl into
//! `writer::Writer`, a serializer that writes `serde_json`'s bytes into the same buffer.
//! [`Field`] picks between the two for the concrete type the derive sees (see there). A field
//! with `#[event(write_json_with)]` is written by its function instead. The tests compare the
//! bytes with `serde_json::to_vec` over generated values.

mod field;
mod value;
mod writer;

pub use field::{Field, ViaSerde, ViaWriteJson};
pub use value::WriteJson;
pub use writer::serialize_with;

#[cfg(test)]
mod tests;
