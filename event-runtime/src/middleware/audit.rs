//! [`AuditLayer`]: one [`AuditEntry`] per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use chrono::Utc;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use uuid::Uuid;

use super::body::{AuditBody, CaptureBody, Captured, poll_read_ahead};
use super::mask::{self, DEFAULT_SENSITIVE_FIELDS};
use super::{Common, IdentityHook, RequestInfo, resource, send};
use crate::models::AuditEntry;
use crate::producer::Producer;

const REQUEST_ID: &str = "x-request-id";

/// Enriches or vetoes each [`AuditEntry`] before it is emitted: return `false` to drop it.
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
    /// Normalized (see `mask::normalize`).
    sensitive: Vec<String>,
    on_entry: Option<Arc<dyn EntryHook>>,
}

/// Emits one [`AuditEntry`] per request, after the response is produced, without waiting for
/// the broker and without changing the response (it adds `x-request-id` when the request had
/// none).
///
/// It records the method, route template (`endpoint`, with its first segment as `resource`),
/// URL, client address, `User-Agent`, status, duration, request id, the identity from the
/// [`IdentityHook`], and the JSON body of POST/PUT/PATCH requests (and of 4xx/5xx responses) with
/// sensitive fields masked. It never records `Authorization`, `Cookie`, `Set-Cookie` or API-key
/// headers: no header other than `User-Agent`, `X-Request-Id` and (when trusted)
/// `X-Forwarded-For` is read.
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
                sensitive: DEFAULT_SENSITIVE_FIELDS
                    .iter()
                    .map(|s| mask::normalize(s))
                    .collect(),
                on_entry: None,
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

    /// Takes the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    pub fn trust_forwarded_for(self, trust: bool) -> Self {
        self.with(|c| c.common.trust_forwarded_for = trust)
    }

    /// The largest body recorded (default 64 KiB); a larger one is recorded as truncated.
    pub fn max_payload_bytes(self, bytes: usize) -> Self {
        self.with(|c| c.max_payload_bytes = bytes)
    }

    /// Also masks JSON fields whose name contains `name` (see [`DEFAULT_SENSITIVE_FIELDS`]).
    pub fn mask_field(self, name: &str) -> Self {
        let name = mask::normalize(name);
        self.with(|c| c.sensitive.push(name))
    }

    /// Replaces the list of masked field names.
    pub fn sensitive_fields<I: IntoIterator<Item = S>, S: AsRef<str>>(self, names: I) -> Self {
        let names = names
            .into_iter()
            .map(|n| mask::normalize(n.as_ref()))
            .collect();
        self.with(|c| c.sensitive = names)
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
        let started = Instant::now();
        let existing_id = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let generated = existing_id.is_none();
        let request_id = existing_id.unwrap_or_else(|| Uuid::new_v4().to_string());
        if generated && let Ok(value) = HeaderValue::from_str(&request_id) {
            // The handler sees the id it will be answered with.
            parts.headers.insert(REQUEST_ID, value);
        }
        let info = RequestInfo::from_parts(&parts);
        let identity = config.common.identity.identity(&info);
        let endpoint = info.endpoint().to_owned();
        let entry = AuditEntry {
            id: Uuid::new_v4(),
            tenant_id: identity.tenant_id,
            subject: identity.subject,
            jti: identity.jti,
            resource_id: None,
            correlation_id: String::new(),
            http_method: parts.method.to_string(),
            resource: resource(&endpoint),
            endpoint,
            timestamp: Utc::now(),
            source_ip: info.client_addr(config.common.trust_forwarded_for),
            user_agent: info.header("user-agent").unwrap_or_default().to_owned(),
            service: config.common.service.clone(),
            full_url: parts.uri.to_string(),
            payload: None,
            request_id,
            status_code: 0,
            duration_ms: 0.0,
            response_payload: None,
            payload_truncated: false,
        };
        let pending = Some(Pending {
            entry,
            started,
            request_body: None,
            response_body: None,
            config: config.clone(),
        });
        let captures_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
            && is_json(&parts.headers);
        if !captures_body {
            return AuditResponseFuture {
                state: State::Calling {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
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

/// An entry waiting for its response.
struct Pending {
    entry: AuditEntry,
    started: Instant,
    request_body: Option<Captured>,
    response_body: Option<Arc<Mutex<Captured>>>,
    config: Arc<Config>,
}

impl Pending {
    /// Reads what was captured, masks it, runs the hook and emits.
    fn finish(mut self) {
        let read = |captured: Option<&Captured>, truncated: &mut bool| {
            let captured = captured?;
            if captured.truncated {
                *truncated = true;
                return None;
            }
            if captured.bytes.is_empty() {
                return None;
            }
            match serde_json::from_slice::<serde_json::Value>(&captured.bytes) {
                Ok(mut value) => {
                    mask::mask(&mut value, &self.config.sensitive);
                    Some(value)
                }
                Err(_) => {
                    *truncated = true;
                    None
                }
            }
        };
        let mut truncated = false;
        self.entry.payload = read(self.request_body.as_ref(), &mut truncated);
        self.entry.response_payload = match &self.response_body {
            Some(captured) => read(
                Some(&captured.lock().unwrap_or_else(|e| e.into_inner())),
                &mut truncated,
            ),
            None => None,
        };
        self.entry.payload_truncated = truncated;
        if let Some(hook) = &self.config.on_entry
            && !hook.on_entry(&mut self.entry)
        {
            return;
        }
        send(&*self.config.common.producer, &self.entry);
    }
}

pin_project! {
    /// The future [`Audit`] returns.
    pub struct AuditResponseFuture<S, B>
    where
        S: Service<Request<AuditBody<B>>>,
        B: Body,
    {
        #[pin]
        state: State<S, B>,
        pending: Option<Pending>,
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = loop {
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
                StateProj::Calling { future } => break ready!(future.poll(cx)),
            }
        };
        let Some(mut pending) = this.pending.take() else {
            return Poll::Ready(result.map(|r| r.map(CaptureBody::passthrough)));
        };
        pending.entry.duration_ms = pending.started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                if !parts.headers.contains_key(REQUEST_ID)
                    && let Ok(value) = HeaderValue::from_str(&pending.entry.request_id)
                {
                    parts.headers.insert(REQUEST_ID, value);
                }
                pending.entry.status_code = parts.status.as_u16();
                if parts.status.as_u16() >= 400 && is_json(&parts.headers) {
                    pending.response_body =
                        Some(Captured::shared(pending.config.max_payload_bytes));
                }
                // Emitted once the response body has gone out (or was dropped).
                let captured = pending.response_body.clone();
                let body =
                    CaptureBody::new(body, captured, Some(Box::new(move || pending.finish())));
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Err(error) => {
                pending.entry.status_code = 500;
                pending.finish();
                Poll::Ready(Err(error))
            }
        }
    }
}
