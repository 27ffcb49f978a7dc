//! A Tansu broker (an Apache-Kafka-compatible broker) on 127.0.0.1 for the real-broker tests:
//! `KAFKA_EVENTS_TANSU` names its binary (`scripts/tansu.sh install` builds it once into a cache).

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Tansu broker on 127.0.0.1, storing in a SQLite file so it survives SIGKILL.
pub struct Tansu {
    bin: PathBuf,
    port: u16,
    storage: String,
    /// Tansu resolves a `sqlite://` path against its working directory.
    dir: PathBuf,
    /// `--authentication`: clients must log in with SASL SCRAM.
    authentication: bool,
    /// The address clients are told to connect to (a TLS terminator or a SASL gateway in
    /// front), when not the broker's own.
    advertised: Option<String>,
    process: Option<Child>,
}

impl Tansu {
    /// The binary from `KAFKA_EVENTS_TANSU` (what `scripts/tansu.sh bin` prints).
    pub fn binary() -> Option<PathBuf> {
        std::env::var_os("KAFKA_EVENTS_TANSU")
            .map(PathBuf::from)
            .filter(|p| p.exists())
    }

    /// The binary for a test, or `None` (the test is skipped, and says so) when none is set
    /// and `KAFKA_EVENTS_REQUIRE_TANSU` does not require one.
    #[allow(dead_code)] // not every test binary that includes this module runs Tansu tests
    pub fn binary_for_test() -> Option<PathBuf> {
        let bin = Self::binary();
        if bin.is_none() {
            assert!(
                std::env::var_os("KAFKA_EVENTS_REQUIRE_TANSU").is_none(),
                "KAFKA_EVENTS_REQUIRE_TANSU is set but KAFKA_EVENTS_TANSU names no binary"
            );
            eprintln!(
                "skipped: set KAFKA_EVENTS_TANSU to a tansu 0.6.0 binary (scripts/tansu.sh bin)"
            );
        }
        bin
    }

    pub fn start(bin: PathBuf, dir: &Path, storage: String) -> Tansu {
        Self::start_advertising(bin, dir, storage, None)
    }

    /// Starts a broker that tells clients to connect to `advertised` (`host:port`) instead of
    /// itself: the address of a proxy in front of it.
    pub fn start_advertising(
        bin: PathBuf,
        dir: &Path,
        storage: String,
        advertised: Option<String>,
    ) -> Tansu {
        let mut tansu = Tansu {
            bin,
            port: free_port(),
            storage,
            dir: dir.to_owned(),
            authentication: false,
            advertised,
            process: None,
        };
        tansu.restart();
        tansu
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let url = format!("tcp://{}", self.bootstrap());
        let advertised = match &self.advertised {
            Some(address) => format!("tcp://{address}"),
            None => url.clone(),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .unwrap();
        let process = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", &self.storage])
            .args(self.authentication.then_some("--authentication"))
            .env("RUST_LOG", "warn")
            .current_dir(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting tansu");
        self.process = Some(process);
        // Ready when it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(self.bootstrap()).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start on {}",
                self.bootstrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(&self.bin)
            .args(["topic", "create", name, "--broker"])
            .arg(format!("tcp://{}", self.bootstrap()))
            .args(["--partitions", &partitions.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "tansu topic create {name} failed");
    }

    /// Creates a SCRAM user (`mechanism`: `scram256` or `scram512`). Tansu's CLI can't log
    /// in, so this works only before [`require_authentication`](Self::require_authentication).
    pub fn create_user(&self, name: &str, password: &str, mechanism: &str) {
        let status = Command::new(&self.bin)
            .args(["user", "create", name, password, "--broker"])
            .arg(format!("tcp://{}", self.bootstrap()))
            .args(["--mechanism", mechanism])
            .stdout(Stdio::null())
            .status()
            .expect("tansu user create");
        assert!(status.success(), "tansu user create {name} failed");
    }

    /// Restarts the broker with `--authentication` on the same storage (a `sqlite://` one:
    /// users and topics must be created before).
    pub fn require_authentication(&mut self) {
        assert!(
            self.storage.starts_with("sqlite://"),
            "users live in the storage"
        );
        self.kill();
        self.authentication = true;
        self.restart();
    }

    /// A second broker on the same storage, without authentication, for what Tansu's CLI
    /// must do while this one requires it (create a user, say). Killed when dropped.
    pub fn side_door(&self) -> Tansu {
        Tansu::start(self.bin.clone(), &self.dir, self.storage.clone())
    }

    /// SIGSTOP: the broker stops answering, its connections stay open (a stall, a long pause).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("the broker runs");
        let status = Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().unwrap();
            process.wait().unwrap();
        }
    }
}

/// A port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
