//! Reading an envelope back: [`EventJson`], with the checks the Go SDK's reader applies before
//! it hands a record on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The keys the Go reader requires, each present (`metadata` may be `null`).
const REQUIRED: [&str; 10] = [
    "created_by",
    "event_source",
    "event_type",
    "id",
    "md5_hash",
    "metadata",
    "request_id",
    "session_id",
    "tenant_id",
    "timestamp",
];

/// Why a record is not an envelope the Go reader takes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The record is not a JSON object.
    #[error("not an EventJson envelope: {0}")]
    Json(#[source] serde_json::Error),
    /// A required key is missing (the Go reader's own words).
    #[error("field {key} in EventJson: required")]
    Missing {
        /// The JSON key.
        key: &'static str,
    },
    /// `created_by`, `event_source` or `event_type` is empty.
    #[error("field {key} in EventJson: must not be empty")]
    Empty {
        /// The JSON key.
        key: &'static str,
    },
    /// `md5_hash` is not 32 hex digits.
    #[error("field md5_hash in EventJson: `{value}` is not 32 hex digits")]
    Md5Hash {
        /// What the record holds.
        value: String,
    },
    /// A key holds a value of the wrong type (a UUID that is not one, say).
    #[error("field {key} in EventJson: {source}")]
    Field {
        /// The JSON key.
        key: &'static str,
        /// What was wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// An `EventJson` envelope as read, checked as the Go SDK's reader checks it: all ten required
/// keys present, `md5_hash` 32 hex digits, `created_by`, `event_source` and `event_type` not
/// empty.
///
/// ```
/// use kafka_events::envelope::{EnvelopeError, EventJson};
///
/// // What a Go service on middleware v3 writes for a login failure.
/// let go = br#"{"created_by":"gateway","event_source":"identity.auth.gateway.v1",
///   "event_type":"login.failure","id":"6f1c58a2-64f4-4d54-9d0c-7a2b1b0f4a10",
///   "md5_hash":"7215ee9c7d9dc229d2921a40e899ec5f","metadata":null,
///   "payload":{"subject":"","path":"/login","user_agent":"curl","remote_addr":"10.0.0.1:5555"},
///   "request_id":"00000000-0000-0000-0000-000000000000",
///   "session_id":"00000000-0000-0000-0000-000000000000",
///   "tenant_id":"00000000-0000-0000-0000-000000000000","timestamp":"2026-01-02T03:04:05Z"}"#;
/// let envelope = EventJson::from_slice(go)?;
/// assert_eq!(envelope.event_type, "login.failure");
/// assert_eq!(envelope.payload()["path"], "/login");
///
/// // The flat documents of the seed's era are not envelopes.
/// let flat = br#"{"id":"6f1c58a2-64f4-4d54-9d0c-7a2b1b0f4a10","type":"login.failure"}"#;
/// let error = EventJson::from_slice(flat).unwrap_err();
/// assert!(matches!(error, EnvelopeError::Missing { key: "created_by" }));
/// assert_eq!(error.to_string(), "field created_by in EventJson: required");
/// # Ok::<(), EnvelopeError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EventJson {
    /// Who wrote the event.
    pub created_by: String,
    /// Where it comes from (`{domain}.{group}.{name}.v{major}`).
    pub event_source: String,
    /// Its type (`audit.log`, `login.failure`, ...).
    pub event_type: String,
    /// The envelope id (the record key).
    pub id: Uuid,
    /// The hex MD5 the writer computed (of the payload's JSON, by the common recipe).
    pub md5_hash: String,
    /// `message`, when written.
    pub message: Option<String>,
    /// `metadata` (`None` when `null`).
    pub metadata: Option<BTreeMap<String, String>>,
    /// `owner_id`, when written.
    pub owner_id: Option<String>,
    /// The request id (zero when unknown).
    pub request_id: Uuid,
    /// The session id (zero when unknown).
    pub session_id: Uuid,
    /// The tenant (zero when unknown).
    pub tenant_id: Uuid,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// The payload's JSON text, as written.
    payload: Option<String>,
}

/// The envelope's fields without its payload.
pub(crate) type Head = EventJson;

impl EventJson {
    /// Reads and checks one record's payload.
    pub fn from_slice(bytes: &[u8]) -> Result<EventJson, EnvelopeError> {
        #[derive(serde::Deserialize)]
        struct Payload<'a> {
            #[serde(borrow)]
            payload: Option<&'a RawValue>,
        }
        let value: Value = serde_json::from_slice(bytes).map_err(EnvelopeError::Json)?;
        let (mut head, _) = parts_from_value::<Value>(value, Checks::GoReader)?;
        let text: Payload<'_> = serde_json::from_slice(bytes).map_err(EnvelopeError::Json)?;
        head.payload = text.payload.map(|raw| raw.get().to_owned());
        Ok(head)
    }

    /// The payload as a JSON value (`null` when the record has none).
    pub fn payload(&self) -> Value {
        self.payload
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null)
    }

    /// The payload's JSON text, as written.
    pub fn payload_json(&self) -> Option<&str> {
        self.payload.as_deref()
    }

    /// The payload decoded as `T`.
    pub fn decode_payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.payload_json().unwrap_or("null"))
    }

    /// Whether `md5_hash` is the MD5 of the payload's JSON text as written (what this crate and
    /// the Go SDK's writers put there).
    pub fn md5_matches(&self) -> bool {
        let digest = Md5::digest(self.payload_json().unwrap_or_default().as_bytes());
        let mut hex = [0u8; 32];
        super::write::hex(&mut hex, &digest);
        self.md5_hash.as_bytes().eq_ignore_ascii_case(&hex)
    }
}

