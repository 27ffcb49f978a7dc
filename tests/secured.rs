//! Secured brokers: SASL SCRAM on Tansu with `--authentication`, TLS through a terminator in
//! front of it (`socat`), both together, mutual TLS, and the mechanisms Tansu 0.6 does not
//! implement (PLAIN, OAUTHBEARER) through a SASL gateway. Every refusal is a typed error that
//! arrives long before the delivery timeout, and no secret shows in any error, `Debug` string
//! or log line.
//!
//! Needs the `ssl` feature, `openssl` and `socat` on the PATH, and Tansu: `KAFKA_EVENTS_TANSU`
//! names its binary (`scripts/tansu.sh install`); without it the tests say they were skipped,
//! unless `KAFKA_EVENTS_REQUIRE_TANSU` is set (as `.ci/run` does).
//!
//! ```text
//! cargo test --features ssl --test secured
//! ```

#![cfg(feature = "ssl")]

#[path = "support/secured.rs"]
mod secured;
#[path = "support/tansu.rs"]
mod tansu;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use kafka_events::{
    EmitError, KafkaConfig, KafkaEvent, KafkaProducer, OAuthToken, PemSource, Producer, SaslConfig,
    SaslMechanism, Secret, SecurityConfig, TlsConfig,
};
use secured::{Certs, SaslGateway, Terminator};
use serde::Serialize;
use tansu::{Tansu, free_port};

const USER: &str = "billing-api";
const PASSWORD: &str = "scram-secret-7f3a";
const WRONG_PASSWORD: &str = "not-the-password-91c2";
/// Long, so that an error arriving before it can only be the typed refusal.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Login {
    id: u64,
    user: String,
}

fn login(id: u64) -> Login {
    Login {
        id,
        user: "ann".into(),
    }
}

/// Every secret a test uses: none may show in an error, a `Debug` string or a log line.
const SECRETS: &[&str] = &[
    PASSWORD,
    WRONG_PASSWORD,
    Certs::KEY_PASSWORD,
    "PLAIN-secret-5d1e",
    "oauth-token-",
    "BEGIN PRIVATE KEY",
    "BEGIN ENCRYPTED PRIVATE KEY",
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

/// Everything logged in this process, for [`assert_no_secret`].
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The end of the log, for a failure's message.
fn log_tail() -> String {
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    let logs: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains(" INFO "))
        .collect();
    logs[logs.len().saturating_sub(30)..].join("\n")
}

fn assert_logs_hold_no_secret() {
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert_no_secret("the log", &logs);
}

/// The Tansu binary, or `None` (the test is skipped) when there is none and none is required.
fn tansu_binary() -> Option<PathBuf> {
    logs();
    Tansu::binary_for_test()
}

/// A Tansu that requires SCRAM: `USER` has SCRAM-SHA-512 and SCRAM-SHA-256 credentials,
/// `sha256-only` only the latter. Clients are told to connect to `advertised`, if given.
fn scram_broker(bin: PathBuf, dir: &tempfile::TempDir, advertised: Option<String>) -> Tansu {
    let mut tansu =
        Tansu::start_advertising(bin, dir.path(), "sqlite://tansu.db".into(), advertised);
    tansu.create_topic("audit", 3);
    tansu.create_user(USER, PASSWORD, "scram512");
    tansu.create_user(USER, PASSWORD, "scram256");
    tansu.create_user("sha256-only", PASSWORD, "scram256");
    tansu.require_authentication();
    tansu
}

/// A plain Tansu behind a TLS terminator serving `bundle` (requiring a client certificate
/// from the test CA when `mutual`); clients connect to `localhost:PORT`.
fn tls_broker(
    bin: PathBuf,
    dir: &tempfile::TempDir,
    certs: &Certs,
    bundle: &str,
    mutual: bool,
) -> (Tansu, Terminator) {
    let port = free_port();
    let tansu = Tansu::start_advertising(
        bin,
        dir.path(),
        "memory://tansu/".into(),
        Some(format!("localhost:{port}")),
    );
    tansu.create_topic("audit", 3);
    let ca = certs.path("ca.pem");
    let terminator = Terminator::start(
        port,
        &certs.path(bundle),
        mutual.then_some(ca.as_path()),
        &tansu.bootstrap(),
    );
    (tansu, terminator)
}

