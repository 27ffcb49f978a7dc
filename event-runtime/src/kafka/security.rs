//! Connecting to a secured cluster: TLS and SASL in [`SecurityConfig`], and OAUTHBEARER tokens
//! from a [`TokenProvider`] the application supplies.
//!
//! TLS, SCRAM and OAUTHBEARER need librdkafka built with OpenSSL: the `ssl` feature (system
//! OpenSSL) or `ssl-vendored` (OpenSSL built from source). Without either, only SASL PLAIN over
//! plaintext works, and asking for more is a [`ConfigError::Security`] that says so.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::flow::{Backoff, lock};
use crate::secret::Secret;

/// How the producer authenticates and encrypts its connections. Every part is optional: the
/// protocol follows from what is set (TLS and SASL: `sasl_ssl`; SASL: `sasl_plaintext`; TLS:
/// `ssl`), unless given.
///
/// ```
/// use kafka_events::{KafkaConfig, SaslMechanism, SecurityConfig, TlsConfig, PemSource};
///
/// // SCRAM-SHA-512 without TLS, as the Go services' cluster uses.
/// let config = KafkaConfig::new(["kafka-0:9092"])
///     .sasl(SaslMechanism::ScramSha512, "billing-api", "s3cr3t");
/// // Mutual TLS with a private CA.
/// let mtls = KafkaConfig::new(["kafka-0:9093"]).tls(TlsConfig {
///     ca: Some(PemSource::File("/etc/kafka/ca.pem".into())),
///     certificate: Some(PemSource::File("/etc/kafka/client.pem".into())),
///     key: Some(PemSource::File("/etc/kafka/client.key".into())),
///     ..TlsConfig::default()
/// });
/// // The password never shows.
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`; by default what `tls` and `sasl` imply.
    pub protocol: Option<SecurityProtocol>,
    /// Encryption and the broker's (and optionally the client's) certificate.
    pub tls: Option<TlsConfig>,
    /// Authentication.
    pub sasl: Option<SaslConfig>,
}

/// librdkafka's `security.protocol`.
///
/// ```
/// use kafka_events::{SecurityConfig, SecurityProtocol};
///
/// // Usually implied by `tls` and `sasl`; set it to be explicit.
/// let security: SecurityConfig = serde_json::from_str(r#"{
///     "protocol": "sasl_plaintext",
///     "sasl": { "mechanism": "plain", "username": "billing-api", "password": "s3cr3t" }
/// }"#)?;
/// assert_eq!(security.protocol, Some(SecurityProtocol::SaslPlaintext));
/// assert_eq!(serde_json::to_string(&SecurityProtocol::SaslSsl)?, r#""sasl_ssl""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    /// Neither encryption nor authentication.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over an unencrypted connection.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

/// TLS settings.
///
/// ```
/// use kafka_events::{KafkaConfig, PemSource, TlsConfig};
///
/// // By default: the system's CAs, and the broker's certificate must name its host.
/// assert!(TlsConfig::default().verify_hostname);
///
/// let config: KafkaConfig = serde_json::from_str(r#"{
///     "brokers": ["kafka-0:9093"],
///     "security": { "tls": {
///         "ca": { "file": "/etc/kafka/ca.pem" },
///         "certificate": { "file": "/etc/kafka/client.pem" },
///         "key": { "file": "/etc/kafka/client.key" },
///         "key_password": "k3y-pa55"
///     } }
/// }"#)?;
/// let tls = config.security.tls.as_ref().unwrap();
/// assert_eq!(tls.ca, Some(PemSource::File("/etc/kafka/ca.pem".into())));
/// assert!(!format!("{config:?}").contains("k3y-pa55"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The CA certificate(s) that signed the brokers' certificates; the system's CAs when not
    /// given (librdkafka probes the usual locations, also with `ssl-vendored`).
    pub ca: Option<PemSource>,
    /// The client's certificate, for mutual TLS.
    pub certificate: Option<PemSource>,
    /// The client's private key, for mutual TLS.
    pub key: Option<PemSource>,
    /// The password of an encrypted private key.
    pub key_password: Option<Secret>,
    /// Whether the broker's certificate must name the host connected to (default: yes).
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca: None,
            certificate: None,
            key: None,
            key_password: None,
            verify_hostname: true,
        }
    }
}

