//! Fault-matrix row 18: the HTTP middleware under sustained load, its broker frozen mid-load.
//! An axum service with `AuditLayer` (and usage events) on 127.0.0.1, a spool, Tansu behind
//! it; keep-alive clients send requests as fast as it answers them; Tansu is stopped
//! (SIGSTOP) for a while and resumed. Every request answered must have its audit entry and its
//! usage event on the topics.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use kafka_events::middleware::AuditLayer;
use kafka_events::testing::read_topic_idle;
use kafka_events::{AuditEntry, KafkaConfig, KafkaProducer, SpoolConfig, UsageEvent};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Row, Tansu, tally};

/// Runs the row: `connections` clients for `seconds`, Tansu frozen for `freeze` a quarter of
/// the way in.
pub fn http_load_through_a_stall(
    bin: PathBuf,
    connections: usize,
    seconds: u64,
    freeze: Duration,
) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let tansu = Tansu::start(bin, dir.path(), "memory://tansu/".into());
    tansu.create_topic("audit", 3);
    tansu.create_topic("usage", 3);
    let spool = tempfile::tempdir().unwrap();
    // What a service sets: brokers and a spool; the rest is the defaults.
    let config = KafkaConfig::new([tansu.bootstrap()]).spool(SpoolConfig::new(spool.path()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (answered, stats) = runtime.block_on(async {
        let producer = Arc::new(KafkaProducer::new(&config).unwrap());
        let app = Router::new()
            .route("/orders/{id}", get(|| async { "order" }))
            .layer(
                AuditLayer::new(producer.clone())
                    .service_name("load")
                    .with_usage(),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..connections)
            .map(|c| tokio::spawn(client(addr, c, stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds / 4)).await;
        tansu.freeze();
        tokio::time::sleep(freeze).await;
        tansu.resume();
        let rest = Duration::from_secs(seconds - seconds / 4).saturating_sub(freeze);
        tokio::time::sleep(rest).await;
        stop.store(true, Ordering::Relaxed);
        let mut answered = BTreeSet::new();
        for client in clients {
            answered.extend(client.await.unwrap());
        }
        server.abort();
        let _ = server.await;
        let delivered = producer.wait_delivered(Duration::from_secs(600)).await;
        assert!(delivered, "not delivered: {:?}", producer.stats());
        (answered, producer.stats())
    });
    let bootstrap = tansu.bootstrap();
    let read = |topic: &str| {
        read_topic_idle(
            &bootstrap,
            topic,
            Duration::from_secs(10),
            Duration::from_secs(900),
        )
        .expect("reading a topic back")
    };
    // Each entry by its request's id; a duplicate shows as one.
    let audit: Vec<String> = read("audit")
        .iter()
        .map(|r| r.decode::<AuditEntry>().expect("an audit entry").request_id)
        .collect();
    // One usage event per request, each with an id of its own.
    let usage: BTreeSet<String> = read("usage")
        .iter()
        .map(|r| {
            r.decode::<UsageEvent>()
                .expect("a usage event")
                .id
                .to_string()
        })
        .collect();
    let mut row = tally(
        "18. HTTP load via AuditLayer, Tansu frozen (SIGSTOP), resumed",
        &answered,
        &audit,
        &BTreeSet::new(),
    );
    // A usage event missing is a loss too.
    row.lost += answered.len().saturating_sub(usage.len());
    row.note(format!(
        "{connections} connections for {seconds} s, frozen {freeze:?}: {} requests, {} usage \
         events; {} spooled, {} dropped, fatal_errors {}",
        answered.len(),
        usage.len(),
        stats.spooled,
        stats.dropped,
        stats.fatal_errors
    ))
}

/// One keep-alive connection sending requests one after another until `stop`; returns the
/// request ids of those answered (each request carries its own `x-request-id`).
async fn client(addr: SocketAddr, connection: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut answered = Vec::new();
    let mut line = String::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let id = format!("load-{connection}-{n}");
        let request = format!(
            "GET /orders/{n} HTTP/1.1\r\nhost: load\r\nx-request-id: {id}\r\nuser-agent: load/1\r\n\r\n"
        );
        write.write_all(request.as_bytes()).await.unwrap();
        // The status line, the headers, then the body by its length.
        let mut length = 0;
        let mut status = String::new();
        loop {
            line.clear();
            read.read_line(&mut line).await.unwrap();
            if status.is_empty() {
                status = line.clone();
            } else if line == "\r\n" {
                break;
            } else if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await.unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        answered.push(id);
    }
    answered
}
