//! A serializer for values serde writes as one JSON scalar (strings, numbers, booleans, `null`,
//! unit variants, and what wraps one of them: options, newtypes), writing them as `serde_json`
//! does, without `io::Write` and with the word-at-a-time string escape. A value that turns out
//! to be a compound (a sequence, a map, a struct, a variant with data, bytes, raw JSON) stops it:
//! [`write`] then cuts off what was written of that value and hands it to `serde_json`, whose
//! bytes it is by construction.
//!
//! This is what the generated writer's fields with a `serialize_with` function (the models'
//! UUIDs and timestamps) and of types it doesn't know (enums of unit variants) go through.

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::Error;

use super::value::WriteJson;
use kafka_events_rules::json::write_str;

/// Appends what `scalar` writes for a value through `Scalar`, or, when the value is not a
/// scalar, what `full` writes through `serde_json`. Both are the same value's serialization.
#[inline]
pub fn write(
    out: &mut Vec<u8>,
    scalar: impl FnOnce(Scalar<'_>) -> Result<(), Error>,
    full: impl FnOnce(&mut serde_json::Serializer<&mut Vec<u8>>) -> Result<(), Error>,
) -> Result<(), Error> {
    let start = out.len();
    let mut compound = false;
    match scalar(Scalar {
        out: &mut *out,
        compound: &mut compound,
    }) {
        Err(_) if compound => {
            out.truncate(start);
            full(&mut serde_json::Serializer::new(out))
        }
        result => result,
    }
}

/// Appends `value`'s JSON: through [`Scalar`] when it is one, through `serde_json` otherwise.
#[inline]
pub fn write_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    write(
        out,
        |scalar| value.serialize(scalar),
        |json| value.serialize(json),
    )
}

/// Writes one scalar value; see the module's docs.
pub struct Scalar<'a> {
    out: &'a mut Vec<u8>,
    /// Set when the value is not a scalar (its serialization then fails with a placeholder).
    compound: &'a mut bool,
}

impl Scalar<'_> {
    fn put(self, value: &(impl WriteJson + ?Sized)) -> Result<(), Error> {
        value.write_json(self.out);
        Ok(())
    }

    fn not_a_scalar(self) -> Error {
        *self.compound = true;
        ser::Error::custom("not a scalar: written by serde_json")
    }
}

/// Numbers and the rest of the scalars `WriteJson` writes.
macro_rules! scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        #[inline]
        fn $method(self, value: $ty) -> Result<(), Error> {
            self.put(&value)
        }
    )*};
}

/// What makes a compound: left to `serde_json`.
macro_rules! compounds {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<$ret, Error> {
            $(let _ = $arg;)*
            Err(self.not_a_scalar())
        }
    )*};
}

impl<'a> ser::Serializer for Scalar<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
    );

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.out, value);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    compounds! {
        serialize_bytes(value: &[u8]) -> ();
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(len: usize) -> Self::SerializeTuple;
        serialize_map(len: Option<usize>) -> Self::SerializeMap;
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(self.not_a_scalar())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(self.not_a_scalar())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(self.not_a_scalar())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(self.not_a_scalar())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(self.not_a_scalar())
    }
}
