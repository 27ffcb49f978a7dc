//! [`AuditLayer`]: one [`AuditEntry`](crate::AuditEntry) per request (and one usage event, on request): the layer
//! here, the [`service`] it wraps around yours, and the [`future`] that writes the entry when
//! the request ends.

mod config;
mod future;
mod service;

use std::sync::Arc;

use kafka_events_rules::{InvalidName, Matcher};
use tower_layer::Layer;

pub use config::EntryHook;
pub use future::AuditResponseFuture;
pub use service::Audit;

use self::config::Config;
use super::client::TrustedProxies;
use super::common::Common;
use super::hooks::IdentityHook;
use super::mask::Masker;
use super::request::RequestInfo;
use crate::producer::Producer;

/// Emits one [`AuditEntry`](crate::AuditEntry) per request without waiting for the broker and without changing
/// the response (it adds `x-request-id` only when it generated the id).
///
/// It records the method, route template (`endpoint`, with its first segment as `resource`),
/// the URL (credentials dropped, sensitive query values masked), the client address (see
/// [`TrustedProxies`]), `User-Agent`, status, duration, request and correlation ids, how the
/// request ended, the identity (attached inside the layer with
/// [`Identity::attach`](super::Identity::attach), or read by the [`IdentityHook`]) or that the
/// caller is anonymous, and the JSON body of POST/PUT/PATCH requests (and of 4xx/5xx responses)
/// with sensitive fields masked. It never records `Authorization`, `Cookie`, `Set-Cookie` or
/// API-key headers: no header other than `User-Agent`, `X-Request-Id`, `X-Correlation-Id`,
/// `X-Owner-ID` and `X-Message` (for usage events) and (with trusted proxies) the forwarding
/// header is read.
///
/// The entry is emitted when the response body has ended or was dropped (a test that calls
/// the service waits for it with [`MemoryProducer::wait_for`](crate::MemoryProducer::wait_for)),
/// when the handler panicked, or when the request was cancelled.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use http_body_util::{BodyExt, Full};
/// use kafka_events::middleware::AuditLayer;
/// use kafka_events::{AuditEntry, MemoryProducer};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let service = ServiceBuilder::new()
///     .layer(AuditLayer::new(producer.clone()).service_name("orders-api"))
///     .service_fn(|_request: http::Request<_>| async {
///         Ok::<_, Infallible>(http::Response::new(Full::new(bytes::Bytes::from("ok"))))
///     });
///
/// let request = http::Request::post("/orders?token=abc")
///     .header("content-type", "application/json")
///     .body(Full::new(bytes::Bytes::from(r#"{"sku":"A-1","password":"hunter2"}"#)))?;
/// let response = service.oneshot(request).await?;
/// response.into_body().collect().await?; // the entry is written when the body has gone out
///
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let entry = &producer.events::<AuditEntry>()?[0];
/// assert_eq!((entry.http_method.as_str(), entry.status_code), ("POST", 200));
/// assert_eq!(entry.full_url, "/orders?token=***");
/// assert_eq!(entry.payload.as_ref().unwrap(), &serde_json::json!({"sku": "A-1", "password": "***"}));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuditLayer {
    config: Arc<Config>,
}

impl AuditLayer {
    /// A layer that emits to `producer`.
    pub fn new<P: Producer + 'static>(producer: P) -> Self {
        AuditLayer {
            config: Arc::new(Config {
                common: Common::new(Arc::new(producer)),
                max_payload_bytes: 64 * 1024,
                on_entry: None,
                usage: false,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    fn with_common(self, change: impl FnOnce(&mut Common)) -> Self {
        self.with(|c| change(&mut c.common))
    }

    common_builders!();

    /// Also emits one [`UsageEvent`](crate::UsageEvent) per request, with the same
    /// configuration (service, skip rules, identity, proxies) and at the same moment as the
    /// audit entry: what a service that is audited and billed needs, in one layer.
    pub fn with_usage(self) -> Self {
        self.with(|c| c.usage = true)
    }

    /// The largest body recorded (default 64 KiB); a larger one is recorded as truncated.
    pub fn max_payload_bytes(self, bytes: usize) -> Self {
        self.with(|c| c.max_payload_bytes = bytes)
    }

    /// Also masks JSON fields and query parameters with this name (matched by its words,
    /// whatever the case and separators, as [`DEFAULT_SENSITIVE_FIELDS`](super::DEFAULT_SENSITIVE_FIELDS)
    /// are). A name without a letter or digit is an error.
    pub fn mask_field(self, name: &str) -> Result<Self, InvalidName> {
        let mut matcher = self.config.common.masker.matcher().clone();
        matcher.add(name)?;
        Ok(self.with_common(|c| c.masker = Masker::new(matcher)))
    }

    /// Replaces the list of masked names.
    pub fn sensitive_fields<I: IntoIterator<Item = S>, S: AsRef<str>>(
        self,
        names: I,
    ) -> Result<Self, InvalidName> {
        let matcher = Matcher::with_names(names)?;
        Ok(self.with_common(|c| c.masker = Masker::new(matcher)))
    }

    /// Enriches or vetoes each entry before it is emitted.
    pub fn on_entry(self, hook: impl EntryHook) -> Self {
        let hook = Arc::new(hook);
        self.with(|c| c.on_entry = Some(hook))
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Audit<S> {
        Audit::new(inner, self.config.clone())
    }
}
