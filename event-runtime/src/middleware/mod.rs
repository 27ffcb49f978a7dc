//! Tower middleware: [`AuditLayer`] emits one [`AuditEntry`] per request (and,
//! with [`AuditLayer::with_usage`], one [`UsageEvent`] too, under the same
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

/// The builder methods both layers share; each layer provides `with_common`.
macro_rules! common_builders {
    () => {
        /// The `service` field of every event.
        pub fn service_name(self, name: impl Into<String>) -> Self {
            let name = name.into();
            self.with_common(|c| c.service = name)
        }

        /// How to read the caller's identity from the request as it reaches this layer (by
        /// default the [`Identity`](super::Identity) in its extensions). One attached inside the
        /// layer ([`Identity::attach`](super::Identity::attach)) takes precedence.
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

        /// Which proxies may say who the client is (see [`TrustedProxies`]; none by default:
        /// the client is the peer address).
        pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
            self.with_common(|c| c.proxies = proxies)
        }

        /// The product the service bills (`product_id` of usage events).
        pub fn product_id(self, id: uuid::Uuid) -> Self {
            self.with_common(|c| c.product_id = Some(id))
        }

        /// The memory the service is billed for, in MiB (`memory_mb` of usage events).
        pub fn memory_mb(self, memory_mb: i16) -> Self {
            self.with_common(|c| c.memory_mb = memory_mb)
        }
    };
}

mod audit;
mod body;
mod client;
mod context;
mod mask;
mod redact;
mod request_id;
mod usage;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use http::{Extensions, HeaderMap, HeaderValue, Method, Uri};
use uuid::Uuid;

pub use audit::{Audit, AuditLayer, AuditResponseFuture, EntryHook};
pub use body::{AuditBody, CaptureBody};
pub use client::{ForwardingHeader, InvalidRange, TrustedProxies};
pub use context::AuditContext;
pub use kafka_events_sensitive::{InvalidName, SENSITIVE_NAMES as DEFAULT_SENSITIVE_FIELDS};
pub use request_id::MAX_ID_LEN;
pub use usage::{Usage, UsageLayer, UsageResponseFuture};

use self::mask::Masker;
use crate::models::{AuditEntry, RequestOutcome, UsageEvent, usage_metadata};
use crate::producer::Producer;
use crate::{AuthEvent, KafkaEvent};

/// What hooks see of a request.
///
/// Its `Debug` shows the method, the path with sensitive query values masked, and the names of
/// the headers, never their values (`Authorization`, `Cookie`, API keys).
///
/// ```
/// use kafka_events::middleware::RequestInfo;
///
/// let request = http::Request::get("/orders/7?api_key=k-123")
///     .header("user-agent", "kube-probe/1.30")
///     .header("authorization", "Bearer t-456")
///     .body(())
///     .unwrap();
/// let info = RequestInfo::new(&request);
/// assert_eq!((info.method.as_str(), info.endpoint()), ("GET", "/orders/7"));
/// // What a `skip_if` hook might test.
/// assert!(info.header("user-agent").is_some_and(|ua| ua.starts_with("kube-probe/")));
/// // Safe to log.
/// let logged = format!("{info:?}");
/// assert!(logged.contains("api_key=***") && logged.contains("authorization"));
/// assert!(!logged.contains("k-123") && !logged.contains("t-456"));
/// ```
#[derive(Clone, Copy)]
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

impl std::fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let matcher = kafka_events_sensitive::Matcher::default();
        f.debug_struct("RequestInfo")
            .field("method", self.method)
            .field("uri", &redact::redact_url(self.uri, &matcher))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
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

    /// The address of the connection's other end: axum's `ConnectInfo<SocketAddr>` (with the
    /// `axum` feature) or a `SocketAddr` extension.
    pub fn peer_addr(&self) -> Option<IpAddr> {
        #[cfg(feature = "axum")]
        if let Some(info) = self
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return Some(info.0.ip());
        }
        self.extensions.get::<SocketAddr>().map(SocketAddr::ip)
    }

    /// The client's address: what the audit or usage layer around the request made out (with
    /// its [`TrustedProxies`]), or else what `proxies` make of the peer address and headers.
    pub fn client_addr(&self, proxies: &TrustedProxies) -> String {
        match AuditContext::of(self.extensions) {
            Some(context) if !context.request_id().is_empty() => context.client_addr(),
            _ => proxies.client(self.peer_addr(), self.headers),
        }
    }
}