/// A certificate or key: a PEM file, or the PEM text itself (say, from a secret store).
///
/// ```
/// use kafka_events::{PemSource, Secret};
///
/// let file: PemSource = serde_json::from_str(r#"{ "file": "/etc/kafka/ca.pem" }"#)?;
/// assert_eq!(file, PemSource::File("/etc/kafka/ca.pem".into()));
///
/// let text = "-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----\n";
/// let inline = PemSource::Pem(Secret::new(text));
/// assert_eq!(format!("{inline:?}"), "Pem(***)");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PemSource {
    /// A file holding PEM text.
    File(PathBuf),
    /// PEM text (`-----BEGIN ...`); never shown.
    Pem(Secret),
}

/// SASL settings.
///
/// ```
/// use kafka_events::{KafkaConfig, SaslConfig, SaslMechanism};
///
/// let sasl: SaslConfig = serde_json::from_str(
///     r#"{ "mechanism": "scram_sha512", "username": "billing-api", "password": "s3cr3t" }"#,
/// )?;
/// assert_eq!(sasl.password.expose(), "s3cr3t");
/// assert!(!format!("{sasl:?}").contains("s3cr3t"));
///
/// // The same, in code:
/// let config = KafkaConfig::new(["kafka-0:9092"])
///     .sasl(SaslMechanism::ScramSha512, "billing-api", "s3cr3t");
/// assert_eq!(config.security.sasl, Some(sasl));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user (not used by `oauthbearer`).
    #[serde(default)]
    pub username: String,
    /// The password (not used by `oauthbearer`).
    #[serde(default)]
    pub password: Secret,
}

/// A SASL mechanism.
///
/// ```
/// use kafka_events::SaslMechanism;
///
/// let mechanism: SaslMechanism = serde_json::from_str(r#""scram_sha256""#)?;
/// assert_eq!(mechanism, SaslMechanism::ScramSha256);
/// assert_eq!(serde_json::to_string(&SaslMechanism::OAuthBearer)?, r#""oauthbearer""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaslMechanism {
    /// `PLAIN`: the password itself goes to the broker (use it over TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER`, with tokens from the [`TokenProvider`] given to
    /// [`KafkaProducer::with_token_provider`](super::KafkaProducer::with_token_provider).
    #[serde(rename = "oauthbearer")]
    OAuthBearer,
}

impl SaslMechanism {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// The librdkafka properties the typed security settings own.
pub(super) const SECURITY_PROPERTIES: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
];

/// Whether librdkafka was built with OpenSSL (the `ssl` or `ssl-vendored` feature).
pub(super) const HAS_SSL: bool = cfg!(feature = "ssl");

impl SecurityConfig {
    /// Whether any setting is given.
    pub(super) fn is_set(&self) -> bool {
        self.protocol.is_some() || self.tls.is_some() || self.sasl.is_some()
    }

    /// Sets the librdkafka properties, or says what is wrong.
    pub(super) fn apply(&self, config: &mut ClientConfig) -> Result<(), ConfigError> {
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

/// An OAUTHBEARER token.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kafka_events::{OAuthToken, Secret};
///
/// let token = OAuthToken {
///     value: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
///     principal: "billing-api".into(),
///     expires_at: SystemTime::now() + Duration::from_secs(3600),
/// };
/// assert!(token.expires_at > SystemTime::now());
/// assert!(!format!("{token:?}").contains("eyJ")); // the token never shows
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthToken {
    /// The token (a JWT, a signed IAM request, ...).
    pub value: Secret,
    /// The principal it stands for.
    pub principal: String,
    /// When it expires.
    pub expires_at: SystemTime,
}

/// Supplies OAUTHBEARER tokens: an OIDC client-credentials call, a cloud IAM signer (e.g. MSK
/// IAM). The producer calls it on a thread of its own, never on librdkafka's, ahead of the
/// current token's expiry; an error is logged (without the token) and retried, and so is a
/// panic. That thread runs no async runtime: a provider built on an async client keeps a
/// `tokio::runtime::Handle` from where it was made and calls `handle.block_on(..)`.
///
/// A closure `Fn() -> Result<OAuthToken, Box<dyn Error + Send + Sync>>` is one (see
/// [`KafkaProducer::with_token_provider`](super::KafkaProducer::with_token_provider)); so is a
/// type of your own:
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kafka_events::{OAuthToken, Secret, TokenProvider};
///
/// struct ClientCredentials {
///     client_id: String,
/// }
///
/// impl TokenProvider for ClientCredentials {
///     fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
///         // A real provider asks the identity provider here.
///         Ok(OAuthToken {
///             value: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
///             principal: self.client_id.clone(),
///             expires_at: SystemTime::now() + Duration::from_secs(3600),
///         })
///     }
/// }
///
/// // Given to `KafkaProducer::with_token_provider(&config, provider)`.
/// let provider = ClientCredentials { client_id: "billing-api".into() };
/// assert_eq!(provider.token()?.principal, "billing-api");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait TokenProvider: Send + Sync + 'static {
    /// Fetches a fresh token.
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>>;
}

impl<F> TokenProvider for F
where
    F: Fn() -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> + Send + Sync + 'static,
{
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
        self()
    }
}

