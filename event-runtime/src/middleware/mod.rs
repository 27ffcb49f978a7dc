//! Tower middleware: [`AuditLayer`] emits one [`AuditEntry`](crate::AuditEntry) per request (and,
//! with [`AuditLayer::with_usage`], one [`UsageEvent`](crate::UsageEvent) too, under the same
//! configuration); [`UsageLayer`] emits usage events alone. They work with any tower HTTP stack
//! (axum, tonic, hyper), hand events over with
//! [`emit_detached`](crate::KafkaEvent::emit_detached), never wait for the broker, and never
//! change the response (beyond an `x-request-id` header when they generated the id).
//!
//! Every request that is not skipped leaves exactly one entry: also when its handler panics
//! (status 500, outcome `panicked`; the panic goes on) and when it is cancelled — the client
//! went away, or the request's future was dropped (status 499, outcome `cancelled`).
//!
//! ```
//! use http::{Request, Response};
//! use kafka_events::middleware::{AuditLayer, Identity};
//! use kafka_events::{AuditEntry, MemoryProducer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = MemoryProducer::new();
//! let service = ServiceBuilder::new()
//!     .layer(AuditLayer::new(producer.clone()).service_name("accounts").skip_path("/health"))
//!     // The app's auth, inside the audit layer: it attaches the identity it established.
//!     .map_request(|mut request: Request<_>| {
//!         Identity { subject: "ann".into(), ..Identity::default() }.attach(request.extensions_mut());
//!         request
//!     })
//!     .service_fn(|request: Request<_>| async move {
//!         Ok::<_, std::convert::Infallible>(Response::new(request.into_body()))
//!     });
//!
//! let request = Request::post("/users?page=2&api_key=k1")
//!     .header("content-type", "application/json")
//!     .body(http_body_util::Full::new(bytes::Bytes::from(r#"{"name":"ann","password":"hunter2"}"#)))?;
//! let response = service.oneshot(request).await?;
//! let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//! assert_eq!(body, r#"{"name":"ann","password":"hunter2"}"#); // the handler saw it unchanged
//!
//! // The entry is emitted once the response body has gone out (or was dropped).
//! producer.wait_for(1, std::time::Duration::from_secs(5)).await?;
//! let entry = &producer.events::<AuditEntry>()?[0];
//! assert_eq!((entry.http_method.as_str(), entry.subject.as_str()), ("POST", "ann"));
//! assert_eq!(entry.full_url, "/users?page=2&api_key=***");
//! assert_eq!(entry.payload.as_ref().unwrap(), &serde_json::json!({"name": "ann", "password": "***"}));
//! # Ok(())
//! # }
//! ```
//!
//! Inside, one file per job: [`AuditLayer`] and [`UsageLayer`] are folders of their own (layer,
//! service, future, as tower-http keeps them); both start a request's record in `lifecycle`,
//! which also writes it exactly once however the request ends, and build it in `entries`;
//! `common` is the configuration they share; `request`, `identity`, `context`, `client`,
//! `request_id` read the request; `body` captures bodies; `mask` and `redact` hide secrets (`seen_keys` remembers which JSON
//! keys are secret).

#[macro_use]
mod common;
mod audit;
mod auth;
mod body;
mod bounds;
mod client;
mod context;
mod entries;
mod hooks;
mod identity;
mod lifecycle;
mod mask;
mod redact;
mod request;
mod request_id;
mod seen_keys;
mod usage;

pub use audit::{Audit, AuditLayer, AuditResponseFuture, EntryHook};
pub use body::{AuditBody, CaptureBody};
pub use client::{ForwardingHeader, InvalidRange, TrustedProxies};
pub use context::AuditContext;
pub use hooks::{IdentityFromExtensions, IdentityHook};
pub use identity::Identity;
pub use kafka_events_rules::{InvalidName, SENSITIVE_NAMES as DEFAULT_SENSITIVE_FIELDS};
pub use request::RequestInfo;
pub use usage::{Usage, UsageLayer, UsageResponseFuture};