/// Whether a JSON document is an envelope rather than a flat event: it has keys only the
/// envelope has (Go leaves `payload` out when there is none).
pub(crate) fn is_envelope(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        ["event_source", "event_type", "md5_hash"]
            .iter()
            .all(|key| map.contains_key(*key))
    })
}

/// How strictly an envelope is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checks {
    /// Every rule of the Go SDK's reader.
    GoReader,
    /// What the Go middleware itself writes, which its SDK's reader refuses: `created_by` and
    /// `md5_hash` may be empty. The models read records this way.
    Middleware,
}

/// The envelope's fields, checked, and its payload decoded as `P` (`null` when absent).
pub(crate) fn parts_from_value<P: DeserializeOwned>(
    value: Value,
    checks: Checks,
) -> Result<(Head, P), EnvelopeError> {
    let Value::Object(mut map) = value else {
        return Err(EnvelopeError::Json(serde::de::Error::custom(
            "an EventJson envelope is a JSON object",
        )));
    };
    if let Some(key) = REQUIRED.iter().find(|key| !map.contains_key(**key)) {
        return Err(EnvelopeError::Missing { key });
    }
    let strict = checks == Checks::GoReader;
    let head = EventJson {
        created_by: match strict {
            true => non_empty(&mut map, "created_by")?,
            false => field(&mut map, "created_by")?,
        },
        event_source: non_empty(&mut map, "event_source")?,
        event_type: non_empty(&mut map, "event_type")?,
        id: field(&mut map, "id")?,
        md5_hash: match strict {
            true => md5_hash(&mut map)?,
            false => field(&mut map, "md5_hash")?,
        },
        message: field(&mut map, "message")?,
        metadata: field(&mut map, "metadata")?,
        owner_id: field(&mut map, "owner_id")?,
        request_id: field(&mut map, "request_id")?,
        session_id: field(&mut map, "session_id")?,
        tenant_id: field(&mut map, "tenant_id")?,
        timestamp: field(&mut map, "timestamp")?,
        payload: None,
    };
    let payload = field(&mut map, "payload")?;
    Ok((head, payload))
}

fn field<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    key: &'static str,
) -> Result<T, EnvelopeError> {
    let value = map.remove(key).unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|source| EnvelopeError::Field { key, source })
}

fn non_empty(map: &mut Map<String, Value>, key: &'static str) -> Result<String, EnvelopeError> {
    let text: String = field(map, key)?;
    if text.is_empty() {
        return Err(EnvelopeError::Empty { key });
    }
    Ok(text)
}

fn md5_hash(map: &mut Map<String, Value>) -> Result<String, EnvelopeError> {
    let value: String = field(map, "md5_hash")?;
    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EnvelopeError::Md5Hash { value });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "created_by": "svc", "event_source": "a.b.c.v1", "event_type": "audit.log",
            "id": Uuid::new_v4(), "md5_hash": "0123456789abcdefABCDEF0123456789",
            "metadata": null, "payload": {"x": 1},
            "request_id": Uuid::nil(), "session_id": Uuid::nil(), "tenant_id": Uuid::nil(),
            "timestamp": "0001-01-01T00:00:00Z"
        })
    }

    fn read(value: &Value) -> Result<EventJson, EnvelopeError> {
        EventJson::from_slice(&serde_json::to_vec(value).unwrap())
    }

    #[test]
    fn every_required_key_is_required_and_only_those() {
        assert!(read(&valid()).is_ok());
        for key in REQUIRED {
            let mut without = valid();
            without.as_object_mut().unwrap().remove(key);
            let error = read(&without).unwrap_err();
            assert!(
                matches!(error, EnvelopeError::Missing { key: k } if k == key),
                "{key}: {error}"
            );
        }
        let mut optional = valid();
        optional.as_object_mut().unwrap().remove("payload");
        assert_eq!(read(&optional).unwrap().payload(), Value::Null);
    }

    #[test]
    fn the_go_readers_value_rules() {
        for key in ["created_by", "event_source", "event_type"] {
            let mut empty = valid();
            empty[key] = json!("");
            assert!(
                matches!(read(&empty), Err(EnvelopeError::Empty { .. })),
                "{key}"
            );
        }
        for hash in ["", "0123456789abcdef", "0123456789abcdef0123456789abcdeg"] {
            let mut bad = valid();
            bad["md5_hash"] = json!(hash);
            assert!(
                matches!(read(&bad), Err(EnvelopeError::Md5Hash { .. })),
                "{hash}"
            );
        }
        let mut not_uuid = valid();
        not_uuid["tenant_id"] = json!("acme");
        assert!(matches!(
            read(&not_uuid),
            Err(EnvelopeError::Field {
                key: "tenant_id",
                ..
            })
        ));
        let mut metadata = valid();
        metadata["metadata"] = json!({"k": "v"});
        assert_eq!(read(&metadata).unwrap().metadata.unwrap()["k"], "v");
    }

    #[test]
    fn the_payload_keeps_its_text_for_the_hash() {
        let bytes = br#"{"created_by":"s","event_source":"a.b.c.v1","event_type":"t","id":"00000000-0000-0000-0000-000000000001","md5_hash":"054155e2fcaac21fa219f1194b648f62","metadata":null,"payload":{"a":"\u00e9"},"request_id":"00000000-0000-0000-0000-000000000000","session_id":"00000000-0000-0000-0000-000000000000","tenant_id":"00000000-0000-0000-0000-000000000000","timestamp":"2026-01-01T00:00:00Z"}"#;
        let envelope = EventJson::from_slice(bytes).unwrap();
        assert_eq!(envelope.payload_json(), Some(r#"{"a":"\u00e9"}"#));
        assert!(envelope.md5_matches());
        assert!(is_envelope(&serde_json::from_slice(bytes).unwrap()));
        assert!(!is_envelope(&json!({"id": "x", "payload": {}})));
    }
}
