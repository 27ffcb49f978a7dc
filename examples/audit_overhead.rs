//! What `AuditLayer` costs an axum endpoint, measured over loopback in one run: the same
//! handler served with and without the layer (emitting through a `KafkaProducer` to the
//! embedded broker), loaded alternately by keep-alive HTTP/1.1 clients. Prints throughput of
//! each, their ratio, and p50/p99 latency of each with the difference, for two endpoints: one
//! that only parses its JSON body and answers (all CPU: the worst case for any middleware), and
//! one that also waits 1 ms, as a handler waiting on a database does.
//!
//! ```text
//! cargo run --release --example audit_overhead              # 6 rounds of 3 s each
//! cargo run --release --example audit_overhead -- --quick   # 2 rounds of 1 s
//! cargo run --release --example audit_overhead -- --null    # a producer that drops records:
//!                                                           # the layer's own cost
//! ```
//!
//! Every run first times the same requests without a network, in one thread that does nothing
//! else, the layer with a producer that drops every record ([`in_a_loop`]; `--quick`: fewer
//! rounds of fewer requests): the layer's cost there, which the served endpoints' figures can
//! be read against.
//!
//! The CPU-only endpoint is also served behind the peer teams use without this library:
//! tower-http's `TraceLayer` with a JSON `tracing` subscriber writing each request (method,
//! path, status, latency, user agent, client address) to a file through `tracing-appender`'s
//! non-blocking writer, alternated with the audited endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use http_body_util::BodyExt;
use kafka_events::middleware::AuditLayer;
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{KafkaProducer, SpoolConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

pub const BODY: &str = r#"{"sku":"A-1029","quantity":3,"customer":{"id":"c-77","tier":"gold"},"shipping":{"street":"1 Main St","city":"Springfield","zip":"12345"},"notes":"leave at the door","password":"not-logged"}"#;

async fn create_order_after_io(body: Bytes) -> impl IntoResponse {
    tokio::time::sleep(Duration::from_millis(1)).await;
    create_order(body).await
}

pub async fn create_order(body: Bytes) -> impl IntoResponse {
    // A small amount of real work: parse and answer.
    let order: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"id":1001,"sku":{}}}"#, order["sku"]),
    )
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

/// One keep-alive connection sending requests back to back until `until`; returns latencies.
async fn client(addr: SocketAddr, until: Instant) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!(
        "POST /orders HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\nuser-agent: audit-overhead\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut latencies = Vec::with_capacity(100_000);
    let mut buffer = Vec::with_capacity(4096);
    while Instant::now() < until {
        let started = Instant::now();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut stream, &mut buffer).await;
        latencies.push(started.elapsed());
    }
    latencies
}

