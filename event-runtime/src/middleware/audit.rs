//! [`AuditLayer`]: one [`AuditEntry`] per request (and one usage event, on request).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body::Body;
use kafka_events_sensitive::{InvalidName, Matcher};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{AuditBody, CaptureBody, Captured, poll_read_ahead};
use super::request_id::REQUEST_ID;
use super::{Common, End, Ended, IdentityHook, RequestInfo, Started, TrustedProxies, send};
use crate::models::AuditEntry;
use crate::producer::Producer;

/// Enriches or vetoes each [`AuditEntry`] before it is emitted: return `false` to drop it.
///
/// Give one to [`AuditLayer::on_entry`]; a closure `Fn(&mut AuditEntry) -> bool` is one too.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::{AuditLayer, EntryHook};
/// use kafka_events::{AuditEntry, MemoryProducer};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// /// Audits changes only, and names the region that served them.
/// struct WritesIn(&'static str);
///
/// impl EntryHook for WritesIn {
///     fn on_entry(&self, entry: &mut AuditEntry) -> bool {
///         entry.service = format!("{}@{}", entry.service, self.0);
///         entry.http_method != "GET"
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let service = ServiceBuilder::new()
///     .layer(AuditLayer::new(producer.clone()).service_name("orders").on_entry(WritesIn("eu-1")))
///     .service_fn(|_request: http::Request<_>| async {
///         Ok::<_, Infallible>(http::Response::new(String::new()))
///     });
/// for request in [http::Request::get("/orders/7"), http::Request::delete("/orders/7")] {
///     service.clone().oneshot(request.body(String::new())?).await?;
/// }
///
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let entries = producer.events::<AuditEntry>()?;
/// assert_eq!(entries.len(), 1); // the GET was dropped
/// assert_eq!((entries[0].http_method.as_str(), entries[0].service.as_str()), ("DELETE", "orders@eu-1"));
/// # Ok(())
/// # }
/// ```
pub trait EntryHook: Send + Sync + 'static {
    /// Called once per entry.
    fn on_entry(&self, entry: &mut AuditEntry) -> bool;
}

impl<F> EntryHook for F
where
    F: Fn(&mut AuditEntry) -> bool + Send + Sync + 'static,
{
    fn on_entry(&self, entry: &mut AuditEntry) -> bool {
        self(entry)
    }
}

#[derive(Clone)]
struct Config {
    common: Common,
    max_payload_bytes: usize,
    on_entry: Option<Arc<dyn EntryHook>>,
    usage: bool,
}

