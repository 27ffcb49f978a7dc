//! What the models share in the `EventJson` envelope: reading a model from either format, and
//! the Go middleware's ways of writing what it does not know. Each model's envelope (what it
//! puts in the envelope fields, its payload keys, reading it back) is in its own file.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::envelope;

/// `Serialize` and `Deserialize` for a model whose derived ones are the flat document's
/// (`#[serde(remote = "Self")]`): it writes the flat document and reads both formats, the
/// envelope through `$read` (its `in_envelope::deserialize`).
macro_rules! both_formats {
    ($model:ty, $read:path) => {
        impl ::serde::Serialize for $model {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$model>::serialize(self, serializer)
            }
        }

        /// Reads the flat document and the `EventJson` envelope alike.
        impl<'de> ::serde::Deserialize<'de> for $model {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $read(deserializer)
            }
        }
    };
}

/// Reads a model from its flat document or from its envelope, as the Go middleware writes it
/// (an empty `created_by` and `md5_hash` are taken), when the envelope's `event_type` is one of
/// `types`: an auth event is not an audit entry with empty fields.
pub(super) fn read_either<'de, D, T, P>(
    deserializer: D,
    flat: fn(serde_json::Value) -> Result<T, serde_json::Error>,
    types: &[&str],
    from_envelope: fn(envelope::EventJson, P) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    P: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let value = serde_json::Value::deserialize(deserializer)?;
    if !envelope::is_envelope(&value) {
        return flat(value).map_err(D::Error::custom);
    }
    let kind = value["event_type"].as_str().unwrap_or_default();
    if !types.contains(&kind) {
        return Err(D::Error::custom(format!(
            "the envelope's event_type `{kind}` is not one of {types:?}"
        )));
    }
    let (head, payload) = envelope::parts_from_value::<P>(value, envelope::Checks::Middleware)
        .map_err(D::Error::custom)?;
    let kind = head.event_type.clone();
    from_envelope(head, payload)
        .ok_or_else(|| D::Error::custom(format!("the envelope's event_type `{kind}` is unknown")))
}

pub(super) fn text(value: &str) -> Cow<'_, str> {
    Cow::Borrowed(value)
}

pub(super) fn nonzero(id: Uuid) -> Option<Uuid> {
    (!id.is_nil()).then_some(id)
}

/// A UUID the Go middleware writes as a plain string: `""` when unknown.
pub(super) fn uuid_text(id: Option<Uuid>) -> Cow<'static, str> {
    Cow::Owned(id.map(|id| id.to_string()).unwrap_or_default())
}

pub(super) fn parse_uuid(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok().and_then(nonzero)
}
