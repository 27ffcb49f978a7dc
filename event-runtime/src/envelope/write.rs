//! Writes one envelope, keys in the order Go writes them, straight into the record's buffer:
//! the payload is written in place and its MD5 filled in afterwards.

use chrono::Utc;
use md5::{Digest, Md5};
use uuid::Uuid;

use super::fields::EnvelopeFields;
use super::settings::EnvelopeSettings;
use crate::error::EmitError;

/// Appends the envelope of one event to `out` and returns its id (the record key). `payload`
/// appends the event's JSON, which must be an object.
pub(crate) fn write(
    out: &mut Vec<u8>,
    topic: &str,
    settings: &EnvelopeSettings,
    event_type: &str,
    fields: &EnvelopeFields<'_>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
) -> Result<Uuid, EmitError> {
    if event_type.is_empty() {
        return Err(EmitError::Envelope {
            topic: topic.to_owned(),
            reason: "the event has no type, and the envelope's `event_type` must not be empty: \
                     give it `#[event(type = \"..\")]` or an `#[event(type)]` field"
                .into(),
        });
    }
    let id = fields.id.unwrap_or_else(Uuid::new_v4);
    let string = |out: &mut Vec<u8>, text: &str| {
        serde_json::to_writer(out, text).map_err(EmitError::Serialize)
    };
    out.extend_from_slice(br#"{"created_by":"#);
    string(out, settings.created_by())?;
    out.extend_from_slice(br#","event_source":"#);
    string(out, settings.event_source())?;
    out.extend_from_slice(br#","event_type":"#);
    string(out, event_type)?;
    out.extend_from_slice(br#","id":"#);
    uuid(out, id);
    out.extend_from_slice(br#","md5_hash":""#);
    let hash_at = out.len();
    out.extend_from_slice(&[b'0'; 32]);
    out.push(b'"');
    if let Some(message) = fields.message {
        out.extend_from_slice(br#","message":"#);
        string(out, message)?;
    }
    out.extend_from_slice(br#","metadata":"#);
    match fields.metadata {
        Some(metadata) => {
            serde_json::to_writer(&mut *out, metadata).map_err(EmitError::Serialize)?
        }
        None => out.extend_from_slice(b"null"),
    }
    if let Some(owner) = fields.owner_id {
        out.extend_from_slice(br#","owner_id":"#);
        string(out, owner)?;
    }
    out.extend_from_slice(br#","payload":"#);
    let payload_at = out.len();
    payload(out).map_err(EmitError::Serialize)?;
    if out.get(payload_at) != Some(&b'{') {
        return Err(EmitError::Envelope {
            topic: topic.to_owned(),
            reason: "the envelope's `payload` must be a JSON object, and the event's JSON is not \
                     one"
            .into(),
        });
    }
    let digest = Md5::digest(&out[payload_at..]);
    hex(&mut out[hash_at..hash_at + 32], &digest);
    out.extend_from_slice(br#","request_id":"#);
    uuid(out, fields.request_id.unwrap_or_default());
    out.extend_from_slice(br#","session_id":"#);
    uuid(out, fields.session_id.unwrap_or_default());
    out.extend_from_slice(br#","tenant_id":"#);
    uuid(out, fields.tenant_id.unwrap_or_default());
    let at = fields.timestamp.unwrap_or_else(Utc::now);
    let mut buf = [0; 30];
    let Some(text) = crate::rfc3339::format(&at, &mut buf) else {
        return Err(EmitError::Envelope {
            topic: topic.to_owned(),
            reason: format!(
                "the timestamp {at} is outside the years 0 to 9999, which Go's time.Time reads"
            ),
        });
    };
    out.extend_from_slice(br#","timestamp":""#);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\"}");
    Ok(id)
}

/// A UUID as a JSON string, hyphenated and lower-case, as Go's `uuid.UUID` writes it.
fn uuid(out: &mut Vec<u8>, id: Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

/// Lower-case hex digits of `bytes` into `out` (twice as long).
pub(super) fn hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn settings() -> EnvelopeSettings {
        EnvelopeSettings::new("identity.auth.gateway.v1", "gateway").unwrap()
    }

    fn written(fields: &EnvelopeFields<'_>, payload: &str) -> Result<(Uuid, Vec<u8>), EmitError> {
        let mut out = b"prefix".to_vec();
        let id = write(&mut out, "audit", &settings(), "audit.log", fields, |out| {
            out.extend_from_slice(payload.as_bytes());
            Ok(())
        })?;
        Ok((id, out[b"prefix".len()..].to_vec()))
    }

    #[test]
    fn keys_are_in_gos_order_and_the_hash_is_the_payloads_md5() {
        let (id, bytes) = written(&EnvelopeFields::default(), r#"{"a":"\u00e9"}"#).unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // serde_json's map is sorted, as Go writes; the text must be in that order too.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mut at = 0;
        for key in &keys {
            let found = text[at..].find(&format!("\"{key}\":")).unwrap();
            at += found;
        }
        assert_eq!(keys.len(), 11, "{text}");
        assert_eq!(value["id"], id.to_string());
        // `printf '{"a":"\\u00e9"}' | md5sum`
        assert_eq!(value["md5_hash"], "054155e2fcaac21fa219f1194b648f62");
        assert_eq!(value["metadata"], Value::Null);
        assert_eq!(value["tenant_id"], Uuid::nil().to_string());
        assert!(value.get("message").is_none() && value.get("owner_id").is_none());
    }

    #[test]
    fn a_timestamp_go_cannot_read_is_refused() {
        let far = chrono::DateTime::<Utc>::from_timestamp(300_000_000_000, 0).unwrap();
        let fields = EnvelopeFields {
            timestamp: Some(far),
            ..EnvelopeFields::default()
        };
        let error = written(&fields, "{}").unwrap_err();
        assert!(error.to_string().contains("years 0 to 9999"), "{error}");
    }

    #[test]
    fn a_payload_that_is_not_an_object_or_an_event_without_a_type_is_refused() {
        let error = written(&EnvelopeFields::default(), "[1]").unwrap_err();
        assert!(matches!(error, EmitError::Envelope { .. }), "{error}");
        let mut out = Vec::new();
        let error = write(
            &mut out,
            "orders",
            &settings(),
            "",
            &EnvelopeFields::default(),
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(error.to_string().contains("no type"), "{error}");
    }
}