/// Emits one [`AuditEntry`] per request without waiting for the broker and without changing
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
        let mut matcher = self.config.common.masker.matcher.clone();
        matcher.add(name)?;
        Ok(self.with_common(|c| c.masker.matcher = matcher))
    }

    /// Replaces the list of masked names.
    pub fn sensitive_fields<I: IntoIterator<Item = S>, S: AsRef<str>>(
        self,
        names: I,
    ) -> Result<Self, InvalidName> {
        let matcher = Matcher::with_names(names)?;
        Ok(self.with_common(|c| c.masker.matcher = matcher))
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
        Audit {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`AuditLayer`] wraps around yours.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::{Audit, AuditLayer};
/// use kafka_events::{AuditEntry, MemoryProducer};
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let handler = tower::service_fn(|_request: http::Request<_>| async {
///     Ok::<_, Infallible>(http::Response::new(String::from("ok")))
/// });
/// let service: Audit<_> = AuditLayer::new(producer.clone()).layer(handler);
///
/// let response = service.oneshot(http::Request::get("/orders/7").body(String::new())?).await?;
/// assert_eq!(response.status(), 200);
/// drop(response); // the entry is written once the body has gone out, or is dropped
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// assert_eq!(producer.events::<AuditEntry>()?[0].full_url, "/orders/7");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Audit<S> {
    inner: S,
    config: Arc<Config>,
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, B, ResB> Service<Request<B>> for Audit<S>
where
    S: Service<Request<AuditBody<B>>, Response = Response<ResB>> + Clone,
    B: Body,
{
    type Response = Response<CaptureBody<ResB>>;
    type Error = S::Error;
    type Future = AuditResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = &self.config;
        let skip = config.common.skips(&RequestInfo::new(&request));
        let (mut parts, body) = request.into_parts();
        let body = AuditBody::new(Box::pin(body));
        if skip {
            return AuditResponseFuture {
                state: State::Calling {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
                pending: None,
            };
        }
        let (started, generated_id) = Started::new(&config.common, &mut parts, true);
        let captures_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
            && is_json(&parts.headers);
        let pending = Some(Pending {
            started,
            generated_id,
            request_body: None,
            response_body: None,
            status: None,
            config: config.clone(),
        });
        if !captures_body {
            // A service that panics in `call` itself (a `map_request` closure, say) leaves no
            // future to poll: its entry is written here before the panic goes on.
            let called = catch_unwind(AssertUnwindSafe(|| {
                self.inner.call(Request::from_parts(parts, body))
            }));
            let future = match called {
                Ok(future) => future,
                Err(panic) => {
                    if let Some(pending) = pending {
                        pending.finish(End::now(Ended::Panicked));
                    }
                    resume_unwind(panic)
                }
            };
            return AuditResponseFuture {
                state: State::Calling { future },
                pending,
            };
        }
        // The body is read ahead before the service is called, so the service must be taken
        // now (it is the one `poll_ready` prepared) and a clone left in its place.
        let ready = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, ready);
        AuditResponseFuture {
            state: State::ReadingAhead {
                service: Some(service),
                parts: Some(parts),
                body: Some(body),
                captured: Some(Captured::new(config.max_payload_bytes)),
            },
            pending,
        }
    }
}

/// A request whose entry is not written yet.
struct Pending {
    started: Started,
    generated_id: bool,
    request_body: Option<Captured>,
    response_body: Option<Arc<Mutex<Captured>>>,
    status: Option<u16>,
    config: Arc<Config>,
}

impl Pending {
    /// Writes the entry (and usage event): bodies masked, the hook run, handed over. Called
    /// exactly once per request.
    fn finish(self, end: End) {
        let config = &self.config;
        let mut entry = self.started.audit_entry(&config.common, end);
        let masker = &config.common.masker;
        let mut truncated = false;
        let mut read = |captured: Option<&Captured>| {
            let captured = captured?;
            if captured.truncated {
                truncated = true;
                return None;
            }
            if captured.bytes.is_empty() {
                return None;
            }
            let masked = masker.mask(&captured.bytes);
            truncated |= masked.is_none();
            masked
        };
        entry.payload = read(self.request_body.as_ref());
        entry.response_payload = match &self.response_body {
            Some(captured) => read(Some(&captured.lock().unwrap_or_else(|e| e.into_inner()))),
            None => None,
        };
        entry.payload_truncated = truncated;
        let usage = config
            .usage
            .then(|| self.started.usage_event(&config.common, end));
        // The entry first: a test awaiting one record sees the request's entry.
        let keep = config
            .on_entry
            .as_ref()
            .is_none_or(|hook| hook.on_entry(&mut entry));
        if keep {
            send(&*config.common.producer, &entry);
        }
        if let Some(usage) = usage {
            send(&*config.common.producer, &usage);
        }
    }
}

pin_project! {
    /// The future [`Audit`] returns.
    ///
    /// It resolves to the response with a [`CaptureBody`]. Dropped before then, the request
    /// was cancelled: its entry is written at once, with status 499.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use kafka_events::middleware::{AuditLayer, AuditResponseFuture};
    /// use kafka_events::{AuditEntry, MemoryProducer, RequestOutcome};
    /// use tower::{Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = MemoryProducer::new();
    /// let mut service = AuditLayer::new(producer.clone()).layer(tower::service_fn(
    ///     |_request: http::Request<_>| async {
    ///         Ok::<_, Infallible>(http::Response::new(String::new()))
    ///     },
    /// ));
    /// let request = http::Request::get("/reports").body(String::new())?;
    /// let future: AuditResponseFuture<_, String> = service.ready().await?.call(request);
    /// drop(future); // the client went away
    ///
    /// producer.wait_for(1, Duration::from_secs(5)).await?;
    /// let entry = &producer.events::<AuditEntry>()?[0];
    /// assert_eq!((entry.outcome, entry.status_code), (RequestOutcome::Cancelled, 499));
    /// # Ok(())
    /// # }
    /// ```
    pub struct AuditResponseFuture<S, B>
    where
        S: Service<Request<AuditBody<B>>>,
        B: Body,
    {
        #[pin]
        state: State<S, B>,
        // Written when the response body ends, the handler panics, or (when this future is
        // dropped first) the request is cancelled.
        pending: Option<Pending>,
    }

    impl<S, B> PinnedDrop for AuditResponseFuture<S, B>
    where
        S: Service<Request<AuditBody<B>>>,
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            if let Some(pending) = this.project().pending.take() {
                pending.finish(End::now(Ended::Cancelled));
            }
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<AuditBody<B>>>,
        B: Body,
    {
        ReadingAhead {
            service: Option<S>,
            parts: Option<http::request::Parts>,
            body: Option<AuditBody<B>>,
            captured: Option<Captured>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
    }
}

impl<S, B, ResB> Future for AuditResponseFuture<S, B>
where
    S: Service<Request<AuditBody<B>>, Response = Response<ResB>>,
    B: Body,
{
    type Output = Result<Response<CaptureBody<ResB>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A panic in the handler (or the request body) still leaves its entry, then goes on.
        match catch_unwind(AssertUnwindSafe(|| self.as_mut().poll_service(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(self.as_mut().respond(result)),
            Err(panic) => {
                if let Some(pending) = self.project().pending.take() {
                    pending.finish(End::now(Ended::Panicked));
                }
                resume_unwind(panic)
            }
        }
    }
}

impl<S, B, ResB> AuditResponseFuture<S, B>
where
    S: Service<Request<AuditBody<B>>, Response = Response<ResB>>,
    B: Body,
{
    fn poll_service(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response<ResB>, S::Error>> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::ReadingAhead {
                    service,
                    parts,
                    body,
                    captured,
                } => {
                    let (Some(reading), Some(copy)) = (body.as_mut(), captured.as_mut()) else {
                        unreachable!("polled after the body was handed on")
                    };
                    ready!(poll_read_ahead(reading, copy, cx));
                    if let Some(pending) = this.pending.as_mut() {
                        pending.request_body = captured.take();
                    }
                    let request = Request::from_parts(
                        parts.take().expect("parts"),
                        body.take().expect("body"),
                    );
                    let future = service.take().expect("service").call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => return future.poll(cx),
            }
        }
    }

    /// The response as the client gets it: unchanged, but for the request id the layer
    /// generated; its body ends the entry.
    fn respond(
        self: Pin<&mut Self>,
        result: Result<Response<ResB>, S::Error>,
    ) -> Result<Response<CaptureBody<ResB>>, S::Error> {
        let Some(mut pending) = self.project().pending.take() else {
            return result.map(|r| r.map(CaptureBody::passthrough));
        };
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                if pending.generated_id
                    && !parts.headers.contains_key(&REQUEST_ID)
                    && let Ok(value) = HeaderValue::from_str(&pending.started.request_id)
                {
                    parts.headers.insert(REQUEST_ID.clone(), value);
                }
                let status = parts.status.as_u16();
                pending.status = Some(status);
                if status >= 400 && is_json(&parts.headers) {
                    pending.response_body =
                        Some(Captured::shared(pending.config.max_payload_bytes));
                }
                // Written once the response body has gone out (or was dropped).
                let captured = pending.response_body.clone();
                let body = CaptureBody::new(
                    body,
                    captured,
                    Some(Box::new(move || {
                        pending.finish(End::now(Ended::Answered(status)))
                    })),
                );
                Ok(Response::from_parts(parts, body))
            }
            Err(error) => {
                pending.finish(End::now(Ended::Answered(500)));
                Err(error)
            }
        }
    }
}
