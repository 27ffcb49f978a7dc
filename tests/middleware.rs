//! `AuditLayer` and `UsageLayer` on an axum router, driven with `tower::ServiceExt::oneshot` and
//! recorded by a `MemoryProducer`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http_body::Body as _;
use http_body_util::BodyExt;
use kafka_events::middleware::{
    AuditBody, AuditContext, AuditLayer, ForwardingHeader, Identity, RequestInfo, TrustedProxies,
    UsageLayer,
};
use kafka_events::{
    AuditEntry, AuthEvent, CloseFuture, EmitError, KafkaEvent, MemoryProducer, Message, MessageRef,
    Producer, RequestOutcome, SendFuture, UsageEvent, UsageStatus,
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
    // The client chose the id: the response is left as the handler made it.
    assert!(!headers.contains_key("x-request-id"));

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
        entry.payload.unwrap(),
        serde_json::json!({"sku": "A1", "quantity": 2})
    );
    assert!(!entry.payload_truncated);
    assert_eq!(
        (entry.outcome, entry.anonymous),
        (RequestOutcome::Completed, false)
    );
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
    assert!(entry.anonymous, "an entry without identity says so");
    assert_eq!(entry.source_ip, "");
}

#[tokio::test]
async fn the_client_is_the_rightmost_hop_no_trusted_proxy_added() {
    // The client sent `6.6.6.6`; the load balancer appended what it saw and connected.
    let request = |forwarded: Option<&'static str>| {
        let mut r = Request::get("/orders/1")
            .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
            .body(Body::empty())
            .unwrap();
        if let Some(forwarded) = forwarded {
            r.headers_mut()
                .insert(header::FORWARDED, forwarded.parse().unwrap());
        }
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 1))));
        r
    };
    let source = |proxies: TrustedProxies, forwarded| async move {
        let producer = MemoryProducer::new();
        call(
            app(layer(&producer).trusted_proxies(proxies)),
            request(forwarded),
        )
        .await;
        only_entry(&producer).source_ip
    };
    assert_eq!(source(TrustedProxies::none(), None).await, "10.0.0.2");
    assert_eq!(source(TrustedProxies::count(1), None).await, "203.0.113.9");
    let ranges = TrustedProxies::ranges(["10.0.0.0/8"]).unwrap();
    assert_eq!(source(ranges.clone(), None).await, "203.0.113.9");
    // A client-sent `Forwarded` is not read unless the proxies write that header instead.
    let forwarded = Some("for=6.6.6.6, for=\"[2001:db8::7]:4711\"");
    assert_eq!(source(ranges.clone(), forwarded).await, "203.0.113.9");
    let rfc7239 = ranges.header(ForwardingHeader::Forwarded);
    assert_eq!(source(rfc7239, forwarded).await, "2001:db8::7");
    assert!(TrustedProxies::ranges(["10.0.0.0/33"]).is_err());
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
        assert_eq!(entry.payload.map(|p| p.to_value()), payload, "{name}");
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
        only_entry(&producer).payload.unwrap(),
        serde_json::json!({"v": 1})
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
        entry.response_payload.unwrap(),
        serde_json::json!({"error": "invalid sku", "token": "***"})
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
        .layer(layer(&producer).mask_field("badge").unwrap());
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer AUTH-SECRET")
        .header(header::COOKIE, "session=COOKIE-SECRET")
        .header("x-api-key", "APIKEY-SECRET")
        .body(Body::from(
            r#"{"user":"ann","password":"PW-SECRET","api_key":"K-SECRET","nested":{"accessToken":"T-SECRET"},"pin":"1234","badge":"B-SECRET","data":"{\"pwd\":\"PWD-SECRET\"}"}"#,
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
        "B-SECRET",
        "PWD-SECRET",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let entry: AuditEntry = record.decode().unwrap();
    assert_eq!(entry.payload.unwrap().to_value()["user"], "ann");
    assert!(layer(&producer).mask_field("").is_err());
    assert!(layer(&producer).mask_field("-_").is_err());
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
async fn both_layers_record_one_request_id_whichever_is_outside() {
    let producer = MemoryProducer::new();
    let router = Router::new()
        .route(
            "/orders/{id}",
            get(|context: AuditContext| async move { context.request_id() }),
        )
        .layer(layer(&producer))
        .layer(UsageLayer::new(producer.clone()));
    let request = Request::get("/orders/1").body(Body::empty()).unwrap();
    let (_, headers, body) = call(router, request).await;
    let entry = only_entry(&producer);
    assert_eq!(
        body,
        entry.request_id.as_bytes(),
        "the handler saw the entry's id"
    );
    assert_eq!(headers["x-request-id"], entry.request_id.as_str());
}

#[tokio::test]
async fn owner_ids_and_messages_are_bounded() {
    let producer = MemoryProducer::new();
    let router = Router::new()
        .route("/reports/{id}", get(|| async { "report" }))
        .layer(UsageLayer::new(producer.clone()));
    let request = Request::get("/reports/7")
        .header("x-owner-id", "x".repeat(64 * 1024))
        .header("x-message", "m".repeat(64 * 1024))
        .body(Body::empty())
        .unwrap();
    call(router, request).await;
    let usage = &producer.events::<UsageEvent>().unwrap()[0];
    assert_eq!(usage.owner_id, None, "not a valid id");
    assert_eq!(usage.message.as_deref().map(str::len), Some(1024));
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
async fn a_requests_usage_event_and_entry_agree_on_when_it_started_and_how_long_it_took() {
    let producer = MemoryProducer::new();
    let router = app(layer(&producer).with_usage());
    for _ in 0..20 {
        let request = Request::get("/orders/1").body(Body::empty()).unwrap();
        call(router.clone(), request).await;
    }
    let (entries, usage) = (
        producer.events::<AuditEntry>().unwrap(),
        producer.events::<UsageEvent>().unwrap(),
    );
    assert_eq!((entries.len(), usage.len()), (20, 20));
    // One request after the other: the n-th entry and usage event are the n-th request's.
    for (entry, usage) in entries.iter().zip(&usage) {
        assert_eq!(usage.start_timestamp, entry.timestamp);
        assert_eq!(usage.timestamp, usage.end_timestamp);
        // The end is the start plus the duration the entry records, to the nanosecond: the
        // wall clock is read once, at the start.
        let took = usage.end_timestamp - usage.start_timestamp;
        let took_ms = took.num_nanoseconds().unwrap() as f64 / 1e6;
        assert!(
            (took_ms - entry.duration_ms).abs() < 1e-6,
            "{took:?} vs {} ms",
            entry.duration_ms
        );
    }
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
    let event = AuthEvent::login_failure("accounts", "mallory", "bad password").with_request(&info);
    assert_eq!(
        (
            event.path.as_str(),
            event.user_agent.as_str(),
            event.remote_addr.as_str()
        ),
        ("/login", "app/2", "192.0.2.1")
    );
    assert_eq!(event.event_type(), Some("login.failure"));
    let _ = Arc::new(producer);
}

#[tokio::test]
async fn secrets_in_the_url_are_masked_and_harmless_parameters_kept() {
    let producer = MemoryProducer::new();
    let request = Request::get(
        "/orders/1?page=2&access_token=T1&api_key=K1&password=P1&token=T2&client_secret=S1&apiKey=K2",
    )
    .body(Body::empty())
    .unwrap();
    call(app(layer(&producer)), request).await;
    assert_eq!(
        only_entry(&producer).full_url,
        "/orders/1?page=2&access_token=***&api_key=***&password=***&token=***&client_secret=***&apiKey=***"
    );
    let producer = MemoryProducer::new();
    let request = Request::get("http://alice:PASS@example.com/orders/1?page=2")
        .body(Body::empty())
        .unwrap();
    call(app(layer(&producer)), request).await;
    assert_eq!(
        only_entry(&producer).full_url,
        "http://example.com/orders/1?page=2"
    );
}

/// Routes whose handlers panic or never answer, behind both layers.
fn troubled(producer: &MemoryProducer) -> Router {
    Router::new()
        .route(
            "/panic",
            get(|| async {
                panic!("handler bug");
                #[allow(unreachable_code)]
                ""
            }),
        )
        .route("/hang", get(std::future::pending::<&'static str>))
        .layer(layer(producer).with_usage())
}

#[tokio::test]
async fn a_panicking_handler_is_audited_and_the_panic_goes_on() {
    let producer = MemoryProducer::new();
    let request = Request::get("/panic").body(Body::empty()).unwrap();
    let outcome = tokio::spawn(troubled(&producer).oneshot(request)).await;
    assert!(outcome.unwrap_err().is_panic(), "the panic propagates");
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (500, RequestOutcome::Panicked)
    );
    let usage = producer.events::<UsageEvent>().unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].outcome, RequestOutcome::Panicked);
}

#[tokio::test]
async fn a_service_that_panics_in_call_is_audited_and_the_panic_goes_on() {
    use tower::Layer as _;
    // The panic comes from `call` itself, before any future exists (as from a `map_request`
    // closure), on a request whose body is not read ahead.
    fn panics_in_call<B>(
        _: Request<B>,
    ) -> std::future::Ready<Result<axum::response::Response, std::convert::Infallible>> {
        panic!("bug in a request mapper")
    }
    let producer = MemoryProducer::new();
    let audited = layer(&producer)
        .with_usage()
        .layer(tower::service_fn(panics_in_call::<AuditBody<Body>>));
    let request = Request::get("/orders/1").body(Body::empty()).unwrap();
    let outcome = tokio::spawn(audited.oneshot(request)).await;
    assert!(outcome.is_err_and(|e| e.is_panic()), "the panic propagates");
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (500, RequestOutcome::Panicked)
    );
    let usage = producer.events::<UsageEvent>().unwrap();
    assert_eq!(usage[0].outcome, RequestOutcome::Panicked);

    let producer = MemoryProducer::new();
    let counted =
        UsageLayer::new(producer.clone()).layer(tower::service_fn(panics_in_call::<Body>));
    let request = Request::get("/orders/1").body(Body::empty()).unwrap();
    let outcome = tokio::spawn(counted.oneshot(request)).await;
    assert!(outcome.is_err_and(|e| e.is_panic()));
    let usage = producer.events::<UsageEvent>().unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].outcome, RequestOutcome::Panicked);
}

