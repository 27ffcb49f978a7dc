//! `AuditLayer` and `UsageLayer` on an axum router, driven with `tower::ServiceExt::oneshot` and
//! recorded by a `MemoryProducer`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use kafka_events::middleware::{AuditLayer, Identity, RequestInfo, UsageLayer};
use kafka_events::{
    AuditEntry, AuthEvent, CloseFuture, EmitError, KafkaEvent, MemoryProducer, Message, MessageRef,
    Producer, SendFuture, UsageEvent, UsageStatus,
};
use tower::ServiceExt;
use uuid::Uuid;

/// Echoes the request body, so a test sees exactly what the handler received.
async fn echo(body: Bytes) -> Bytes {
    body
}

async fn fail_json() -> impl IntoResponse {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"invalid sku","token":"leaky"}"#,
    )
}

async fn ok_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

fn app(layer: AuditLayer) -> Router {
    Router::new()
        .route("/orders/{id}", post(echo).put(echo).get(ok_json))
        .route("/fail", post(fail_json))
        .route("/health", get(|| async { "ok" }))
        .layer(layer)
}

fn layer(producer: &MemoryProducer) -> AuditLayer {
    AuditLayer::new(producer.clone()).service_name("orders-api")
}

async fn call(app: Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Bytes) {
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn only_entry(producer: &MemoryProducer) -> AuditEntry {
    let entries = producer.events::<AuditEntry>().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn records_every_field() {
    let producer = MemoryProducer::new();
    let (tenant, jti) = (Uuid::new_v4(), Uuid::new_v4());
    let mut request = Request::post("/orders/42?expand=items")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::USER_AGENT, "curl/8.5")
        .header("x-request-id", "req-123")
        .body(Body::from(r#"{"sku":"A1","quantity":2}"#))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 5555))));
    request.extensions_mut().insert(Identity {
        subject: "alice".into(),
        tenant_id: Some(tenant),
        jti: Some(jti),
    });
    let (status, headers, _) = call(app(layer(&producer)), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "req-123");

    let entry = only_entry(&producer);
    assert_eq!(entry.http_method, "POST");
    assert_eq!(entry.endpoint, "/orders/{id}");
    assert_eq!(entry.resource, "orders");
    assert_eq!(entry.full_url, "/orders/42?expand=items");
    assert_eq!(entry.source_ip, "10.1.2.3");
    assert_eq!(entry.user_agent, "curl/8.5");
    assert_eq!(entry.request_id, "req-123");
    assert_eq!(entry.status_code, 200);
    assert!(entry.duration_ms > 0.0);
    assert_eq!(entry.service, "orders-api");
    assert_eq!(
        (entry.subject.as_str(), entry.tenant_id, entry.jti),
        ("alice", Some(tenant), Some(jti))
    );
    assert_eq!(
        entry.payload,
        Some(serde_json::json!({"sku": "A1", "quantity": 2}))
    );
    assert!(!entry.payload_truncated);
    assert!((chrono::Utc::now() - entry.timestamp).num_seconds() < 60);
    assert_eq!(producer.records()[0].key, entry.id.to_string().as_bytes());
}

#[tokio::test]
async fn generates_a_request_id_and_returns_it() {
    let producer = MemoryProducer::new();
    let (_, headers, _) = call(
        app(layer(&producer)),
        Request::get("/orders/1").body(Body::empty()).unwrap(),
    )
    .await;
    let entry = only_entry(&producer);
    assert!(Uuid::parse_str(&entry.request_id).is_ok());
    assert_eq!(headers["x-request-id"], entry.request_id.as_str());
}

#[tokio::test]
async fn anonymous_requests_are_audited_with_empty_identity() {
    let producer = MemoryProducer::new();
    call(
        app(layer(&producer)),
        Request::get("/orders/1").body(Body::empty()).unwrap(),
    )
    .await;
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.subject.as_str(), entry.tenant_id, entry.jti),
        ("", None, None)
    );
    assert_eq!(entry.source_ip, "");
}

#[tokio::test]
async fn forwarded_for_only_when_trusted() {
    let request = || {
        let mut r = Request::get("/orders/1")
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .body(Body::empty())
            .unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
        r
    };
    let producer = MemoryProducer::new();
    call(app(layer(&producer)), request()).await;
    assert_eq!(only_entry(&producer).source_ip, "127.0.0.1");
    let trusted = MemoryProducer::new();
    call(app(layer(&trusted).trust_forwarded_for(true)), request()).await;
    assert_eq!(only_entry(&trusted).source_ip, "203.0.113.7");
}

#[tokio::test]
async fn the_handler_gets_the_body_byte_for_byte() {
    let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(100_000));
    let cases: [(&str, Vec<u8>, Option<serde_json::Value>, bool); 4] = [
        (
            "valid",
            br#"{"a":[1,2,{"b":null}]}"#.to_vec(),
            Some(serde_json::json!({"a": [1, 2, {"b": null}]})),
            false,
        ),
        ("invalid", b"{not json".to_vec(), None, true),
        ("oversized", big.clone().into_bytes(), None, true),
        ("empty", Vec::new(), None, false),
    ];
    for (name, body, payload, truncated) in cases {
        let producer = MemoryProducer::new();
        let (status, _, echoed) =
            call(app(layer(&producer)), post_json("/orders/1", body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(
            echoed.as_ref(),
            body.as_slice(),
            "{name}: the handler saw other bytes"
        );
        let entry = only_entry(&producer);
        assert_eq!(entry.payload, payload, "{name}");
        assert_eq!(entry.payload_truncated, truncated, "{name}");
    }
}

#[tokio::test]
async fn the_cap_is_configurable() {
    let producer = MemoryProducer::new();
    let body = r#"{"note":"0123456789"}"#;
    call(
        app(layer(&producer).max_payload_bytes(10)),
        post_json("/orders/1", body),
    )
    .await;
    let entry = only_entry(&producer);
    assert!(entry.payload_truncated && entry.payload.is_none());
}

#[tokio::test]
async fn non_json_and_bodyless_methods_are_not_captured() {
    let producer = MemoryProducer::new();
    let request = Request::post("/orders/1")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"looks":"like json"}"#))
        .unwrap();
    call(app(layer(&producer)), request).await;
    let entry = only_entry(&producer);
    assert_eq!((entry.payload, entry.payload_truncated), (None, false));

    let producer = MemoryProducer::new();
    let request = Request::put("/orders/1")
        .header(header::CONTENT_TYPE, "application/vnd.api+json")
        .body(Body::from(r#"{"v":1}"#))
        .unwrap();
    call(app(layer(&producer)), request).await;
    assert_eq!(
        only_entry(&producer).payload,
        Some(serde_json::json!({"v": 1}))
    );
}

#[tokio::test]
async fn error_responses_are_recorded_when_json_and_masked() {
    let producer = MemoryProducer::new();
    let (status, _, body) = call(app(layer(&producer)), post_json("/fail", "{}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body.as_ref(),
        br#"{"error":"invalid sku","token":"leaky"}"#,
        "response unchanged"
    );
    let entry = only_entry(&producer);
    assert_eq!(entry.status_code, 422);
    assert_eq!(
        entry.response_payload,
        Some(serde_json::json!({"error": "invalid sku", "token": "***"}))
    );

    // A successful JSON response is not recorded.
    let producer = MemoryProducer::new();
    call(
        app(layer(&producer)),
        Request::get("/orders/1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(only_entry(&producer).response_payload, None);
}

#[tokio::test]
async fn a_failing_service_is_still_audited() {
    let producer = MemoryProducer::new();
    let service = tower::ServiceBuilder::new()
        .layer(layer(&producer))
        .service_fn(|_: Request<_>| async {
            Err::<http::Response<Body>, _>(std::io::Error::other("backend down"))
        });
    let request = post_json("/orders/9", r#"{"sku":"B"}"#);
    assert!(service.oneshot(request).await.is_err());
    let entry = only_entry(&producer);
    assert_eq!(entry.status_code, 500);
    assert_eq!(entry.endpoint, "/orders/9");
}

#[tokio::test]
async fn sensitive_headers_and_fields_never_leave() {
    let producer = MemoryProducer::new();
    let router = Router::new()
        .route(
            "/login",
            post(|| async { ([(header::SET_COOKIE, "session=SETCOOKIE-SECRET")], "ok") }),
        )
        .layer(layer(&producer).mask_field("pin"));
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer AUTH-SECRET")
        .header(header::COOKIE, "session=COOKIE-SECRET")
        .header("x-api-key", "APIKEY-SECRET")
        .body(Body::from(
            r#"{"user":"ann","password":"PW-SECRET","api_key":"K-SECRET","nested":{"accessToken":"T-SECRET"},"pin":"1234"}"#,
        ))
        .unwrap();
    call(router, request).await;
    let record = &producer.records()[0];
    let text = String::from_utf8(record.payload.clone()).unwrap();
    for secret in [
        "AUTH-SECRET",
        "COOKIE-SECRET",
        "APIKEY-SECRET",
        "SETCOOKIE-SECRET",
        "PW-SECRET",
        "K-SECRET",
        "T-SECRET",
        "1234",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let entry: AuditEntry = record.decode().unwrap();
    assert_eq!(entry.payload.unwrap()["user"], "ann");
}

#[tokio::test]
async fn skipped_paths_and_vetoed_entries_are_not_emitted() {
    let producer = MemoryProducer::new();
    let layer = layer(&producer)
        .skip_path("/health")
        .on_entry(|entry: &mut AuditEntry| {
            entry.service.push_str("-eu");
            entry.http_method != "PUT"
        });
    let router = app(layer);
    call(
        router.clone(),
        Request::get("/health").body(Body::empty()).unwrap(),
    )
    .await;
    call(router.clone(), post_json("/orders/1", "{}").map(Body::from)).await;
    call(
        router,
        Request::put("/orders/1").body(Body::empty()).unwrap(),
    )
    .await;
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.http_method.as_str(), entry.service.as_str()),
        ("POST", "orders-api-eu")
    );
}

/// A producer whose acknowledgements never come.
struct NeverAcks(MemoryProducer);

impl Producer for NeverAcks {
    fn send(&self, _: Message) -> SendFuture<'_> {
        Box::pin(std::future::pending())
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        self.0.send_detached(message)
    }

    fn close(&self, _: Duration) -> CloseFuture<'_> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn a_broker_that_never_acks_does_not_hold_the_request() {
    let memory = MemoryProducer::new();
    let router = app(AuditLayer::new(NeverAcks(memory.clone())));
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        call(router, post_json("/orders/1", r#"{"a":1}"#)),
    )
    .await
    .expect("the request completed although the producer never acknowledges");
    assert_eq!(response.0, StatusCode::OK);
    assert_eq!(memory.len(), 1, "the entry was handed over");
}

#[tokio::test]
async fn usage_events_carry_identity_owner_and_message() {
    let producer = MemoryProducer::new();
    let (tenant, product) = (Uuid::new_v4(), Uuid::new_v4());
    let router = Router::new()
        .route("/reports/{id}", get(|| async { "report" }))
        .layer(
            UsageLayer::new(producer.clone())
                .service_name("reports")
                .product_id(product)
                .memory_mb(512)
                .skip_path("/health"),
        );
    let mut request = Request::get("/reports/7")
        .header("x-owner-id", "owner-1")
        .header("x-message", "monthly export")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(Identity {
        subject: "bob".into(),
        tenant_id: Some(tenant),
        jti: None,
    });
    call(router, request).await;
    let events = producer.events::<UsageEvent>().unwrap();
    assert_eq!(events.len(), 1);
    let usage = &events[0];
    assert_eq!(
        (usage.service.as_str(), usage.endpoint.as_str()),
        ("reports", "/reports/{id}")
    );
    assert_eq!(
        (usage.subject.as_str(), usage.tenant_id),
        ("bob", Some(tenant))
    );
    assert_eq!(usage.owner_id.as_deref(), Some("owner-1"));
    assert_eq!(usage.message.as_deref(), Some("monthly export"));
    assert!(usage.end_timestamp >= usage.start_timestamp);
    // What the Go middleware's UsageEntry carries.
    assert_eq!((usage.product_id, usage.memory_mb), (Some(product), 512));
    assert_eq!(usage.status, UsageStatus::Draft);
    assert_eq!(
        usage.metadata,
        Some(vec![
            [("user_id".to_owned(), "bob".to_owned())].into(),
            [("service_name".to_owned(), "reports".to_owned())].into(),
        ])
    );
    assert_eq!((usage.tags.as_ref(), usage.created_at), (None, None));
}

#[tokio::test]
async fn identity_hook_and_auth_events_from_request_parts() {
    let producer = MemoryProducer::new();
    let hook = |request: &RequestInfo<'_>| Identity {
        subject: request.header("x-user").unwrap_or_default().to_owned(),
        ..Identity::default()
    };
    let router = app(layer(&producer).identity(hook));
    call(
        router,
        Request::get("/orders/1")
            .header("x-user", "carol")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(only_entry(&producer).subject, "carol");

    let mut request = Request::post("/login")
        .header(header::USER_AGENT, "app/2")
        .header("x-forwarded-for", "198.51.100.4")
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 80))));
    let info = RequestInfo::new(&request);
    let event =
        AuthEvent::login_failure("accounts", "mallory", "bad password").with_request(&info, false);
    assert_eq!(
        (
            event.path.as_str(),
            event.user_agent.as_str(),
            event.remote_addr.as_str()
        ),
        ("/login", "app/2", "192.0.2.1")
    );
    assert_eq!(event.event_type(), Some("login.failure"));
    let trusted = AuthEvent::login_success("accounts", "ann").with_request(&info, true);
    assert_eq!(trusted.remote_addr, "198.51.100.4");
    let _ = Arc::new(producer);
}
