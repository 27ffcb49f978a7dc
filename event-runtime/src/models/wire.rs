//! The Go wire forms the models share: timestamps as chrono writes them (RFC 3339, UTC), and
//! Go's zero values for an unknown UUID or time.

/// RFC 3339 timestamps as chrono writes them (shared with the envelope's writer).
pub(super) use crate::rfc3339;

/// `Option<Uuid>` as Go's `uuid.UUID`: `None` is the zero UUID; the zero UUID, `null` and `""`
/// read as `None`.
pub(super) mod uuid_or_zero {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(id: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        id.unwrap_or(Uuid::nil()).serialize(serializer)
    }

    /// What [`serialize`] writes, for `#[event(write_json_with)]`.
    pub fn write_json(id: &Option<Uuid>, out: &mut Vec<u8>) {
        crate::json::WriteJson::write_json(&id.unwrap_or(Uuid::nil()), out);
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Uuid>, D::Error> {
        let text: Option<std::borrow::Cow<'de, str>> = Option::deserialize(deserializer)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => {
                let id = Uuid::parse_str(text).map_err(serde::de::Error::custom)?;
                Ok((!id.is_nil()).then_some(id))
            }
        }
    }
}

/// `Option<DateTime<Utc>>` as Go's `time.Time`: `None` is Go's zero time,
/// `0001-01-01T00:00:00Z`, which reads back as `None` (as does `null`).
pub(super) mod time_or_zero {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const ZERO: &str = "0001-01-01T00:00:00Z";

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::rfc3339::serialize(at, serializer),
            None => serializer.serialize_str(ZERO),
        }
    }

    /// What [`serialize`] writes, for `#[event(write_json_with)]`.
    pub fn write_json(at: &Option<DateTime<Utc>>, out: &mut Vec<u8>) {
        match at {
            Some(at) => super::rfc3339::write_json(at, out),
            None => crate::json::WriteJson::write_json(ZERO, out),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let at: Option<DateTime<Utc>> = Option::deserialize(deserializer)?;
        Ok(at.filter(|at| at.timestamp() != zero().timestamp()))
    }

    fn zero() -> DateTime<Utc> {
        ZERO.parse().expect("Go's zero time parses")
    }
}
