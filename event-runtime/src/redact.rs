//! Writing an event with its `#[event(redact)]` fields masked: a `serde_json` serializer that
//! passes everything through, except that the event's own fields named in
//! [`KafkaEvent::REDACTED`](crate::KafkaEvent::REDACTED) are written as `"***"`.

use std::io::Write;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::ser::{CompactFormatter, Compound};

/// What a redacted field is written as.
pub(crate) use kafka_events_rules::MASK;

/// Serializes `event` as JSON into `out`, writing the fields in `redacted` as `"***"`.
pub(crate) fn to_writer<W: Write, T: Serialize + ?Sized>(
    out: W,
    event: &T,
    redacted: &'static [&'static str],
) -> Result<(), serde_json::Error> {
    let mut json = serde_json::Serializer::new(out);
    if redacted.is_empty() {
        event.serialize(&mut json)
    } else {
        event.serialize(Redacting {
            json: &mut json,
            redacted,
        })
    }
}

/// Only the event's own struct is looked at: nested values are written as they are.
struct Redacting<'a, W> {
    json: &'a mut serde_json::Serializer<W>,
    redacted: &'static [&'static str],
}

/// The event's fields, each written or masked.
struct RedactingStruct<'a, W> {
    json: Compound<'a, W, CompactFormatter>,
    redacted: &'static [&'static str],
}

impl<W: Write> SerializeStruct for RedactingStruct<'_, W> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        if self.redacted.contains(&key) {
            self.json.serialize_field(key, MASK)
        } else {
            self.json.serialize_field(key, value)
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), Self::Error> {
        self.json.skip_field(key)
    }

    fn end(self) -> Result<(), Self::Error> {
        SerializeStruct::end(self.json)
    }
}

/// Forwards a serializer method to `serde_json`'s.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        fn $name(self, $($arg: $ty),*) -> Result<$ret, serde_json::Error> {
            self.json.$name($($arg),*)
        }
    )*};
}

impl<'a, W: Write> Serializer for Redacting<'a, W> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Compound<'a, W, CompactFormatter>;
    type SerializeTuple = Compound<'a, W, CompactFormatter>;
    type SerializeTupleStruct = Compound<'a, W, CompactFormatter>;
    type SerializeTupleVariant = Compound<'a, W, CompactFormatter>;
    type SerializeMap = Compound<'a, W, CompactFormatter>;
    type SerializeStruct = RedactingStruct<'a, W>;
    type SerializeStructVariant = Compound<'a, W, CompactFormatter>;

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, serde_json::Error> {
        Ok(RedactingStruct {
            json: self.json.serialize_struct(name, len)?,
            redacted: self.redacted,
        })
    }

    forward! {
        serialize_bool(v: bool) -> ();
        serialize_i8(v: i8) -> ();
        serialize_i16(v: i16) -> ();
        serialize_i32(v: i32) -> ();
        serialize_i64(v: i64) -> ();
        serialize_i128(v: i128) -> ();
        serialize_u8(v: u8) -> ();
        serialize_u16(v: u16) -> ();
        serialize_u32(v: u32) -> ();
        serialize_u64(v: u64) -> ();
        serialize_u128(v: u128) -> ();
        serialize_f32(v: f32) -> ();
        serialize_f64(v: f64) -> ();
        serialize_char(v: char) -> ();
        serialize_str(v: &str) -> ();
        serialize_bytes(v: &[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(name: &'static str) -> ();
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> ();
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(len: usize) -> Self::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), serde_json::Error> {
        self.json.serialize_some(value)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.json.serialize_newtype_struct(name, value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.json
            .serialize_newtype_variant(name, index, variant, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Login {
        user: String,
        #[serde(rename = "password")]
        secret: String,
        nested: Nested,
    }

    #[derive(serde::Serialize)]
    struct Nested {
        password: String,
    }

    #[test]
    fn only_the_named_fields_of_the_event_itself_are_masked() {
        let login = Login {
            user: "ann".into(),
            secret: "hunter2".into(),
            nested: Nested {
                password: "kept: not the event's own field".into(),
            },
        };
        let mut out = Vec::new();
        to_writer(&mut out, &login, &["password"]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"user":"ann","password":"***","nested":{"password":"kept: not the event's own field"}}"#
        );
        let mut plain = Vec::new();
        to_writer(&mut plain, &login, &[]).unwrap();
        assert_eq!(plain, serde_json::to_vec(&login).unwrap());
    }
}