#[tokio::test]
async fn a_cancelled_request_is_audited() {
    let producer = MemoryProducer::new();
    let request = Request::get("/hang").body(Body::empty()).unwrap();
    {
        let mut pending = std::pin::pin!(troubled(&producer).oneshot(request));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(pending.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        assert!(
            producer.is_empty(),
            "nothing is written while the request runs"
        );
        // The client goes away: the server drops the request's future.
    }
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (499, RequestOutcome::Cancelled)
    );
    let usage = producer.events::<UsageEvent>().unwrap();
    assert_eq!(usage[0].outcome, RequestOutcome::Cancelled);
}

/// A body that panics when polled after it has ended, as a `futures::stream::unfold` stream does.
struct StrictBody(Option<Bytes>, bool);

impl http_body::Body for StrictBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        assert!(!self.1, "polled after it ended");
        match self.0.take() {
            Some(data) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
            None => {
                self.1 = true;
                std::task::Poll::Ready(None)
            }
        }
    }
}

#[tokio::test]
async fn bodies_are_never_polled_after_they_ended() {
    let producer = MemoryProducer::new();
    let body = Bytes::from_static(br#"{"sku":"A1"}"#);
    let request = post_json(
        "/orders/1",
        Body::new(StrictBody(Some(body.clone()), false)),
    );
    let (status, _, echoed) = call(app(layer(&producer)), request).await;
    assert_eq!((status, echoed), (StatusCode::OK, body.clone()));
    assert_eq!(
        only_entry(&producer).payload.unwrap(),
        serde_json::json!({"sku": "A1"})
    );

    // The response body too: polled again after its end, it does not poll the handler's.
    let service = tower::ServiceBuilder::new()
        .layer(layer(&producer))
        .service_fn(|_: Request<AuditBody<Body>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(StrictBody(
                Some(Bytes::from_static(b"ok")),
                false,
            )))
        });
    let response = service
        .oneshot(Request::get("/x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let mut body = std::pin::pin!(response.into_body());
    let mut frames = 0;
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        frame.unwrap();
        frames += 1;
    }
    assert_eq!(frames, 1);
    assert!(
        std::future::poll_fn(|cx| body.as_mut().poll_frame(cx))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn request_ids_are_bounded_and_answered_only_when_generated() {
    for (sent, kept) in [
        (Some("req-1".to_owned()), true),
        (Some("x".repeat(64 * 1024)), false),
        (Some("has space".to_owned()), false),
        (None, false),
    ] {
        let producer = MemoryProducer::new();
        let mut request = Request::get("/orders/1");
        if let Some(id) = &sent {
            request = request.header("x-request-id", id.as_str());
        }
        let (_, headers, _) =
            call(app(layer(&producer)), request.body(Body::empty()).unwrap()).await;
        let entry = only_entry(&producer);
        if kept {
            assert_eq!(Some(&entry.request_id), sent.as_ref());
            assert!(!headers.contains_key("x-request-id"));
        } else {
            assert!(
                Uuid::parse_str(&entry.request_id).is_ok(),
                "{}",
                entry.request_id.len()
            );
            assert_eq!(headers["x-request-id"], entry.request_id.as_str());
        }
    }
}

#[tokio::test]
async fn the_identity_reaches_the_entry_from_an_auth_layer_inside_it() {
    let producer = MemoryProducer::new();
    let tenant = Uuid::new_v4();
    let resource = Uuid::new_v4();
    // The order most axum apps use: auth added first, so it runs inside the audit layer.
    let router = Router::new()
        .route(
            "/orders/{id}",
            get(move |context: AuditContext| async move {
                context.set_resource_id(resource);
                "ok"
            }),
        )
        .layer(axum::middleware::from_fn(
            move |mut request: Request<Body>, next: axum::middleware::Next| async move {
                if let Some(user) = request.headers().get("x-user").cloned() {
                    Identity {
                        subject: user.to_str().unwrap().to_owned(),
                        tenant_id: Some(tenant),
                        jti: None,
                    }
                    .attach(request.extensions_mut());
                }
                next.run(request).await
            },
        ))
        .layer(layer(&producer).with_usage());
    let signed_in = Request::get("/orders/7")
        .header("x-user", "alice")
        .header("x-correlation-id", "trace-9")
        .body(Body::empty())
        .unwrap();
    call(router.clone(), signed_in).await;
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.subject.as_str(), entry.tenant_id, entry.anonymous),
        ("alice", Some(tenant), false)
    );
    assert_eq!(entry.resource_id, Some(resource));
    assert_eq!(entry.correlation_id, "trace-9");
    assert_eq!(producer.events::<UsageEvent>().unwrap()[0].subject, "alice");

    producer.clear();
    call(
        router,
        Request::get("/orders/7").body(Body::empty()).unwrap(),
    )
    .await;
    let entry = only_entry(&producer);
    assert!(entry.anonymous && entry.subject.is_empty());
}

