//! Tower middleware: [`AuditLayer`] emits one [`AuditEntry`](crate::AuditEntry) per request,
//! [`UsageLayer`] one [`UsageEvent`](crate::UsageEvent). Both work with any tower HTTP stack
//! (axum, tonic, hyper), hand events over with
//! [`emit_detached`](crate::KafkaEvent::emit_detached) after the response is produced, never
//! wait for the broker, and never change the response (beyond adding `x-request-id` when the
//! request had none).
//!
//! ```
//! use std::sync::Arc;
//! use http::{Request, Response};
//! use kafka_events::middleware::{AuditLayer, Identity, UsageLayer};
//! use kafka_events::{AuditEntry, MemoryProducer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = MemoryProducer::new();
//! let service = ServiceBuilder::new()
//!     .layer(AuditLayer::new(producer.clone()).service_name("accounts").skip_path("/health"))
//!     .layer(UsageLayer::new(producer.clone()).service_name("accounts"))
//!     .service_fn(|request: Request<_>| async move {
//!         Ok::<_, std::convert::Infallible>(Response::new(request.into_body()))
//!     });
//!
//! let mut request = Request::post("/users")
//!     .header("content-type", "application/json")
//!     .body(http_body_util::Full::new(bytes::Bytes::from(r#"{"name":"ann","password":"hunter2"}"#)))?;
//! // What the app's auth layer would put there.
//! request.extensions_mut().insert(Identity { subject: "ann".into(), ..Identity::default() });
//! let response = service.oneshot(request).await?;
//! let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//! assert_eq!(body, r#"{"name":"ann","password":"hunter2"}"#); // the handler saw it unchanged
//!
//! let entry = &producer.events::<AuditEntry>()?[0];
//! assert_eq!((entry.http_method.as_str(), entry.subject.as_str()), ("POST", "ann"));
//! assert_eq!(entry.payload, Some(serde_json::json!({"name": "ann", "password": "***"})));
//! # Ok(())
//! # }
//! ```

/// The builder methods both layers share; each layer provides `with_common`.
macro_rules! common_builders {
    () => {
        /// The `service` field of every event.
        pub fn service_name(self, name: impl Into<String>) -> Self {
            let name = name.into();
            self.with_common(|c| c.service = name)
        }

        /// How to read the caller's identity (default: the [`Identity`](super::Identity) in the
        /// request extensions).
        pub fn identity(self, hook: impl IdentityHook) -> Self {
            let hook = Arc::new(hook);
            self.with_common(|c| c.identity = hook)
        }

        /// Leaves requests to this exact path out (e.g. `/health`).
        pub fn skip_path(self, path: impl Into<String>) -> Self {
            let path = path.into();
            self.with_common(|c| c.skip_paths.push(path))
        }

        /// Leaves out requests for which `skip` returns true.
        pub fn skip_if(
            self,
            skip: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
        ) -> Self {
            let skip = Arc::new(skip);
            self.with_common(|c| c.skip_if = Some(skip))
        }
    };
}

mod audit;
mod body;
mod mask;
mod usage;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Extensions, HeaderMap, Method, Uri};
use uuid::Uuid;

pub use audit::{Audit, AuditLayer, AuditResponseFuture, EntryHook};
pub use body::{AuditBody, CaptureBody};
pub use mask::DEFAULT_SENSITIVE_FIELDS;
pub use usage::{Usage, UsageLayer, UsageResponseFuture};

use crate::producer::Producer;
use crate::{AuthEvent, KafkaEvent};

/// What hooks see of a request.
#[derive(Clone, Copy, Debug)]
pub struct RequestInfo<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI as received.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions (where auth layers put what they learned).
    pub extensions: &'a Extensions,
}

impl<'a> RequestInfo<'a> {
    /// A view of a request.
    pub fn new<B>(request: &'a http::Request<B>) -> Self {
        RequestInfo {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// A view of a request's parts.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The route template (axum's `MatchedPath`, with the `axum` feature) or else the path.
    pub fn endpoint(&self) -> &'a str {
        #[cfg(feature = "axum")]
        if let Some(matched) = self.extensions.get::<axum::extract::MatchedPath>() {
            return matched.as_str();
        }
        self.uri.path()
    }

    /// The client address: the first `X-Forwarded-For` entry when `trust_forwarded_for`, else
    /// the peer address (axum's `ConnectInfo<SocketAddr>` with the `axum` feature, or a
    /// `SocketAddr` extension); empty when unknown.
    pub fn client_addr(&self, trust_forwarded_for: bool) -> String {
        if trust_forwarded_for
            && let Some(first) = self
                .header("x-forwarded-for")
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        {
            return first.to_owned();
        }
        #[cfg(feature = "axum")]
        if let Some(info) = self
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return info.0.ip().to_string();
        }
        self.extensions
            .get::<SocketAddr>()
            .map_or_else(String::new, |addr| addr.ip().to_string())
    }
}