/// Who made a request, as the app's authentication established it.
///
/// Attach it from your auth layer or handler with [`Identity::attach`], which also reaches an
/// audit layer outside them; or give the layers your own [`IdentityHook`]. A request without one
/// is audited as anonymous (`anonymous: true`, these fields empty).
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityFromExtensions, IdentityHook, RequestInfo};
///
/// assert!(Identity::default().is_anonymous());
/// let identity = Identity {
///     subject: "ann".into(),
///     tenant_id: Some(uuid::Uuid::new_v4()),
///     ..Identity::default()
/// };
/// assert!(!identity.is_anonymous());
///
/// // What an auth layer does; the audit layer reads it back.
/// let mut request = http::Request::get("/orders").body(()).unwrap();
/// identity.clone().attach(request.extensions_mut());
/// assert_eq!(IdentityFromExtensions.identity(&RequestInfo::new(&request)), identity);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The subject (JWT `sub`).
    pub subject: String,
    /// The tenant.
    pub tenant_id: Option<Uuid>,
    /// The token id (JWT `jti`, a UUID in the Go services).
    pub jti: Option<Uuid>,
}

impl Identity {
    /// Whether nothing is known about the caller.
    pub fn is_anonymous(&self) -> bool {
        self.subject.is_empty() && self.tenant_id.is_none() && self.jti.is_none()
    }
}

/// Reads the caller's identity from a request.
///
/// Give one to [`AuditLayer::identity`] or [`UsageLayer::identity`], as in
/// `AuditLayer::new(producer).identity(FromGateway)`; a closure
/// `Fn(&RequestInfo<'_>) -> Identity` is one too.
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityHook, RequestInfo};
///
/// /// The API gateway in front has authenticated the caller and says who it is.
/// struct FromGateway;
///
/// impl IdentityHook for FromGateway {
///     fn identity(&self, request: &RequestInfo<'_>) -> Identity {
///         let subject = request.header("x-authenticated-user").unwrap_or_default();
///         Identity { subject: subject.to_owned(), ..Identity::default() }
///     }
/// }
///
/// let request = http::Request::get("/orders").header("x-authenticated-user", "ann");
/// let request = request.body(()).unwrap();
/// assert_eq!(FromGateway.identity(&RequestInfo::new(&request)).subject, "ann");
/// let anonymous = http::Request::get("/orders").body(()).unwrap();
/// assert!(FromGateway.identity(&RequestInfo::new(&anonymous)).is_anonymous());
/// ```
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
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityFromExtensions, IdentityHook, RequestInfo};
///
/// let mut request = http::Request::get("/orders").body(()).unwrap();
/// assert!(IdentityFromExtensions.identity(&RequestInfo::new(&request)).is_anonymous());
///
/// Identity { subject: "ann".into(), ..Identity::default() }.attach(request.extensions_mut());
/// assert_eq!(IdentityFromExtensions.identity(&RequestInfo::new(&request)).subject, "ann");
/// ```
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

/// The configuration both layers share: where events go, the service, identity, which requests
/// to leave out, proxies, sensitive names, and the usage event's billing fields.
#[derive(Clone)]
pub(crate) struct Common {
    pub producer: Arc<dyn Producer>,
    pub service: String,
    pub identity: Arc<dyn IdentityHook>,
    pub skip_paths: Vec<String>,
    pub skip_if: Option<Arc<SkipIf>>,
    pub proxies: TrustedProxies,
    pub masker: Masker,
    pub product_id: Option<Uuid>,
    pub memory_mb: i16,
}

impl Common {
    fn new(producer: Arc<dyn Producer>) -> Self {
        Common {
            producer,
            service: String::new(),
            identity: Arc::new(IdentityFromExtensions),
            skip_paths: Vec::new(),
            skip_if: None,
            proxies: TrustedProxies::none(),
            masker: Masker::default(),
            product_id: None,
            memory_mb: 0,
        }
    }