fn config(bootstrap: &str) -> KafkaConfig {
    KafkaConfig::new([bootstrap])
        .delivery_timeout(DELIVERY_TIMEOUT)
        // Notices a broker that accepts the client again quickly.
        .property("reconnect.backoff.max.ms", "500")
}

fn tls(certs: &Certs) -> TlsConfig {
    TlsConfig {
        ca: Some(PemSource::File(certs.path("ca.pem"))),
        ..TlsConfig::default()
    }
}

/// Emits one event and waits for the broker's acknowledgement.
async fn deliver(config: &KafkaConfig) -> Result<(), EmitError> {
    let producer = KafkaProducer::new(config).expect("valid configuration");
    assert_no_secret("the configuration's Debug", &format!("{config:?}"));
    assert_no_secret(
        "the configuration's JSON",
        &serde_json::to_string(config).unwrap(),
    );
    let started = std::time::Instant::now();
    let result = login(1).emit(&producer).await.map(|_| ());
    if let Err(EmitError::Authentication { .. } | EmitError::Tls { .. }) = &result {
        // A refusal is told within a couple of seconds, not after the delivery timeout.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "refused after {:?}",
            started.elapsed()
        );
    }
    // Whether librdkafka took the record: not when the refusal was confirmed before the emit
    // (on a loaded machine the producer's first connection can fail and be confirmed first),
    // and then the emit was refused on arrival, with nothing queued to hand back.
    let queued = producer.stats().enqueued > 0;
    let closed = producer
        .close(Duration::from_secs(if result.is_ok() { 5 } else { 1 }))
        .await;
    match &result {
        Ok(()) => {
            closed.unwrap();
        }
        Err(error) => {
            assert_no_secret("the error", &error.to_string());
            assert_no_secret("the error's Debug", &format!("{error:?}"));
            // The refused record stayed queued, and `close` hands it back; or it was refused
            // on arrival, never queued, and there is nothing to hand back.
            match closed {
                Err(kafka_events::CloseError::Undelivered { messages, .. }) if queued => {
                    assert_eq!(messages.len(), 1)
                }
                Ok(report) if !queued => assert_eq!(report.spooled, 0),
                other => panic!("queued: {queued}, {other:?}"),
            }
        }
    }
    assert_logs_hold_no_secret();
    result
}

#[tokio::test]
async fn scram_sha_512_and_256_deliver() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tansu = scram_broker(bin, &dir, None);
    for mechanism in [SaslMechanism::ScramSha512, SaslMechanism::ScramSha256] {
        let config = config(&tansu.bootstrap()).sasl(mechanism, USER, PASSWORD);
        deliver(&config)
            .await
            .unwrap_or_else(|e| panic!("{mechanism:?}: {e}"));
    }
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_a_typed_error_at_once() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tansu = scram_broker(bin, &dir, None);
    for (mechanism, user, password) in [
        (SaslMechanism::ScramSha512, USER, WRONG_PASSWORD),
        (SaslMechanism::ScramSha256, USER, WRONG_PASSWORD),
        (SaslMechanism::ScramSha512, "nobody", PASSWORD),
        // Its only credential is for the other mechanism.
        (SaslMechanism::ScramSha512, "sha256-only", PASSWORD),
    ] {
        let config = config(&tansu.bootstrap()).sasl(mechanism, user, password);
        match deliver(&config).await {
            Err(EmitError::Authentication { reason }) => {
                assert!(reason.contains("SASL"), "{reason}")
            }
            other => panic!("{mechanism:?} as {user}: {other:?}"),
        }
    }
}

