//! Which librdkafka properties hold a secret: passwords, secrets, PEM text, the OAUTHBEARER
//! settings and JAAS configuration. Their values are written as [`MASK`](crate::MASK) wherever
//! kafka-events shows a configuration or an error.
//!
//! ```
//! use kafka_events_rules::is_secret_property;
//!
//! assert!(is_secret_property("sasl.password"));
//! assert!(is_secret_property("ssl.key.pem"));
//! assert!(!is_secret_property("linger.ms"));
//! ```

/// Whether the librdkafka property `name` holds a secret (case and surrounding spaces ignored).
pub fn is_secret_property(name: &str) -> bool {
    let name = name.trim();
    let has = |part: &str| {
        name.as_bytes()
            .windows(part.len())
            .any(|w| w.eq_ignore_ascii_case(part.as_bytes()))
    };
    let starts = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    let ends = |suffix: &str| {
        name.len() >= suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    has("password")
        || has("secret")
        || has("credential")
        || ends(".pem")
        || starts("sasl.oauthbearer.")
        || name.eq_ignore_ascii_case("sasl.jaas.config")
        || starts("ssl.keystore.")
        || starts("ssl_")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(is_secret_property(secret), "{secret}");
        }
        for plain in [
            "sasl.username",
            "sasl.mechanism",
            "ssl.ca.location",
            "ssl.key.location",
            "linger.ms",
            "security.protocol",
        ] {
            assert!(!is_secret_property(plain), "{plain}");
        }
    }
}
