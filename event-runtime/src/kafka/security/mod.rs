//! Connecting to a secured cluster: TLS and SASL in [`SecurityConfig`], and OAUTHBEARER tokens
//! from a [`TokenProvider`] the application supplies.
//!
//! TLS, SCRAM and OAUTHBEARER need librdkafka built with OpenSSL: the `ssl` feature (system
//! OpenSSL) or `ssl-vendored` (OpenSSL built from source). Without either, only SASL PLAIN over
//! plaintext works, and asking for more is a [`ConfigError::Security`] that says so.
//!
//! The settings are here; [`apply`] turns them into librdkafka properties, and [`tokens`] keeps
//! OAUTHBEARER tokens fresh on a thread of their own.

mod apply;
mod tokens;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(super) use tokens::Tokens;
pub use tokens::{OAuthToken, TokenProvider};

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
    /// [`KafkaProducer::with_token_provider`](crate::KafkaProducer::with_token_provider).
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