/// Reads one response with a `content-length` body.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end])
                .unwrap()
                .to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buffer.len() >= end + 4 + length {
                assert!(head.starts_with("http/1.1 200"), "{head}");
                return;
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

struct Round {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

async fn round(addr: SocketAddr, connections: usize, length: Duration) -> Round {
    let started = Instant::now();
    let until = started + length;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(addr, until)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Round {
        requests: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    }
}

/// Takes every record and does nothing with it.
pub struct Null;

impl kafka_events::Producer for Null {
    fn send(&self, _: kafka_events::Message) -> kafka_events::SendFuture<'_> {
        Box::pin(std::future::ready(Err(kafka_events::EmitError::Closed)))
    }

    fn send_detached(
        &self,
        _: kafka_events::MessageRef<'_>,
    ) -> Result<(), kafka_events::EmitError> {
        Ok(())
    }

    fn close(&self, _: Duration) -> kafka_events::CloseFuture<'_> {
        Box::pin(std::future::ready(Ok(Default::default())))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Scenario {
    name: &'static str,
    connections: usize,
    plain: SocketAddr,
    audited: SocketAddr,
}

/// One endpoint served plain and audited.
pub struct Comparison {
    pub name: &'static str,
    pub connections: usize,
    pub plain_rps: f64,
    pub audited_rps: f64,
    /// p50 and p99 latency, µs.
    pub plain: (f64, f64),
    pub audited: (f64, f64),
}

impl Comparison {
    pub fn ratio(&self) -> f64 {
        self.audited_rps / self.plain_rps
    }

    pub fn added_p50(&self) -> f64 {
        self.audited.0 - self.plain.0
    }

    pub fn added_p99(&self) -> f64 {
        self.audited.1 - self.plain.1
    }
}

/// Alternates rounds on the two servers and prints one comparison.
async fn compare(scenario: &Scenario, rounds: usize, length: Duration) -> Comparison {
    // Warm both up, then alternate so drift on a shared machine hits both alike.
    round(
        scenario.plain,
        scenario.connections,
        Duration::from_millis(300),
    )
    .await;
    round(
        scenario.audited,
        scenario.connections,
        Duration::from_millis(300),
    )
    .await;
    let (mut base, mut with) = (Vec::new(), Vec::new());
    let (mut base_n, mut with_n, mut base_s, mut with_s) = (0, 0, 0.0, 0.0);
    for _ in 0..rounds {
        let r = round(scenario.plain, scenario.connections, length).await;
        base_n += r.requests;
        base_s += r.seconds;
        base.extend(r.latencies);
        let r = round(scenario.audited, scenario.connections, length).await;
        with_n += r.requests;
        with_s += r.seconds;
        with.extend(r.latencies);
    }
    base.sort_unstable();
    with.sort_unstable();
    let (base_rps, with_rps) = (base_n as f64 / base_s, with_n as f64 / with_s);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "\n{} ({} keep-alive connections, {rounds} alternating rounds of {length:?})",
        scenario.name, scenario.connections
    );
    println!(
        "{:<10} {:>12} {:>10} {:>10}",
        "", "requests/s", "p50 µs", "p99 µs"
    );
    for (name, rps, sorted) in [("plain", base_rps, &base), ("audited", with_rps, &with)] {
        println!(
            "{name:<10} {rps:>12.0} {:>10.1} {:>10.1}",
            us(percentile(sorted, 0.5)),
            us(percentile(sorted, 0.99))
        );
    }
    let comparison = Comparison {
        name: scenario.name,
        connections: scenario.connections,
        plain_rps: base_rps,
        audited_rps: with_rps,
        plain: (us(percentile(&base, 0.5)), us(percentile(&base, 0.99))),
        audited: (us(percentile(&with, 0.5)), us(percentile(&with, 0.99))),
    };
    println!(
        "throughput ratio (audited / plain): {:.3}; added latency p50 {:+.1} µs, p99 {:+.1} µs",
        comparison.ratio(),
        comparison.added_p50(),
        comparison.added_p99(),
    );
    comparison
}

#[allow(dead_code)] // `examples/benchmarks.rs` and `layer_instructions.rs` include this file.
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let null = std::env::args().any(|a| a == "--null");
    let in_loop = in_a_loop(quick);
    println!(
        "without a network, one thread, {} alternated rounds of {} requests per side (a producer that drops every record): plain {:.2} µs, audited {:.2} µs per request: the layer {:.2} µs",
        in_loop.rounds,
        in_loop.requests,
        in_loop.plain_us,
        in_loop.audited_us,
        in_loop.layer_us()
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(measure(quick, null, true));
}

/// The `/orders` router, plain or behind `AuditLayer` with [`Null`], as `axum::serve` calls it
/// (its state applied once).
pub fn orders(audited: bool) -> Router {
    let mut app = Router::new().route("/orders", post(create_order));
    if audited {
        app = app.layer(AuditLayer::new(Null).service_name("bench"));
    }
    app.with_state(())
}

/// `n` requests like the clients' through `app`, called in this task without a network, each
/// request built with the client's address and its response body read.
pub async fn requests_in_a_loop(app: &Router, n: usize) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    for _ in 0..n {
        let mut request = axum::http::Request::post("/orders")
            .header("host", "bench")
            .header("content-type", "application/json")
            .header("user-agent", "audit-overhead")
            .header("content-length", BODY.len())
            .body(Body::from(BODY))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app.clone().oneshot(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        std::hint::black_box(body);
    }
}

/// What [`in_a_loop`] measured.
pub struct Loop {
    pub rounds: usize,
    /// Per side and round.
    pub requests: usize,
    /// The median µs per request of each side.
    pub plain_us: f64,
    pub audited_us: f64,
}

impl Loop {
    /// The layer's µs per request: the difference of the two medians.
    pub fn layer_us(&self) -> f64 {
        self.audited_us - self.plain_us
    }
}

/// The layer's cost where nothing runs between requests: alternated rounds of
/// [`requests_in_a_loop`], as many requests through [`orders`] plain as audited (which goes
/// first changes every round), on a thread and runtime of their own.
pub fn in_a_loop(quick: bool) -> Loop {
    let (rounds, n) = if quick { (3, 5_000) } else { (15, 20_000) };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (plain_app, audited_app) = (orders(false), orders(true));
        runtime.block_on(async {
            requests_in_a_loop(&plain_app, n / 10).await;
            requests_in_a_loop(&audited_app, n / 10).await;
            let (mut plain, mut audited) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                for side in [round % 2 == 1, round % 2 == 0] {
                    let app = if side { &audited_app } else { &plain_app };
                    let started = Instant::now();
                    requests_in_a_loop(app, n).await;
                    let us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
                    if side { &mut audited } else { &mut plain }.push(us);
                }
            }
            Loop {
                rounds,
                requests: n,
                plain_us: median(plain),
                audited_us: median(audited),
            }
        })
    })
    .join()
    .unwrap()
}

