//! The values this crate writes as JSON itself, each exactly as its `Serialize` impl makes
//! `serde_json` write it.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use kafka_events_rules::json::write_str;
use serde_json::ser::{CompactFormatter, Formatter};

/// A value written as JSON without serde, byte for byte as `serde_json` writes its
/// `Serialize` impl. Writing into a `Vec` can't fail.
pub trait WriteJson {
    /// Appends the value's JSON.
    fn write_json(&self, out: &mut Vec<u8>);
}

impl WriteJson for str {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl WriteJson for String {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl WriteJson for char {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, self.encode_utf8(&mut [0; 4]));
    }
}

impl WriteJson for bool {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

/// Integers go through `serde_json`'s own formatter, so their digits are its digits.
macro_rules! integers {
    ($($ty:ty => $write:ident),* $(,)?) => {$(
        impl WriteJson for $ty {
            #[inline]
            fn write_json(&self, out: &mut Vec<u8>) {
                // A Vec takes every write.
                let _ = CompactFormatter.$write(out, *self);
            }
        }
    )*};
}

integers! {
    u8 => write_u8, u16 => write_u16, u32 => write_u32, u64 => write_u64, u128 => write_u128,
    i8 => write_i8, i16 => write_i16, i32 => write_i32, i64 => write_i64, i128 => write_i128,
}

impl WriteJson for usize {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        let _ = CompactFormatter.write_u64(out, *self as u64);
    }
}

impl WriteJson for isize {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        let _ = CompactFormatter.write_i64(out, *self as i64);
    }
}

impl WriteJson for f64 {
    /// `null` for NaN and the infinities, as `serde_json` writes them.
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        let _ = if self.is_finite() {
            CompactFormatter.write_f64(out, *self)
        } else {
            CompactFormatter.write_null(out)
        };
    }
}

impl WriteJson for f32 {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        let _ = if self.is_finite() {
            CompactFormatter.write_f32(out, *self)
        } else {
            CompactFormatter.write_null(out)
        };
    }
}

impl WriteJson for uuid::Uuid {
    /// Hyphenated, lower case: what `uuid`'s `Serialize` writes to a human-readable format.
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut text = uuid::Uuid::encode_buffer();
        out.push(b'"');
        out.extend_from_slice(self.hyphenated().encode_lower(&mut text).as_bytes());
        out.push(b'"');
    }
}

impl WriteJson for serde_json::value::RawValue {
    /// The text as it is: `serde_json` writes raw JSON unchanged.
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.get().as_bytes());
    }
}

impl<T: WriteJson> WriteJson for Option<T> {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl<T: WriteJson> WriteJson for [T] {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, value) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            value.write_json(out);
        }
        out.push(b']');
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        self.as_slice().write_json(out);
    }
}

impl<T: WriteJson, const N: usize> WriteJson for [T; N] {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        self.as_slice().write_json(out);
    }
}

/// Pointers write what they point to, as serde's impls do.
macro_rules! pointers {
    ($($ty:ty),* $(,)?) => {$(
        impl<T: WriteJson + ?Sized> WriteJson for $ty {
            #[inline]
            fn write_json(&self, out: &mut Vec<u8>) {
                (**self).write_json(out);
            }
        }
    )*};
}

pointers!(&T, &mut T, Box<T>, Arc<T>, Rc<T>);

impl<T: WriteJson + ToOwned + ?Sized> WriteJson for Cow<'_, T> {
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        (**self).write_json(out);
    }
}
