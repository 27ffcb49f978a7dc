//! Masking of sensitive JSON fields before a payload is emitted.

use serde_json::Value;

/// Field names masked by default. A JSON key matches a name when, lower-cased and without `_`
/// and `-`, it contains it: `api_key`, `X-Api-Key` and `apiKey` all match `apikey`.
pub const DEFAULT_SENSITIVE_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
    "creditcard",
    "cardnumber",
    "cvv",
    "ssn",
];

/// What a masked value becomes.
pub(crate) const MASK: &str = "***";

pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `key`, normalized, contains any of `sensitive` (already normalized). This runs for
/// every key of every payload, so it does not allocate for keys of ordinary length.
fn is_sensitive(key: &str, sensitive: &[String]) -> bool {
    let mut buf = [0u8; 128];
    let mut len = 0;
    for b in key.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if len == buf.len() {
            let key = normalize(key);
            return sensitive.iter().any(|s| key.contains(s.as_str()));
        }
        buf[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let key = &buf[..len];
    sensitive.iter().any(|s| {
        let s = s.as_bytes();
        !s.is_empty() && key.windows(s.len()).any(|w| w == s)
    })
}

/// Replaces, at any depth, the value of every key that matches one of `sensitive` (already
/// normalized).
pub(crate) fn mask(value: &mut Value, sensitive: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_sensitive(key, sensitive) {
                    *value = Value::String(MASK.into());
                } else {
                    mask(value, sensitive);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, sensitive)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_at_any_depth_and_spelling() {
        let sensitive: Vec<String> = DEFAULT_SENSITIVE_FIELDS
            .iter()
            .map(|s| normalize(s))
            .collect();
        let mut value = json!({
            "name": "ann",
            "Password": "p",
            "nested": {"api_key": "k", "X-Api-Key": "k2", "list": [{"refresh_token": "t", "ok": 1}]},
            "apiKey": {"deep": "object"}
        });
        mask(&mut value, &sensitive);
        assert_eq!(
            value,
            json!({
                "name": "ann",
                "Password": "***",
                "nested": {"api_key": "***", "X-Api-Key": "***", "list": [{"refresh_token": "***", "ok": 1}]},
                "apiKey": "***"
            })
        );
    }
}
