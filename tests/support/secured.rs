//! What the secured-broker tests put around Tansu: certificates made at test time (with the
//! `openssl` command), a TLS terminator in front of the broker (`socat`), and a SASL gateway
//! for the mechanisms Tansu 0.6 does not implement (PLAIN, OAUTHBEARER).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A CA, the certificates it signed, and an unrelated CA: PEM files in one directory.
pub struct Certs {
    dir: PathBuf,
}

impl Certs {
    /// Makes them with the `openssl` command: a CA; a server certificate for `localhost` and
    /// `127.0.0.1`; one for another name (`wrong.test`), signed by the same CA; a client
    /// certificate whose key is encrypted with [`Certs::KEY_PASSWORD`]; an unrelated CA.
    pub fn generate(dir: &Path) -> Certs {
        let certs = Certs {
            dir: dir.to_owned(),
        };
        certs.ca("ca");
        certs.ca("other-ca");
        certs.signed(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        certs.signed(
            "wrong",
            "wrong.test",
            "subjectAltName=DNS:wrong.test\nextendedKeyUsage=serverAuth\n",
        );
        certs.signed("client", "billing-api", "extendedKeyUsage=clientAuth\n");
        certs.openssl(&[
            "pkey",
            "-in",
            "client.key",
            "-aes256",
            "-passout",
            &format!("pass:{}", Self::KEY_PASSWORD),
            "-out",
            "client-encrypted.key",
        ]);
        for name in ["server", "wrong"] {
            let bundle = [
                std::fs::read_to_string(dir.join(format!("{name}.pem"))).unwrap(),
                std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap(),
            ]
            .concat();
            std::fs::write(dir.join(format!("{name}-bundle.pem")), bundle).unwrap();
        }
        certs
    }

    /// The password of `client-encrypted.key`.
    pub const KEY_PASSWORD: &'static str = "client-key-secret";

    /// A file of the set: `ca.pem`, `other-ca.pem`, `server-bundle.pem`, `wrong-bundle.pem`,
    /// `client.pem`, `client.key`, `client-encrypted.key`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn ca(&self, name: &str) {
        self.new_key(
            name,
            &format!("/CN=kafka-events test {name}"),
            &[
                "-x509",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }

    /// `openssl req` making `NAME.key` and, by `args`, a certificate or a signing request.
    fn new_key(&self, name: &str, subject: &str, args: &[&str]) {
        let key = format!("{name}.key");
        let mut all = vec![
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-subj", subject,
        ];
        all.extend_from_slice(args);
        self.openssl(&all);
    }

    fn signed(&self, name: &str, common_name: &str, extensions: &str) {
        self.new_key(
            name,
            &format!("/CN={common_name}"),
            &["-out", &format!("{name}.csr")],
        );
        std::fs::write(
            self.dir.join(format!("{name}.ext")),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{extensions}"
            ),
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("the `openssl` command (Debian: openssl)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `socat` terminating TLS on 127.0.0.1:`port` and forwarding each connection to `upstream`.
pub struct Terminator {
    pub port: u16,
    process: Child,
}

impl Terminator {
    /// Serves `bundle` (certificate and key); with `client_ca`, requires a client certificate
    /// signed by it (mutual TLS).
    pub fn start(port: u16, bundle: &Path, client_ca: Option<&Path>, upstream: &str) -> Self {
        let verify = match client_ca {
            Some(ca) => format!("cafile={},verify=1", ca.display()),
            None => "verify=0".to_owned(),
        };
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},{verify}",
            bundle.display()
        );
        let process = Command::new("socat")
            .args([listen, format!("TCP:{upstream}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the `socat` command (Debian: socat)");
        wait_listening(port);
        Terminator { port, process }
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Decides a SASL login: the mechanism and the client's first message; `Err` says why not.
pub type Check = dyn Fn(&str, &[u8]) -> Result<(), String> + Send + Sync;

/// A SASL gateway: answers a Kafka client's SaslHandshake and SaslAuthenticate requests itself
/// (with `check`), then passes the connection through to a broker that does not authenticate.
/// For the mechanisms Tansu 0.6 does not implement; the exchange is Kafka's (KIP-152), as a
/// broker speaks it.
pub struct SaslGateway {
    pub port: u16,
    /// What went wrong in the gateway (a request it does not understand), for the test to show.
    pub problems: Arc<Mutex<Vec<String>>>,
    /// Logins seen: the mechanism and whether it was accepted.
    pub logins: Arc<Mutex<Vec<(String, bool)>>>,
}

const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

impl SaslGateway {
    /// Serves `listener` (bound first, so that the broker can advertise its address),
    /// forwarding to `upstream` once a client logged in with one of `mechanisms`.
    pub fn start(
        listener: TcpListener,
        mechanisms: &[&str],
        upstream: String,
        check: Arc<Check>,
    ) -> SaslGateway {
        let port = listener.local_addr().unwrap().port();
        let problems = Arc::new(Mutex::new(Vec::new()));
        let logins = Arc::new(Mutex::new(Vec::new()));
        let mechanisms: Vec<String> = mechanisms.iter().map(|m| m.to_string()).collect();
        let gateway = SaslGateway {
            port,
            problems: problems.clone(),
            logins: logins.clone(),
        };
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let connection = Connection {
                    mechanisms: mechanisms.clone(),
                    upstream: upstream.clone(),
                    check: check.clone(),
                    problems: problems.clone(),
                    logins: logins.clone(),
                };
                std::thread::spawn(move || {
                    if let Err(problem) = connection.serve(client) {
                        connection.problems.lock().unwrap().push(problem);
                    }
                });
            }
        });
        gateway
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

struct Connection {
    mechanisms: Vec<String>,
    upstream: String,
    check: Arc<Check>,
    problems: Arc<Mutex<Vec<String>>>,
    logins: Arc<Mutex<Vec<(String, bool)>>>,
}

impl Connection {
    /// Serves one client connection: `Err` is a problem of the gateway's own, not a refused
    /// login or a closed connection.
    fn serve(&self, mut client: TcpStream) -> Result<(), String> {
        let Ok(mut upstream) = TcpStream::connect(&self.upstream) else {
            return Ok(()); // The broker is gone: so is the connection.
        };
        let mut mechanism = None;
        loop {
            let Some(frame) = read_frame(&mut client) else {
                return Ok(());
            };
            let mut request = Reader(&frame);
            let api_key = request.i16()?;
            let api_version = request.i16()?;
            let correlation = request.i32()?;
            match api_key {
                API_VERSIONS => {
                    write_frame(&mut upstream, &frame).map_err(|e| e.to_string())?;
                    let Some(response) = read_frame(&mut upstream) else {
                        return Ok(());
                    };
                    write_frame(&mut client, &response).map_err(|e| e.to_string())?;
                }
                SASL_HANDSHAKE => {
                    if api_version != 1 {
                        return Err(format!("SaslHandshake v{api_version}: only v1 is served"));
                    }
                    request.string()?; // client id
                    let asked = request.string()?;
                    let known = self.mechanisms.contains(&asked);
                    let mut response = Writer::new(correlation);
                    response.i16(if known { 0 } else { UNSUPPORTED_SASL_MECHANISM });
                    response.i32(self.mechanisms.len() as i32);
                    for m in &self.mechanisms {
                        response.string(m);
                    }
                    write_frame(&mut client, &response.0).map_err(|e| e.to_string())?;
                    if !known {
                        return Ok(());
                    }
                    mechanism = Some(asked);
                }
                SASL_AUTHENTICATE => {
                    if api_version > 1 {
                        return Err(format!(
                            "SaslAuthenticate v{api_version}: only v0 and v1 are served"
                        ));
                    }
                    let Some(mechanism) = mechanism.take() else {
                        return Err("SaslAuthenticate before SaslHandshake".into());
                    };
                    request.string()?; // client id
                    let auth = request.bytes()?;
                    let verdict = (self.check)(&mechanism, auth);
                    self.logins
                        .lock()
                        .unwrap()
                        .push((mechanism.clone(), verdict.is_ok()));
                    let mut response = Writer::new(correlation);
                    match &verdict {
                        Ok(()) => {
                            response.i16(0);
                            response.i16(-1); // no error message
                        }
                        Err(why) => {
                            response.i16(SASL_AUTHENTICATION_FAILED);
                            response.string(why);
                        }
                    }
                    response.i32(0); // no auth bytes
                    if api_version == 1 {
                        response.i64(0); // no session lifetime: no re-authentication
                    }
                    write_frame(&mut client, &response.0).map_err(|e| e.to_string())?;
                    if verdict.is_err() {
                        return Ok(());
                    }
                    pipe(client, upstream);
                    return Ok(());
                }
                other => {
                    // A client that skipped authentication: the connection ends here.
                    let _ = other;
                    return Ok(());
                }
            }
        }
    }
}

/// Copies both ways until either side closes.
fn pipe(client: TcpStream, upstream: TcpStream) {
    let (mut client_read, mut upstream_write) =
        (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let back = std::thread::spawn(move || {
        let (mut upstream_read, mut client_write) = (upstream, client);
        let _ = std::io::copy(&mut upstream_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut client_read, &mut upstream_write);
    let _ = upstream_write.shutdown(Shutdown::Both);
    let _ = back.join();
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(stream: &mut TcpStream, frame: &[u8]) -> std::io::Result<()> {
    stream.write_all(&(frame.len() as u32).to_be_bytes())?;
    stream.write_all(frame)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a request ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }

    /// A nullable string (null reads as empty).
    fn string(&mut self) -> Result<String, String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(self.take(len as usize)?).into_owned())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.i32()?;
        self.take(len.max(0) as usize)
    }
}

/// A response: the correlation id, then the body.
struct Writer(Vec<u8>);

impl Writer {
    fn new(correlation: i32) -> Self {
        Writer(correlation.to_be_bytes().to_vec())
    }

    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn string(&mut self, s: &str) {
        self.i16(s.len() as i16);
        self.0.extend_from_slice(s.as_bytes());
    }
}

/// The OAUTHBEARER token in a client's first message (RFC 7628: `n,,\x01auth=Bearer T\x01...`).
pub fn bearer_token(message: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(message).ok()?;
    text.split('\x01')
        .find_map(|part| part.strip_prefix("auth=Bearer "))
}
