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

/// Replaces, at any depth, the value of every key that matches one of `sensitive` (already
/// normalized).
pub(crate) fn mask(value: &mut Value, sensitive: &[String]) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let key = normalize(key);
                if sensitive.iter().any(|s| key.contains(s.as_str())) {
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
