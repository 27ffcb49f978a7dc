//! What the generated writer calls for one field's value: [`WriteJson`] when the field's type
//! has it, its `Serialize` impl otherwise.
//!
//! The choice is made by method lookup at the derive's expansion site, where the field's type
//! is concrete ("autoref specialization"): for `(&Field(&value)).__kafka_events_write(out)`,
//! [`ViaWriteJson`] (implemented for `Field<T>`, found first) applies when `T: WriteJson`;
//! otherwise the lookup goes one reference further and finds [`ViaSerde`] (implemented for
//! `&Field<T>`, any `T: Serialize`), which writes through `writer::Writer`.

use serde::Serialize;

use super::value::WriteJson;
use super::writer;

/// One field's value, for the lookup above.
pub struct Field<'a, T: ?Sized>(pub &'a T);

/// Writes a value this crate writes itself.
pub trait ViaWriteJson {
    /// Appends the value's JSON.
    fn __kafka_events_write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

impl<T: WriteJson + ?Sized> ViaWriteJson for Field<'_, T> {
    #[inline]
    fn __kafka_events_write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        self.0.write_json(out);
        Ok(())
    }
}

/// Writes any other value through its `Serialize` impl.
pub trait ViaSerde {
    /// Appends the value's JSON.
    fn __kafka_events_write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

impl<T: Serialize + ?Sized> ViaSerde for &Field<'_, T> {
    #[inline]
    fn __kafka_events_write(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        writer::write_value(out, self.0)
    }
}