/// The current token, kept fresh by a thread of its own.
pub(super) struct Tokens {
    current: Mutex<Option<OAuthToken>>,
    changed: Condvar,
}

/// How long librdkafka's thread waits for the first token.
const FIRST_TOKEN: Duration = Duration::from_secs(5);

impl Tokens {
    /// Starts fetching tokens from `provider`, refreshing each when 70 % of its life has passed.
    pub fn start(provider: Arc<dyn TokenProvider>) -> std::io::Result<Arc<Tokens>> {
        let tokens = Arc::new(Tokens {
            current: Mutex::new(None),
            changed: Condvar::new(),
        });
        let weak = Arc::downgrade(&tokens);
        std::thread::Builder::new()
            .name("kafka-events-oauth".into())
            .spawn(move || {
                let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
                loop {
                    // A provider that panics (one that looks for a Tokio runtime on this
                    // plain thread, say) is retried like one that fails, not lost for good.
                    let fetched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        provider.token()
                    }))
                    .unwrap_or_else(|_| {
                        Err("the token provider panicked (it runs on a thread of its own, \
                             outside any async runtime)"
                            .into())
                    });
                    let pause = match fetched {
                        Ok(token) => {
                            backoff.reset();
                            let life = token
                                .expires_at
                                .duration_since(SystemTime::now())
                                .unwrap_or_default();
                            let Some(tokens) = weak.upgrade() else { return };
                            *lock(&tokens.current) = Some(token);
                            tokens.changed.notify_all();
                            (life * 7 / 10).max(Duration::from_secs(1))
                        }
                        Err(error) => {
                            tracing::error!(%error, "kafka-events: the OAUTHBEARER token provider failed; retrying");
                            backoff.next()
                        }
                    };
                    // Ends with the producer (the last strong reference).
                    let deadline = std::time::Instant::now() + pause;
                    loop {
                        let Some(tokens) = weak.upgrade() else { return };
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        let guard = lock(&tokens.current);
                        let _ = tokens
                            .changed
                            .wait_timeout(guard, left.min(Duration::from_secs(1)));
                    }
                }
            })?;
        Ok(tokens)
    }

    /// Waits up to `timeout` for the provider's first token; whether it came.
    pub fn wait_first(&self, timeout: Duration) -> bool {
        let guard = lock(&self.current);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |t| t.is_none())
            .unwrap_or_else(|e| e.into_inner());
        guard.is_some()
    }

    /// The current token for librdkafka (on its thread): the cached one, or at start up to a few
    /// seconds' wait for the first.
    pub fn for_librdkafka(
        &self,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        let guard = lock(&self.current);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, FIRST_TOKEN, |t| t.is_none())
            .unwrap_or_else(|e| e.into_inner());
        let token = guard
            .as_ref()
            .ok_or("no OAUTHBEARER token yet: the token provider has not answered")?;
        let lifetime_ms = token
            .expires_at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the OAUTHBEARER token expires before 1970")?
            .as_millis() as i64;
        Ok(rdkafka::client::OAuthToken {
            token: token.value.expose().to_owned(),
            principal_name: token.principal.clone(),
            lifetime_ms,
        })
    }
}

#[cfg(test)]
mod tests {
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
