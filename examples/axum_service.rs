//! An axum service audited and billed by one `AuditLayer` (`with_usage`), with a stand-in auth
//! layer in axum's usual order (added before the audit layer, so it runs inside it and attaches
//! the identity), a handler that names the resource it serves, and a login route that emits
//! `AuthEvent`s. Every event the service emits is read back from the topics and printed as a
//! JSON line.
//!
//! ```text
//! cargo run --example axum_service              # embedded broker, listens on 127.0.0.1:3000
//! KAFKA_BROKERS=127.0.0.1:9092 cargo run --example axum_service
//! cargo run --example axum_service -- --smoke   # sends a few requests itself, prints, exits
//! cargo run --example axum_service -- --smoke --envelope   # the same in the EventJson envelope
//! ```
//!
//! Then, from another terminal (see the README):
//!
//! ```text
//! curl -s localhost:3000/orders/42 -H 'x-user: alice' -H 'x-tenant: 2f1d3c7e-0000-4000-8000-000000000001'
//! curl -s localhost:3000/orders -H 'content-type: application/json' -H 'x-user: alice' \
//!      -d '{"sku":"A1","quantity":2,"card_number":"4111111111111111"}'
//! curl -s localhost:3000/login -H 'content-type: application/json' -d '{"user":"bob","password":"wrong"}'
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kafka_events::envelope::EnvelopeConfig;
use kafka_events::middleware::{AuditContext, AuditLayer, Identity, RequestInfo};
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuthEvent, AuthEventType, KafkaConfig, KafkaEvent, KafkaProducer, Producer, SpoolConfig,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const SERVICE: &str = "orders-api";

/// Stands in for real authentication: trusts `x-user` and `x-tenant` headers. It attaches the
/// identity it established, which reaches the audit layer around it.
async fn fake_auth(mut request: Request, next: Next) -> Response {
    if let Some(identity) = identity_from_headers(request.headers()) {
        identity.attach(request.extensions_mut());
    }
    next.run(request).await
}

fn identity_from_headers(headers: &HeaderMap) -> Option<Identity> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Some(Identity {
        subject: header("x-user").filter(|u| !u.is_empty())?.to_owned(),
        tenant_id: header("x-tenant").and_then(|t| Uuid::parse_str(t).ok()),
        jti: Some(Uuid::new_v4()),
    })
}

async fn get_order(Path(id): Path<u64>, audit: AuditContext) -> impl IntoResponse {
    // The resource the request is about, for the audit entry's `resource_id`.
    audit.set_resource_id(Uuid::from_u64_pair(0, id));
    Json(serde_json::json!({ "id": id, "status": "shipped" }))
}

async fn create_order(Json(order): Json<serde_json::Value>) -> impl IntoResponse {
    if order.get("sku").is_none() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": "sku is required" })),
        );
    }
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": 1001, "order": order })),
    )
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(State(producer): State<Arc<KafkaProducer>>, request: Request) -> StatusCode {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let Ok(login) = serde_json::from_slice::<Login>(&bytes) else {
        return StatusCode::BAD_REQUEST;
    };
    // The request parts give the event its path, user agent and peer address.
    let event = if login.password == "secret" {
        AuthEvent::login_success(SERVICE, &login.user)
    } else {
        AuthEvent::login_failure(SERVICE, &login.user, "invalid credentials")
    }
    .with_request(&RequestInfo::from_parts(&parts));
    if let Err(error) = event.emit_detached(&*producer) {
        eprintln!("auth event not taken: {error}");
    }
    if event.r#type == AuthEventType::LoginSuccess {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// One printed record.
#[derive(serde::Serialize)]
struct Line<'a> {
    headers: &'a std::collections::BTreeMap<&'a str, std::borrow::Cow<'a, str>>,
    key: std::borrow::Cow<'a, str>,
    topic: &'a str,
    #[serde(rename = "type")]
    event_type: Option<std::borrow::Cow<'a, str>>,
    /// The value byte for byte (an envelope's `md5_hash` is of its payload's text).
    value: &'a serde_json::value::RawValue,
}