    fn skips(&self, request: &RequestInfo<'_>) -> bool {
        self.skip_paths.iter().any(|p| p == request.uri.path())
            || self.skip_if.as_ref().is_some_and(|skip| skip(request))
    }
}

/// What the layers keep of a request when it arrives, to write its events when it ends.
pub(crate) struct Started {
    pub context: AuditContext,
    pub identity: Option<Identity>,
    pub method: Method,
    pub uri: Uri,
    pub endpoint: String,
    pub user_agent: Option<HeaderValue>,
    pub request_id: String,
    pub correlation_id: String,
    pub client_addr: String,
    pub owner_id: Option<String>,
    pub message: Option<String>,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The service answered with this status (or failed without a response: 500).
    Answered(u16),
    Panicked,
    Cancelled,
}

/// How a request ended, and when: taken as it happens, so an entry written later says the
/// same.
#[derive(Clone, Copy, Debug)]
pub(crate) struct End {
    how: Ended,
    at: Instant,
    at_utc: DateTime<Utc>,
}

impl End {
    pub fn now(how: Ended) -> End {
        End {
            how,
            at: Instant::now(),
            at_utc: Utc::now(),
        }
    }
}

impl Ended {
    fn status_and_outcome(self) -> (u16, RequestOutcome) {
        match self {
            Ended::Answered(status) => (status, RequestOutcome::Completed),
            Ended::Panicked => (500, RequestOutcome::Panicked),
            Ended::Cancelled => (499, RequestOutcome::Cancelled),
        }
    }
}

impl Started {
    /// Reads what the events need from a request as it arrives, and gives it (through its
    /// extensions) the context handlers and inner layers add to. Returns whether the request id
    /// was generated (then the handler sees it in `x-request-id`, and so will the client).
    pub fn new(
        common: &Common,
        parts: &mut http::request::Parts,
        stamp_request_id: bool,
    ) -> (Started, bool) {
        let context = match AuditContext::of(&parts.extensions) {
            Some(context) => context,
            None => {
                let context = AuditContext::default();
                parts.extensions.insert(context.clone());
                context
            }
        };
        // Both layers around one request record one id: the outer one's.
        let (request_id, generated) = context
            .request_id_taken()
            .unwrap_or_else(|| request_id::request_id(&parts.headers));
        if generated
            && stamp_request_id
            && let Ok(value) = HeaderValue::from_str(&request_id)
        {
            parts.headers.insert(request_id::REQUEST_ID.clone(), value);
        }
        let info = RequestInfo::from_parts(parts);
        let client_addr = common.proxies.client(info.peer_addr(), &parts.headers);
        context.start(&request_id, generated, client_addr.clone());
        let identity = Some(common.identity.identity(&info)).filter(|i| !i.is_anonymous());
        let started = Started {
            identity,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            endpoint: info.endpoint().to_owned(),
            user_agent: parts.headers.get(http::header::USER_AGENT).cloned(),
            request_id,
            correlation_id: request_id::correlation_id(&parts.headers),
            client_addr,
            owner_id: info
                .header("x-owner-id")
                .filter(|id| request_id::is_valid_id(id.as_bytes()))
                .map(str::to_owned),
            message: info
                .header("x-message")
                .map(|m| bounded(m, MAX_MESSAGE_LEN)),
            started: Instant::now(),
            started_at: Utc::now(),
            context,
        };
        (started, generated)
    }

    fn details(&self) -> (Option<Identity>, Option<Uuid>, String) {
        let (identity, resource_id, correlation_id) = self.context.take_details();
        (
            identity
                .filter(|i| !i.is_anonymous())
                .or_else(|| self.identity.clone()),
            resource_id,
            correlation_id.unwrap_or_else(|| self.correlation_id.clone()),
        )
    }

