//! [`JsonText`]: JSON kept as the text it was.

use serde::{Deserialize, Serialize};

/// JSON kept as text: a request or response body goes into an event as the (masked) text it
/// was, without being parsed into a tree and written out again. Compare it with `==`, with
/// another `JsonText` or a [`serde_json::Value`] (by value, not by spelling).
///
/// ```
/// use kafka_events::models::JsonText;
/// use serde_json::json;
///
/// let text = JsonText::from_string(r#"{"qty": 2}"#.to_owned()).unwrap();
/// assert_eq!(text, json!({"qty": 2}));
/// assert_eq!(text.as_str(), r#"{"qty": 2}"#);
/// assert_eq!(JsonText::from(json!([1, 2])).to_value(), json!([1, 2]));
/// ```
#[derive(Clone)]
pub struct JsonText(Text);

/// How the text was known to be JSON.
#[derive(Clone)]
enum Text {
    /// Checked by `serde_json`, which writes it as it is.
    Checked(Box<serde_json::value::RawValue>),
    /// Checked by the code that wrote it (the middleware's masker, which checks the whole body
    /// as it copies it): not parsed again when the event is written by this crate's JSON
    /// writer, only when it goes through `serde` (which needs a `RawValue`). Kept as written,
    /// with the room its writer gave it: a request's event is dropped once it is written, so
    /// shrinking it would only copy it.
    Written(String),
}

impl JsonText {
    /// Takes `text` if it is one valid JSON value.
    pub fn from_string(text: String) -> Result<JsonText, serde_json::Error> {
        serde_json::value::RawValue::from_string(text).map(|raw| JsonText(Text::Checked(raw)))
    }

    /// Takes `text`, which the caller wrote as one JSON value, without whitespace around it,
    /// and checked as it wrote it (a debug build checks again).
    pub(crate) fn written(text: String) -> JsonText {
        debug_assert!(
            serde_json::from_str::<&serde_json::value::RawValue>(&text)
                .is_ok_and(|raw| raw.get().len() == text.len()),
            "not one JSON value: {text}"
        );
        JsonText(Text::Written(text))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Text::Checked(raw) => raw.get(),
            Text::Written(text) => text,
        }
    }

    /// The JSON as a tree.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).expect("JsonText holds valid JSON")
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        let raw = serde_json::value::to_raw_value(&value).expect("a Value is valid JSON");
        JsonText(Text::Checked(raw))
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl PartialEq<serde_json::Value> for JsonText {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_value() == *other
    }
}

impl std::fmt::Debug for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Text::Checked(raw) => raw.serialize(serializer),
            Text::Written(text) => serde_json::from_str::<&serde_json::value::RawValue>(text)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for JsonText {
    /// From any deserializer (JSON text keeps its spelling only through `serde_json`'s own).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(JsonText::from)
    }
}

impl crate::json::WriteJson for JsonText {
    /// The text as it is, as `serde_json` writes raw JSON.
    #[inline]
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }
}