/// Prints every record of `topics` as a JSON line, as it arrives (from `start`), and reports
/// each on `printed`, until `stop` is set.
fn print_topics(
    bootstrap: String,
    topics: &[&str],
    start: Offset,
    printed: std::sync::mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "axum-service-printer")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len());
        for partition in 0..partitions as i32 {
            assignment
                .add_partition_offset(topic, partition, start)
                .unwrap();
        }
    }
    consumer.assign(&assignment).expect("assign");
    while !stop.load(Ordering::Relaxed) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let headers: std::collections::BTreeMap<&str, std::borrow::Cow<'_, str>> = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key, String::from_utf8_lossy(h.value.unwrap_or_default())))
                        .collect()
                })
                .unwrap_or_default();
            let line = Line {
                event_type: headers.get("event-type").cloned(),
                headers: &headers,
                key: String::from_utf8_lossy(message.key().unwrap_or_default()),
                topic: message.topic(),
                value: serde_json::from_slice(message.payload().unwrap_or_default())
                    .expect("the record is JSON"),
            };
            println!("{}", serde_json::to_string(&line).expect("a line"));
            let _ = printed.send(());
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The library reports what needs an operator's eye (an outage, a refused record, a fatal
    // librdkafka error it recovered from) through `tracing`: a service installs a subscriber.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (_embedded, mut config) = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => (None, KafkaConfig::new([brokers])),
        Err(_) => {
            let kafka = EmbeddedKafka::start()?;
            kafka.create_topic("audit", 3)?;
            kafka.create_topic("usage", 3)?;
            let config = kafka.producer_config();
            (Some(kafka), config)
        }
    };
    // `--envelope`: the `EventJson` envelope today's Go services read (README "Wire formats").
    if std::env::args().any(|a| a == "--envelope") {
        config = config.envelope(EnvelopeConfig::new("commerce.orders.api.v1", "orders-api"));
    }
    // Events the broker can't take yet wait on disk, not in memory.
    config = config.spool(SpoolConfig::new(
        std::env::temp_dir().join("kafka-events-axum-service-spool"),
    ));
    let producer = Arc::new(KafkaProducer::new(&config)?);

    let bootstrap = config.brokers.join(",");
    // The embedded broker starts empty: print all of it. A real one: only what comes from now on.
    let start = if _embedded.is_some() {
        Offset::Beginning
    } else {
        Offset::End
    };
    let (printed, printed_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let printer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            print_topics(bootstrap, &["audit", "usage"], start, printed, stop)
        })
    };

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders/{id}", get(get_order))
        .route("/orders", post(create_order))
        .route("/login", post(login))
        .with_state(producer.clone())
        // Added first, so it runs inside the audit layer: the order most axum apps use.
        .layer(middleware::from_fn(fake_auth))
        // One configuration for the audit entry and the usage event of every request.
        .layer(
            AuditLayer::new(producer.clone())
                .service_name(SERVICE)
                .skip_path("/health")
                .with_usage()
                .memory_mb(512),
        );

    let port: u16 = if smoke {
        0
    } else {
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000)
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    eprintln!("listening on http://{addr} (events print below as they reach the topics)");
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );

    if smoke {
        tokio::spawn(async move { server.await });
        let requests = [
            "GET /orders/42 HTTP/1.1\r\nhost: x\r\nx-user: alice\r\nx-tenant: 2f1d3c7e-0000-4000-8000-000000000001\r\nconnection: close\r\n\r\n".to_owned(),
            post_request("/orders", r#"{"sku":"A1","quantity":2,"card_number":"4111111111111111"}"#, "alice"),
            post_request("/orders", r#"{"quantity":2}"#, "alice"),
            post_request("/login", r#"{"user":"bob","password":"wrong"}"#, ""),
        ];
        for request in &requests {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            eprintln!("<- {}", response.lines().next().unwrap_or_default());
        }
        // One audit entry and one usage event per request, and the failed login.
        let expected = 2 * requests.len() + 1;
        let seen = (0..expected)
            .take_while(|_| printed_rx.recv_timeout(Duration::from_secs(30)).is_ok())
            .count();
        producer.close(Duration::from_secs(5)).await?;
        // The printer's consumer goes before the embedded broker does, so it has no lost
        // connection to report.
        stop.store(true, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || printer.join())
            .await?
            .ok();
        if seen != expected {
            return Err(format!("read back {seen} of {expected} events").into());
        }
        return Ok(());
    }

    server
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    producer.close(Duration::from_secs(5)).await?;
    Ok(())
}

fn post_request(path: &str, body: &str, user: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-user: {user}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
