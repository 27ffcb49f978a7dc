//! What the HTTP layers write for two requests (an anonymous GET, an authenticated JSON POST
//! with `X-Message`, `X-Owner-ID` and `X-Request-Id`), for the interop tests of both wire
//! formats.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use kafka_events::middleware::{AuditLayer, Identity, UsageLayer};
use kafka_events::{MemoryProducer, Record};
use tower::ServiceExt;
use uuid::{Uuid, uuid};

/// The request id the POST carries.
pub const REQUEST_ID: &str = "0b7c3e5a-1d2f-4a6b-8c9d-0e1f2a3b4c5d";

/// Runs both requests through an app whose layers write to `producer` and returns the four
/// records (two audit entries, two usage events).
pub async fn records_from_the_layers(producer: &MemoryProducer) -> Vec<Record> {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders/{id}", post(|body: String| async move { body }))
        .layer(
            UsageLayer::new(producer.clone())
                .service_name("orders")
                .product_id(uuid!("1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
                .memory_mb(512),
        )
        .layer(AuditLayer::new(producer.clone()).service_name("orders"));
    let anonymous = Request::get("/health?page=2")
        .header(header::USER_AGENT, "curl/8.5.0")
        .body(Body::empty())
        .unwrap();
    let mut authenticated = Request::post("/orders/7?expand=items")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-message", "nightly import")
        .header("x-owner-id", "acme")
        .header("x-request-id", REQUEST_ID)
        .body(Body::from(
            r#"{"sku":"A-1","qty":2,"card":{"number":"4111","password":"x"},"total":12.5}"#,
        ))
        .unwrap();
    authenticated.extensions_mut().insert(Identity {
        subject: "user-1234".into(),
        tenant_id: Some(Uuid::new_v4()),
        jti: Some(Uuid::new_v4()),
    });
    for request in [anonymous, authenticated] {
        let response = app.clone().oneshot(request).await.unwrap();
        response.into_body().collect().await.unwrap();
    }
    producer.wait_for(4, Duration::from_secs(10)).await.unwrap()
}