/// The middle value (of an even count, the upper of the two in the middle).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Both endpoints, plain and audited (CPU only, then waiting 1 ms), and with `peer` the audited
/// CPU-only endpoint against the `TraceLayer` peer (then third); `null`: with a producer that
/// drops every record, to see the layer's own cost. The peer's subscriber is installed once per
/// process: run it in one `measure` only.
pub async fn measure(quick: bool, null: bool, peer: bool) -> Vec<Comparison> {
    let log_dir = tempfile::tempdir().unwrap();
    let _log_guard = peer.then(|| trace_to_file(log_dir.path()));
    let (rounds, length) = if quick {
        (2, Duration::from_secs(1))
    } else {
        (6, Duration::from_secs(3))
    };

    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("audit", 3).unwrap();
    let spool = tempfile::tempdir().unwrap();
    let producer = Arc::new(
        KafkaProducer::new(
            &kafka
                .producer_config()
                .spool(SpoolConfig::new(spool.path())),
        )
        .unwrap(),
    );
    let layer = if null {
        AuditLayer::new(Null)
    } else {
        AuditLayer::new(producer.clone())
    }
    .service_name("bench");
    let servers = |route: axum::routing::MethodRouter| {
        let plain = Router::new().route("/orders", route.clone());
        let audited = Router::new().route("/orders", route).layer(layer.clone());
        async move { (serve(plain).await, serve(audited).await) }
    };
    let (plain, audited) = servers(post(create_order)).await;
    println!(
        "POST /orders with a {} B JSON body; audit entries go to a KafkaProducer on the embedded broker",
        BODY.len()
    );
    let cpu = compare(
        &Scenario {
            name: "parses the body and answers (CPU only)",
            connections: 8,
            plain,
            audited,
        },
        rounds,
        length,
    )
    .await;
    let mut peer_comparison = None;
    if peer {
        let traced = serve(traced(post(create_order))).await;
        let (_, audited) = servers(post(create_order)).await;
        let peer = compare(
            &Scenario {
                name: "the audit layer vs TraceLayer + JSON lines to a file (CPU only; \"plain\" is the peer)",
                connections: 8,
                plain: traced,
                audited,
            },
            rounds,
            length,
        )
        .await;
        let logged = std::fs::read_dir(log_dir.path())
            .unwrap()
            .filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok())
            .map(|text| text.lines().count())
            .sum::<usize>();
        println!("lines the peer wrote so far: {logged}");
        peer_comparison = Some(peer);
    }
    let (plain, audited) = servers(post(create_order_after_io)).await;
    let io = compare(
        &Scenario {
            name: "waits 1 ms (I/O), then parses and answers",
            connections: 16,
            plain,
            audited,
        },
        rounds,
        length,
    )
    .await;

    assert!(producer.wait_delivered(Duration::from_secs(60)).await);
    let stats = producer.stats();
    println!(
        "\naudit entries delivered: {}, dropped: {}",
        stats.delivered, stats.dropped
    );
    let mut comparisons = vec![cpu, io];
    comparisons.extend(peer_comparison);
    comparisons
}

/// Installs the peer's subscriber for this process: JSON lines of `tower_http` events (and
/// their request span's fields) to a file in `dir`, through a non-blocking writer. Events of
/// other targets are not written, so the audited and plain servers pay nothing for it.
fn trace_to_file(dir: &std::path::Path) -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(dir, "requests.jsonl"));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(writer)
        .with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("tower_http", tracing::Level::INFO),
        );
    let subscriber = tracing_subscriber::registry().with(json);
    // Once per process: the benchmarks ask for the peer in one `measure` only.
    let _ = tracing::subscriber::set_global_default(subscriber);
    guard
}

/// The CPU-only endpoint behind the peer: a span per request with its method, path, user agent
/// and client address, and an event with its status and latency when it is answered.
fn traced(route: axum::routing::MethodRouter) -> Router {
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    Router::new().route("/orders", route).layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                let client = request
                    .extensions()
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|info| info.0);
                let user_agent = request
                    .headers()
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    user_agent,
                    client = ?client,
                )
            })
            .on_request(())
            .on_response(
                DefaultOnResponse::new()
                    .level(tracing::Level::INFO)
                    .latency_unit(tower_http::LatencyUnit::Micros),
            ),
    )
}