    /// The audit entry of the request, without its bodies.
    pub fn audit_entry(&self, common: &Common, end: End) -> AuditEntry {
        let (identity, resource_id, correlation_id) = self.details();
        let (status_code, outcome) = end.how.status_and_outcome();
        let anonymous = identity.is_none();
        let identity = identity.unwrap_or_default();
        AuditEntry {
            tenant_id: identity.tenant_id,
            subject: identity.subject,
            jti: identity.jti,
            http_method: self.method.to_string(),
            resource: resource(&self.endpoint),
            resource_id,
            payload: None,
            source_ip: self.client_addr.clone(),
            user_agent: self
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            timestamp: self.started_at,
            service: common.service.clone(),
            endpoint: self.endpoint.clone(),
            full_url: redact::redact_url(&self.uri, &common.masker.matcher),
            id: Uuid::new_v4(),
            correlation_id,
            request_id: self.request_id.clone(),
            status_code,
            duration_ms: end.at.saturating_duration_since(self.started).as_secs_f64() * 1000.0,
            response_payload: None,
            payload_truncated: false,
            outcome,
            anonymous,
        }
    }

    /// The usage event of the request, as the Go middleware's `UsageEntry` plus this crate's
    /// fields.
    pub fn usage_event(&self, common: &Common, end: End) -> UsageEvent {
        let (identity, _, _) = self.details();
        let identity = identity.unwrap_or_default();
        let (ended, end) = (end.how, end.at_utc);
        let mut event = UsageEvent::new(&common.service, self.started_at, end);
        event.metadata = Some(usage_metadata(&identity.subject, &common.service));
        event.subject = identity.subject;
        event.tenant_id = identity.tenant_id;
        event.product_id = common.product_id;
        event.memory_mb = common.memory_mb;
        event.endpoint = self.endpoint.clone();
        event.owner_id = self.owner_id.clone();
        event.message = self.message.clone();
        event.outcome = ended.status_and_outcome().1;
        event.timestamp = end;
        event
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
    /// Fills `path`, `user_agent` and `remote_addr` from the request, and the tenant from the
    /// identity attached to it. Inside an audit or usage layer the client address is the one the
    /// layer made out with its [`TrustedProxies`]; elsewhere it is the peer address.
    ///
    /// ```
    /// use kafka_events::AuthEvent;
    /// use kafka_events::middleware::RequestInfo;
    ///
    /// let request = http::Request::post("/login").header("user-agent", "curl/8").body(()).unwrap();
    /// let event = AuthEvent::login_failure("accounts", "mallory", "bad password")
    ///     .with_request(&RequestInfo::new(&request));
    /// assert_eq!((event.path.as_str(), event.user_agent.as_str()), ("/login", "curl/8"));
    /// ```
    pub fn with_request(mut self, request: &RequestInfo<'_>) -> Self {
        self.path = request.uri.path().to_owned();
        self.user_agent = request.header("user-agent").unwrap_or_default().to_owned();
        self.remote_addr = request.client_addr(&TrustedProxies::none());
        if self.tenant_id.is_none() {
            let attached = AuditContext::of(request.extensions).and_then(|c| c.identity());
            self.tenant_id = attached
                .or_else(|| request.extensions.get::<Identity>().cloned())
                .and_then(|i| i.tenant_id);
        }
        self
    }
}

/// The longest `X-Message` header text a usage event takes; longer ones are cut.
const MAX_MESSAGE_LEN: usize = 1024;

/// `text` cut to at most `max` bytes (header text is ASCII, so any byte is a boundary).
fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
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

    #[test]
    fn request_info_debug_shows_no_header_value_nor_secret_parameter() {
        let request = http::Request::get("/orders?page=2&api_key=k-123")
            .header("authorization", "Bearer t-456")
            .header("cookie", "session=s-789")
            .body(())
            .unwrap();
        let debug = format!("{:?}", super::RequestInfo::new(&request));
        for secret in ["k-123", "t-456", "s-789"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(
            debug.contains("page=2") && debug.contains("authorization"),
            "{debug}"
        );
    }

    #[test]
    fn bounded_text() {
        assert_eq!(super::bounded("abc", 2), "ab");
        assert_eq!(super::bounded("ab", 8), "ab");
    }
}