#[tokio::test]
async fn one_layer_audits_and_bills_with_one_configuration() {
    let producer = MemoryProducer::new();
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders/{id}", get(|| async { "order" }))
        .layer(
            layer(&producer)
                .with_usage()
                .skip_path("/health")
                .product_id(Uuid::nil())
                .memory_mb(256),
        );
    call(
        router.clone(),
        Request::get("/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(producer.is_empty(), "/health is neither audited nor billed");
    call(
        router,
        Request::get("/orders/1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(producer.events::<AuditEntry>().unwrap().len(), 1);
    let usage = producer.events::<UsageEvent>().unwrap();
    assert_eq!((usage.len(), usage[0].memory_mb), (1, 256));
    assert_eq!(usage[0].service, "orders-api");
}

/// Refuses records larger than its limit, as a broker's `message.max.bytes` does.
struct SizeLimit(MemoryProducer, usize);

impl Producer for SizeLimit {
    fn send(&self, message: Message) -> SendFuture<'_> {
        self.0.send(message)
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        if message.payload.len() > self.1 {
            return Err(EmitError::MessageTooLarge {
                size: message.payload.len(),
                limit: self.1,
            });
        }
        self.0.send_detached(message)
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        self.0.close(timeout)
    }
}

#[tokio::test]
async fn what_the_client_controls_is_bounded_so_every_request_leaves_an_entry() {
    let producer = MemoryProducer::new();
    let router = Router::new()
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(layer(&producer).with_usage());
    // Within hyper's limits, and each one escaped twice over in JSON.
    let path = format!("/{}", "\\".repeat(60_000));
    let request = Request::get(path.as_str())
        .header(header::USER_AGENT, "\"".repeat(330_000))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = call(router, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let entry = only_entry(&producer);
    assert_eq!(
        (entry.status_code, entry.http_method.as_str()),
        (404, "GET")
    );
    for field in ["endpoint", "full_url", "user_agent"] {
        assert!(
            entry.truncated.iter().any(|f| f == field),
            "{field}: {:?}",
            entry.truncated
        );
    }
    assert!(entry.endpoint.starts_with("/\\\\"));
    let json = serde_json::to_vec(&entry).unwrap();
    assert!(json.len() < 20_000, "an entry of {} bytes", json.len());
    let usage = &producer.events::<UsageEvent>().unwrap()[0];
    assert_eq!(usage.truncated, ["endpoint"]);
}

#[tokio::test]
async fn an_entry_refused_for_good_is_replaced_by_a_minimal_one() {
    let memory = MemoryProducer::new();
    let router = app(AuditLayer::new(SizeLimit(memory.clone(), 20_000)).service_name("orders-api"));
    let body = format!(r#"{{"notes":"{}"}}"#, "x".repeat(50_000));
    let (status, _, _) = call(router, post_json("/orders/7", body)).await;
    assert_eq!(status, StatusCode::OK);
    let entry = only_entry(&memory);
    assert_eq!(
        (
            entry.http_method.as_str(),
            entry.endpoint.as_str(),
            entry.status_code,
            entry.outcome,
            entry.service.as_str()
        ),
        (
            "POST",
            "/orders/{id}",
            200,
            RequestOutcome::Completed,
            "orders-api"
        )
    );
    let why = entry.minimal.as_deref().expect("marked as the stand-in");
    assert!(why.contains("over the 20000-byte limit"), "{why}");
    assert!(
        entry.payload.is_none(),
        "the minimal entry leaves the body out"
    );
}