/// Once the client is refused, awaited emits fail at once (no waiting for the delivery
/// timeout), detached ones wait in the spool; and when the broker accepts the client (here:
/// its user is created), everything is delivered.
#[tokio::test]
async fn a_refused_client_recovers_when_the_broker_accepts_it() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let tansu = scram_broker(bin, &dir, None);
    let config = config(&tansu.bootstrap())
        .sasl(SaslMechanism::ScramSha512, "late-user", PASSWORD)
        .spool(kafka_events::SpoolConfig::new(spool.path()));
    let producer = KafkaProducer::new(&config).unwrap();
    for id in 0..3 {
        match login(id).emit(&producer).await {
            Err(EmitError::Authentication { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    for id in 10..20 {
        login(id).emit_detached(&producer).unwrap();
    }
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| s.spooled >= 10)
            .await,
        "{:?}\n{}",
        producer.stats(),
        log_tail()
    );
    {
        // Tansu's CLI can't log in to a broker requiring authentication: a second one on the
        // same storage creates the user, which the first sees at the next login.
        let side = tansu.side_door();
        side.create_user("late-user", PASSWORD, "scram512");
    }
    assert!(
        producer
            .wait_until(Duration::from_secs(30), |s| !s.brokers_down
                && s.spooled >= 10
                && s.replayed == s.spooled)
            .await,
        "{:?}",
        producer.stats()
    );
    login(4).emit(&producer).await.unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
    assert_logs_hold_no_secret();
}

/// Tansu 0.6 implements SCRAM only: asking for PLAIN is refused at once, and says why.
#[tokio::test]
async fn a_mechanism_the_broker_lacks_is_a_typed_error_at_once() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let tansu = scram_broker(bin, &dir, None);
    let config = config(&tansu.bootstrap()).sasl(SaslMechanism::Plain, USER, PASSWORD);
    match deliver(&config).await {
        Err(EmitError::Authentication { reason }) => {
            assert!(reason.contains("PLAIN"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// A plain broker behind a SASL gateway that accepts `mechanisms` with `check`.
fn gatewayed(
    bin: PathBuf,
    dir: &tempfile::TempDir,
    mechanisms: &[&str],
    check: Arc<secured::Check>,
) -> (Tansu, SaslGateway) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let tansu = Tansu::start_advertising(bin, dir.path(), "memory://tansu/".into(), Some(address));
    tansu.create_topic("audit", 3);
    let gateway = SaslGateway::start(listener, mechanisms, tansu.bootstrap(), check);
    (tansu, gateway)
}

#[tokio::test]
async fn sasl_plain_delivers_and_a_wrong_password_is_refused() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let password = "PLAIN-secret-5d1e";
    let (_tansu, gateway) = gatewayed(
        bin,
        &dir,
        &["PLAIN"],
        Arc::new(move |_, message: &[u8]| {
            // RFC 4616: authzid NUL authcid NUL passwd.
            let expected = format!("\0{USER}\0{password}");
            if message == expected.as_bytes() {
                Ok(())
            } else {
                Err("Authentication failed: invalid username or password".into())
            }
        }),
    );
    let plain = |password: &str| {
        config(&gateway.address()).security(SecurityConfig {
            sasl: Some(SaslConfig {
                mechanism: SaslMechanism::Plain,
                username: USER.into(),
                password: Secret::new(password),
            }),
            ..SecurityConfig::default()
        })
    };
    deliver(&plain(password)).await.unwrap();
    match deliver(&plain(WRONG_PASSWORD)).await {
        Err(EmitError::Authentication { reason }) => {
            assert!(reason.contains("invalid username or password"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        gateway.problems.lock().unwrap().len(),
        0,
        "{:?}",
        gateway.problems
    );
}

/// OAUTHBEARER: the application's token provider is asked for tokens (on a thread of the
/// producer's own) and they reach the broker; a short-lived one is replaced before it expires.
#[tokio::test]
async fn oauthbearer_tokens_come_from_the_provider_and_are_refreshed() {
    let Some(bin) = tansu_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let issued = Arc::new(Mutex::new(Vec::<String>::new()));
    let valid = issued.clone();
    let (_tansu, gateway) = gatewayed(
        bin,
        &dir,
        &["OAUTHBEARER"],
        Arc::new(
            move |_, message: &[u8]| match secured::bearer_token(message) {
                Some(token) if valid.lock().unwrap().iter().any(|t| t == token) => Ok(()),
                _ => Err("invalid token".into()),
            },
        ),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let (refreshed, mut second_token) = tokio::sync::mpsc::unbounded_channel();
    let provider = {
        let (calls, issued) = (calls.clone(), issued.clone());
        move || -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let value = format!("oauth-token-{n}");
            issued.lock().unwrap().push(value.clone());
            if n == 1 {
                let _ = refreshed.send(());
            }
            Ok(OAuthToken {
                value: Secret::new(value),
                principal: USER.into(),
                // Short-lived: replaced after about 2 s.
                expires_at: SystemTime::now() + Duration::from_secs(3),
            })
        }
    };
    let config = config(&gateway.address()).security(SecurityConfig {
        sasl: Some(SaslConfig {
            mechanism: SaslMechanism::OAuthBearer,
            username: String::new(),
            password: Secret::default(),
        }),
        ..SecurityConfig::default()
    });
    let producer = KafkaProducer::with_token_provider(&config, provider).unwrap();
    login(1).emit(&producer).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), second_token.recv())
        .await
        .expect("the provider is asked again before the token expires");
    login(2).emit(&producer).await.unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
    let logins = gateway.logins.lock().unwrap().clone();
    assert!(logins.iter().all(|(_, ok)| *ok), "{logins:?}");
    assert_eq!(
        gateway.problems.lock().unwrap().len(),
        0,
        "{:?}",
        gateway.problems
    );
    assert_logs_hold_no_secret();
}

#[tokio::test]
async fn tls_with_the_right_ca_delivers_from_a_file_or_pem() {
    let Some(bin) = tansu_binary() else { return };
    let (dir, certs_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let certs = Certs::generate(certs_dir.path());
    let (_tansu, terminator) = tls_broker(bin, &dir, &certs, "server-bundle.pem", false);
    let bootstrap = format!("localhost:{}", terminator.port);
    deliver(&config(&bootstrap).tls(tls(&certs))).await.unwrap();
    let pem = TlsConfig {
        ca: Some(PemSource::Pem(Secret::new(certs.read("ca.pem")))),
        ..TlsConfig::default()
    };
    deliver(&config(&bootstrap).tls(pem)).await.unwrap();
}

#[tokio::test]
async fn an_unknown_ca_or_a_wrong_host_name_is_a_typed_error_at_once() {
    let Some(bin) = tansu_binary() else { return };
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(certs_dir.path());
    // The broker's certificate is signed by a CA the client does not trust.
    {
        let dir = tempfile::tempdir().unwrap();
        let (_tansu, terminator) =
            tls_broker(bin.clone(), &dir, &certs, "server-bundle.pem", false);
        let config = config(&format!("localhost:{}", terminator.port)).tls(TlsConfig {
            ca: Some(PemSource::File(certs.path("other-ca.pem"))),
            ..TlsConfig::default()
        });
        match deliver(&config).await {
            Err(EmitError::Tls { reason }) => assert!(reason.contains("certificate"), "{reason}"),
            other => panic!("unknown CA: {other:?}"),
        }
    }
    // The right CA, but the certificate names another host.
    let dir = tempfile::tempdir().unwrap();
    let (_tansu, terminator) = tls_broker(bin, &dir, &certs, "wrong-bundle.pem", false);
    let bootstrap = format!("localhost:{}", terminator.port);
    match deliver(&config(&bootstrap).tls(tls(&certs))).await {
        Err(EmitError::Tls { reason }) => assert!(reason.contains("certificate"), "{reason}"),
        other => panic!("wrong host name: {other:?}"),
    }
    // Hostname verification is what refused it.
    let unverified = TlsConfig {
        verify_hostname: false,
        ..tls(&certs)
    };
    deliver(&config(&bootstrap).tls(unverified)).await.unwrap();
}

#[tokio::test]
async fn mutual_tls_with_an_encrypted_key_delivers_and_no_certificate_is_refused() {
    let Some(bin) = tansu_binary() else { return };
    let (dir, certs_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let certs = Certs::generate(certs_dir.path());
    let (_tansu, terminator) = tls_broker(bin, &dir, &certs, "server-bundle.pem", true);
    let bootstrap = format!("localhost:{}", terminator.port);
    let mutual = TlsConfig {
        certificate: Some(PemSource::File(certs.path("client.pem"))),
        key: Some(PemSource::Pem(Secret::new(
            certs.read("client-encrypted.key"),
        ))),
        key_password: Some(Secret::new(Certs::KEY_PASSWORD)),
        ..tls(&certs)
    };
    deliver(&config(&bootstrap).tls(mutual)).await.unwrap();
    match deliver(&config(&bootstrap).tls(tls(&certs))).await {
        Err(EmitError::Tls { reason }) => assert!(reason.contains("certificate"), "{reason}"),
        other => panic!("without a client certificate: {other:?}\n{}", log_tail()),
    }
}

/// Tansu requiring SCRAM behind a TLS terminator.
struct SaslSslBroker {
    certs: Certs,
    port: u16,
    _terminator: Terminator,
    _tansu: Tansu,
    _dirs: [tempfile::TempDir; 2],
}

impl SaslSslBroker {
    fn start(bin: PathBuf) -> Self {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let certs = Certs::generate(dirs[1].path());
        let port = free_port();
        let tansu = scram_broker(bin, &dirs[0], Some(format!("localhost:{port}")));
        let terminator = Terminator::start(
            port,
            &certs.path("server-bundle.pem"),
            None,
            &tansu.bootstrap(),
        );
        SaslSslBroker {
            certs,
            port,
            _terminator: terminator,
            _tansu: tansu,
            _dirs: dirs,
        }
    }

    fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port)
    }
}

#[tokio::test]
async fn sasl_ssl_delivers_and_refuses_a_wrong_password() {
    let Some(bin) = tansu_binary() else { return };
    let broker = SaslSslBroker::start(bin);
    let (bootstrap, certs) = (broker.bootstrap(), &broker.certs);
    let sasl_ssl = |password: &str| {
        config(&bootstrap)
            .tls(tls(certs))
            .sasl(SaslMechanism::ScramSha512, USER, password)
    };
    deliver(&sasl_ssl(PASSWORD)).await.unwrap();
    match deliver(&sasl_ssl(WRONG_PASSWORD)).await {
        Err(EmitError::Authentication { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// `KafkaConfig::from_env()` alone reaches a SASL_SSL cluster: this test binary again, with
/// only environment variables ([`env_child`]).
#[test]
fn from_env_alone_reaches_a_sasl_ssl_cluster() {
    let Some(bin) = tansu_binary() else { return };
    let broker = SaslSslBroker::start(bin);
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_child", "--nocapture", "--test-threads=1"])
        .env("SECURED_ENV_CHILD", "1")
        .env("KAFKA_BROKERS", broker.bootstrap())
        .env("KAFKA_CLIENT_ID", "billing-api")
        .env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        .env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        .env("KAFKA_SASL_USERNAME", USER)
        .env("KAFKA_SASL_PASSWORD", PASSWORD)
        .env("KAFKA_SSL_CA_LOCATION", broker.certs.path("ca.pem"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("env child delivered"), "{text}");
    assert_no_secret("the child's output", &text);
}

/// Not a test of its own: the child process of [`from_env_alone_reaches_a_sasl_ssl_cluster`]
/// when `SECURED_ENV_CHILD` is set, and nothing otherwise.
#[test]
fn env_child() {
    if std::env::var_os("SECURED_ENV_CHILD").is_none() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = KafkaConfig::from_env().expect("configuration from the environment");
        println!("config: {config:?}");
        let producer = KafkaProducer::new(&config).unwrap();
        let delivered = login(1).emit(&producer).await.unwrap();
        println!("env child delivered: {delivered:?}");
        producer.close(Duration::from_secs(5)).await.unwrap();
    });
}
