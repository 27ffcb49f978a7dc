//! Which librdkafka properties hold a secret. Their values are written as [`MASK`](crate::MASK)
//! wherever kafka-events shows a configuration or an error.
//!
//! The rule errs on the side of hiding: a property is secret when its name mentions a password,
//! a secret, a key, a token or a credential (also abbreviated: `pwd`, `passwd`), holds PEM text
//! or JAAS configuration, or is one of librdkafka's secret properties misspelled (within two
//! edits: `sasl.pasword`, `ssl.key.pasword`). A misspelled name is refused by librdkafka anyway,
//! but its value must not show in the error that says so.
//!
//! ```
//! use kafka_events_rules::is_secret_property;
//!
//! assert!(is_secret_property("sasl.password"));
//! assert!(is_secret_property("sasl.passwd"));
//! assert!(is_secret_property("ssl.key.pasword"));
//! assert!(is_secret_property("sasl.pssword"));
//! assert!(!is_secret_property("linger.ms"));
//! ```

use alloc::vec::Vec;

/// librdkafka's properties that hold a secret, as librdkafka spells them.
pub const SECRET_PROPERTIES: &[&str] = &[
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.client.secret",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl.certificate.pem",
    "ssl.ca.pem",
    "ssl_key",
];

/// Parts of a property name that mark it as holding a secret.
const SECRET_PARTS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "key",
    "token",
    "credential",
    "jaas",
    "pem",
    "oauthbearer",
];

/// Whether the librdkafka property `name` holds a secret (case and surrounding spaces ignored).
pub fn is_secret_property(name: &str) -> bool {
    let name = name.trim();
    let lower: Vec<u8> = name.bytes().map(|b| b.to_ascii_lowercase()).collect();
    SECRET_PARTS
        .iter()
        .any(|part| lower.windows(part.len()).any(|w| w == part.as_bytes()))
        || SECRET_PROPERTIES
            .iter()
            .any(|secret| edit_distance(&lower, secret.as_bytes()) <= 2)
}

/// The Levenshtein distance between two byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = alloc::vec![0; b.len() + 1];
    for (i, &x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(x != y);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        core::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One table: names that hold a secret, and names that do not.
    #[test]
    fn secret_properties_by_name() {
        for secret in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl.certificate.pem",
            "ssl.ca.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.jaas.config",
            "SASL.PASSWORD",
            "ssl.key.pem ",
            " sasl.oauthbearer.config",
            "sasl.jaas.config\t",
            // Misspelled: librdkafka refuses them, and the value must not show.
            "sasl.passwd",
            "sasl.pasword",
            "sasl.pssword",
            "ssl.key.pasword",
            "ssl.kye.password",
            "sasl.jass.config",
            "ssl_keey",
            // Anything that says what it holds.
            "my.api.token",
            "client.credentials",
            "ssl.key.location",
        ] {
            assert!(is_secret_property(secret), "{secret}");
        }
        for plain in [
            "sasl.username",
            "sasl.mechanism",
            "ssl.ca.location",
            "linger.ms",
            "security.protocol",
            "compression.type",
            "acks",
            "client.id",
            "message.max.bytes",
            "enable.idempotence",
        ] {
            assert!(!is_secret_property(plain), "{plain}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"same", b"same"), 0);
    }
}