/// Who made a request, as the app's authentication established it.
///
/// Put one in the request extensions from your auth layer and the default identity hook reads
/// it; or give the layers your own [`IdentityHook`]. A request without one is still audited,
/// with these fields empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The subject (JWT `sub`).
    pub subject: String,
    /// The tenant.
    pub tenant_id: Option<Uuid>,
    /// The token id (JWT `jti`, a UUID in the Go services).
    pub jti: Option<Uuid>,
}

/// Reads the caller's identity from a request.
pub trait IdentityHook: Send + Sync + 'static {
    /// The identity, or `Identity::default()` when unknown.
    fn identity(&self, request: &RequestInfo<'_>) -> Identity;
}

impl<F> IdentityHook for F
where
    F: Fn(&RequestInfo<'_>) -> Identity + Send + Sync + 'static,
{
    fn identity(&self, request: &RequestInfo<'_>) -> Identity {
        self(request)
    }
}

/// The default [`IdentityHook`]: the [`Identity`] in the request extensions, if any.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityFromExtensions;

impl IdentityHook for IdentityFromExtensions {
    fn identity(&self, request: &RequestInfo<'_>) -> Identity {
        request
            .extensions
            .get::<Identity>()
            .cloned()
            .unwrap_or_default()
    }
}

/// A predicate on requests to leave out.
pub(crate) type SkipIf = dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync;

/// What both layers share: where events go, the service name, identity and which requests to
/// leave out.
#[derive(Clone)]
pub(crate) struct Common {
    pub producer: Arc<dyn Producer>,
    pub service: String,
    pub identity: Arc<dyn IdentityHook>,
    pub skip_paths: Vec<String>,
    pub skip_if: Option<Arc<SkipIf>>,
    pub trust_forwarded_for: bool,
}

impl Common {
    fn new(producer: Arc<dyn Producer>) -> Self {
        Common {
            producer,
            service: String::new(),
            identity: Arc::new(IdentityFromExtensions),
            skip_paths: Vec::new(),
            skip_if: None,
            trust_forwarded_for: false,
        }
    }

    fn skips(&self, request: &RequestInfo<'_>) -> bool {
        self.skip_paths.iter().any(|p| p == request.uri.path())
            || self.skip_if.as_ref().is_some_and(|skip| skip(request))
    }
}

/// The one place the layers hand an event over: detached, so no request waits for the broker;
/// a refusal is logged, never turned into an error for the request.
pub(crate) fn send<E: KafkaEvent>(producer: &dyn Producer, event: &E) {
    if let Err(error) = event.emit_detached(producer) {
        tracing::error!(%error, topic = E::TOPIC, key = ?event.key(), "kafka-events: event not taken");
    }
}

/// The first segment of a route: `/users/{id}` → `users`.
pub(crate) fn resource(endpoint: &str) -> String {
    endpoint
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_owned()
}

impl AuthEvent {
    /// Fills `path`, `user_agent` and `remote_addr` from the request (see
    /// [`RequestInfo::client_addr`] for `trust_forwarded_for`).
    ///
    /// ```
    /// use kafka_events::AuthEvent;
    /// use kafka_events::middleware::RequestInfo;
    ///
    /// let request = http::Request::post("/login").header("user-agent", "curl/8").body(()).unwrap();
    /// let event = AuthEvent::login_failure("accounts", "mallory", "bad password")
    ///     .with_request(&RequestInfo::new(&request), false);
    /// assert_eq!((event.path.as_str(), event.user_agent.as_str()), ("/login", "curl/8"));
    /// ```
    pub fn with_request(mut self, request: &RequestInfo<'_>, trust_forwarded_for: bool) -> Self {
        self.path = request.uri.path().to_owned();
        self.user_agent = request.header("user-agent").unwrap_or_default().to_owned();
        self.remote_addr = request.client_addr(trust_forwarded_for);
        if self.tenant_id.is_none() {
            self.tenant_id = request
                .extensions
                .get::<Identity>()
                .and_then(|i| i.tenant_id);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::resource;

    #[test]
    fn resources() {
        assert_eq!(resource("/users/{id}"), "users");
        assert_eq!(resource("//v1/x"), "v1");
        assert_eq!(resource("/"), "");
    }
}
