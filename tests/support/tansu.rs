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
    process: Option<Child>,
}

impl Tansu {
    /// The binary from `KAFKA_EVENTS_TANSU` (what `scripts/tansu.sh bin` prints).
    pub fn binary() -> Option<PathBuf> {
        std::env::var_os("KAFKA_EVENTS_TANSU")
            .map(PathBuf::from)
            .filter(|p| p.exists())
    }

    pub fn start(bin: PathBuf, dir: &Path, storage: String) -> Tansu {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut tansu = Tansu {
            bin,
            port,
            storage,
            dir: dir.to_owned(),
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
                &url,
            ])
            .args(["--storage-engine", &self.storage])
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

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().unwrap();
            process.wait().unwrap();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
