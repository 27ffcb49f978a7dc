//! Turning [`SecurityConfig`] into librdkafka properties, checking that the settings agree
//! with each other and with this build.

use rdkafka::ClientConfig;

use super::{HAS_SSL, PemSource, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig};
use crate::error::ConfigError;

impl SecurityConfig {
    /// Whether any setting is given.
    pub(crate) fn is_set(&self) -> bool {
        self.protocol.is_some() || self.tls.is_some() || self.sasl.is_some()
    }

    /// Sets the librdkafka properties, or says what is wrong.
    pub(crate) fn apply(&self, config: &mut ClientConfig) -> Result<(), ConfigError> {
        let wrong = |reason: String| Err(ConfigError::Security { reason });
        let protocol = match (self.protocol, &self.tls, &self.sasl) {
            (Some(p), _, _) => p,
            (None, Some(_), Some(_)) => SecurityProtocol::SaslSsl,
            (None, None, Some(_)) => SecurityProtocol::SaslPlaintext,
            (None, Some(_), None) => SecurityProtocol::Ssl,
            (None, None, None) => return Ok(()),
        };
        let uses_tls = matches!(protocol, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl);
        let uses_sasl = matches!(
            protocol,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        );
        if self.tls.is_some() && !uses_tls {
            return wrong(format!(
                "`security.tls` is set but `security.protocol` is `{}`: use `ssl` or `sasl_ssl`, or leave `protocol` out",
                protocol.as_str()
            ));
        }
        if self.sasl.is_some() != uses_sasl {
            return wrong(format!(
                "`security.protocol` is `{}` but `security.sasl` is {}: set both or neither",
                protocol.as_str(),
                if self.sasl.is_some() {
                    "set"
                } else {
                    "missing"
                }
            ));
        }
        let needs_ssl = uses_tls
            || self.sasl.as_ref().is_some_and(|s| {
                matches!(
                    s.mechanism,
                    SaslMechanism::ScramSha256
                        | SaslMechanism::ScramSha512
                        | SaslMechanism::OAuthBearer
                )
            });
        if needs_ssl && !HAS_SSL {
            return wrong(
                "TLS, SCRAM and OAUTHBEARER need librdkafka built with OpenSSL: enable the \
                 `ssl` feature of kafka-events (system OpenSSL, e.g. Debian's libssl-dev) or \
                 `ssl-vendored` (OpenSSL built from source)"
                    .into(),
            );
        }
        config.set("security.protocol", protocol.as_str());
        // TLS chosen by `protocol` alone gets the defaults: the system's CAs, hostnames checked.
        let default_tls;
        let tls = match &self.tls {
            Some(tls) => Some(tls),
            None if uses_tls => {
                default_tls = TlsConfig::default();
                Some(&default_tls)
            }
            None => None,
        };
        if let Some(tls) = tls {
            let pem = |config: &mut ClientConfig, source: &PemSource, location: &str, pem: &str| {
                match source {
                    PemSource::File(path) => config.set(location, path.display().to_string()),
                    PemSource::Pem(text) => config.set(pem, text.expose()),
                };
            };
            match &tls.ca {
                Some(ca) => pem(config, ca, "ssl.ca.location", "ssl.ca.pem"),
                // The system's CAs, wherever this OpenSSL (the system's, or one built from
                // source with its own default directory) finds them.
                None => {
                    config.set("ssl.ca.location", "probe");
                }
            }
            if let Some(certificate) = &tls.certificate {
                pem(
                    config,
                    certificate,
                    "ssl.certificate.location",
                    "ssl.certificate.pem",
                );
            }
            if let Some(key) = &tls.key {
                pem(config, key, "ssl.key.location", "ssl.key.pem");
            }
            if tls.certificate.is_some() != tls.key.is_some() {
                return wrong(
                    "mutual TLS needs both `security.tls.certificate` and `security.tls.key`"
                        .into(),
                );
            }
            if let Some(password) = &tls.key_password {
                config.set("ssl.key.password", password.expose());
            }
            config.set(
                "ssl.endpoint.identification.algorithm",
                if tls.verify_hostname { "https" } else { "none" },
            );
        }
        if let Some(sasl) = &self.sasl {
            config.set("sasl.mechanism", sasl.mechanism.as_str());
            if sasl.mechanism != SaslMechanism::OAuthBearer {
                if sasl.username.is_empty() {
                    return wrong(format!(
                        "SASL {} needs `security.sasl.username`",
                        sasl.mechanism.as_str()
                    ));
                }
                if sasl.password.expose().is_empty() {
                    return wrong(format!(
                        "SASL {} needs `security.sasl.password` (it is empty)",
                        sasl.mechanism.as_str()
                    ));
                }
                config
                    .set("sasl.username", &sasl.username)
                    .set("sasl.password", sasl.password.expose());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SECURITY_PROPERTIES, SaslConfig};
    use super::*;
    use crate::kafka::KafkaConfig;

    fn properties(config: &KafkaConfig) -> Result<Vec<(String, String)>, ConfigError> {
        let client = config.client_config()?;
        let mut pairs: Vec<(String, String)> = SECURITY_PROPERTIES
            .iter()
            .filter_map(|n| client.get(n).map(|v| (n.to_string(), v.to_owned())))
            .collect();
        pairs.sort();
        Ok(pairs)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn sasl_plain_without_tls_needs_no_openssl() {
        let config = KafkaConfig::new(["h:1"]).sasl(SaslMechanism::Plain, "ann", "pw");
        assert_eq!(
            properties(&config).unwrap(),
            pairs(&[
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "ann"),
                ("sasl.password", "pw"),
            ])
        );
    }

    #[test]
    fn the_protocol_follows_from_what_is_set() {
        let both = SecurityConfig {
            tls: Some(TlsConfig {
                ca: Some(PemSource::File("/ca.pem".into())),
                verify_hostname: false,
                ..TlsConfig::default()
            }),
            sasl: Some(SaslConfig {
                mechanism: SaslMechanism::ScramSha512,
                username: "u".into(),
                password: "p".into(),
            }),
            protocol: None,
        };
        let result = properties(&KafkaConfig::new(["h:1"]).security(both));
        if HAS_SSL {
            assert_eq!(
                result.unwrap(),
                pairs(&[
                    ("security.protocol", "sasl_ssl"),
                    ("sasl.mechanism", "SCRAM-SHA-512"),
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                    ("ssl.ca.location", "/ca.pem"),
                    ("ssl.endpoint.identification.algorithm", "none"),
                ])
            );
        } else {
            let err = result.unwrap_err();
            assert!(err.to_string().contains("`ssl` feature"), "{err}");
        }
    }

    #[test]
    fn contradictions_are_errors_that_say_what_to_fix() {
        let cases = [
            SecurityConfig {
                protocol: Some(SecurityProtocol::SaslPlaintext),
                ..SecurityConfig::default()
            },
            SecurityConfig {
                protocol: Some(SecurityProtocol::Plaintext),
                sasl: Some(SaslConfig {
                    mechanism: SaslMechanism::Plain,
                    username: "u".into(),
                    password: "p".into(),
                }),
                ..SecurityConfig::default()
            },
            SecurityConfig {
                sasl: Some(SaslConfig {
                    mechanism: SaslMechanism::Plain,
                    username: String::new(),
                    password: "p".into(),
                }),
                ..SecurityConfig::default()
            },
        ];
        for security in cases {
            let err =
                properties(&KafkaConfig::new(["h:1"]).security(security.clone())).unwrap_err();
            assert!(
                matches!(err, ConfigError::Security { .. }),
                "{security:?}: {err}"
            );
        }
        let reserved = KafkaConfig::new(["h:1"])
            .sasl(SaslMechanism::Plain, "u", "p")
            .property("sasl.password", "other");
        assert!(matches!(
            properties(&reserved),
            Err(ConfigError::ReservedProperty {
                field: "security",
                ..
            })
        ));
    }

    #[test]
    fn secrets_never_show() {
        let config = KafkaConfig::new(["h:1"])
            .sasl(SaslMechanism::ScramSha512, "ann", "SASL-PW")
            .tls(TlsConfig {
                key: Some(PemSource::Pem("-----BEGIN PRIVATE KEY----- KEY-PEM".into())),
                certificate: Some(PemSource::File("/c.pem".into())),
                key_password: Some("KEY-PW".into()),
                ..TlsConfig::default()
            })
            .property("sasl.oauthbearer.client.secret", "OAUTH-SECRET")
            .property("ssl.keystore.password", "KEYSTORE-PW")
            .property("linger.ms", "7");
        let shown = [
            format!("{config:?}"),
            serde_json::to_string(&config).unwrap(),
            config.redact("librdkafka said SASL-PW and KEY-PW and OAUTH-SECRET"),
        ];
        for text in &shown {
            for secret in [
                "SASL-PW",
                "KEY-PEM",
                "KEY-PW",
                "OAUTH-SECRET",
                "KEYSTORE-PW",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert!(shown[0].contains("linger.ms") && shown[0].contains("\"7\""));
    }
}
