//! A request's life as the layers see it: what they take when it arrives ([`Started`]), how
//! and when it ended ([`RequestEnd`]), and [`Once`], which writes its record exactly once,
//! whichever way it ends: answered, its handler panicking (500, `panicked`; the panic goes on),
//! or dropped before that (499, `cancelled`). Both layers use it; neither handles a panic or a
//! cancellation on its own.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderValue, Method};
use uuid::Uuid;

use super::common::Common;
use super::context::AuditContext;
use super::identity::Identity;
use super::redact;
use super::request::RequestInfo;
use super::request_id;
use crate::models::RequestOutcome;
use crate::otel::RequestTrace;

/// What a layer writes when its request ends.
pub(crate) trait Finish {
    fn finish(self, end: RequestEnd);
}

/// A request's record, until its request ends: written once, by [`Once::end`], by [`guard`] when
/// the handler panics, or when this is dropped first (the request was cancelled).
pub(crate) struct Once<F: Finish> {
    record: Option<F>,
}

impl<F: Finish> Once<F> {
    pub fn new(record: F) -> Self {
        Once {
            record: Some(record),
        }
    }

    /// For a request the layer leaves out.
    pub fn none() -> Self {
        Once { record: None }
    }

    pub fn get_mut(&mut self) -> Option<&mut F> {
        self.record.as_mut()
    }

    /// Takes the record, to be finished elsewhere (when a response body ends).
    pub fn take(&mut self) -> Option<F> {
        self.record.take()
    }

    /// The request ended: its record is written now, unless it was already.
    pub fn end(&mut self, kind: EndKind) {
        if let Some(record) = self.record.take() {
            record.finish(RequestEnd::now(kind));
        }
    }
}

impl<F: Finish> Drop for Once<F> {
    fn drop(&mut self) {
        self.end(EndKind::Cancelled);
    }
}

/// Runs `f` (a service's `call`, a future's `poll`) with the request's record; if it panics, the
/// record is written as panicked and the panic goes on.
pub(crate) fn guard<F: Finish, T>(once: &mut Once<F>, f: impl FnOnce(&mut Once<F>) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| f(&mut *once))) {
        Ok(value) => value,
        Err(panic) => {
            once.end(EndKind::Panicked);
            resume_unwind(panic)
        }
    }
}

/// Which layer a request's [`Started`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Stamps a request id it generated on the request (and the response), and records the
    /// URL and user agent.
    Audit,
    /// Records neither.
    Usage,
}

/// What the layers keep of a request when it arrives, to write its events when it ends.
pub(crate) struct Started {
    pub context: AuditContext,
    pub identity: Option<Identity>,
    pub method: Method,
    /// The URL with credentials dropped and sensitive query values masked (audit layer only).
    pub full_url: String,
    pub endpoint: String,
    /// Empty when absent or not text (and for the usage layer).
    pub user_agent: String,
    pub request_id: String,
    pub correlation_id: String,
    pub client_addr: String,
    pub owner_id: Option<String>,
    pub message: Option<String>,
    pub started: Instant,
    pub started_at: DateTime<Utc>,
    /// The request's trace context (feature `otel`), its records are written in.
    pub trace: RequestTrace,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndKind {
    /// The service answered with this status (or failed without a response: 500).
    Answered(u16),
    Panicked,
    Cancelled,
}

/// How a request ended, and when: taken as it happens, so an entry written later says the
/// same.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestEnd {
    pub kind: EndKind,
    pub at: Instant,
}

impl RequestEnd {
    pub fn now(kind: EndKind) -> RequestEnd {
        RequestEnd {
            kind,
            at: Instant::now(),
        }
    }
}

impl EndKind {
    pub fn status_and_outcome(self) -> (u16, RequestOutcome) {
        match self {
            EndKind::Answered(status) => (status, RequestOutcome::Completed),
            EndKind::Panicked => (500, RequestOutcome::Panicked),
            EndKind::Cancelled => (499, RequestOutcome::Cancelled),
        }
    }
}

impl Started {
    /// Reads what `layer`'s events need from a request as it arrives, and gives it (through
    /// its extensions) the context handlers and inner layers add to. Returns whether the
    /// request id was generated (then, for the audit layer, the handler sees it in
    /// `x-request-id`, and so will the client).
    pub fn new(common: &Common, parts: &mut http::request::Parts, layer: Layer) -> (Started, bool) {
        let audit = layer == Layer::Audit;
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
            && audit
            && let Ok(value) = HeaderValue::from_str(&request_id)
        {
            parts.headers.insert(request_id::REQUEST_ID.clone(), value);
        }
        let info = RequestInfo::from_parts(parts);
        let client_addr = common.proxies.client(info.peer_addr(), &parts.headers);
        context.start(&request_id, generated, client_addr.clone());
        let identity = Some(common.identity.identity(&info)).filter(|i| !i.is_anonymous());
        let trace = RequestTrace::start(|name| info.header(name));
        // Without `x-correlation-id`, the request's W3C trace id (feature `otel`).
        let mut correlation_id = request_id::correlation_id(&parts.headers);
        if correlation_id.is_empty() {
            correlation_id = trace.trace_id().unwrap_or_default();
        }
        let started = Started {
            identity,
            method: parts.method.clone(),
            full_url: if audit {
                redact::redact_url(&parts.uri, common.masker.matcher())
            } else {
                String::new()
            },
            endpoint: info.endpoint().to_owned(),
            user_agent: if audit {
                info.header(&http::header::USER_AGENT)
                    .unwrap_or_default()
                    .to_owned()
            } else {
                String::new()
            },
            request_id,
            correlation_id,
            client_addr,
            owner_id: info
                .header(&OWNER_ID)
                .filter(|id| request_id::is_valid_id(id.as_bytes()))
                .map(str::to_owned),
            message: info.header(&MESSAGE).map(|m| bounded(m, MAX_MESSAGE_LEN)),
            started: Instant::now(),
            started_at: Utc::now(),
            trace,
            context,
        };
        (started, generated)
    }

    /// How long the request took, to `end`.
    pub fn duration(&self, end: RequestEnd) -> Duration {
        end.at.saturating_duration_since(self.started)
    }

    /// When the request ended, by the wall clock: when it started plus how long it took (read
    /// once at its start, the wall clock is not read again, and the two times differ by
    /// exactly its duration however the clock is set meanwhile).
    pub fn ended_at(&self, end: RequestEnd) -> DateTime<Utc> {
        TimeDelta::from_std(self.duration(end))
            .ok()
            .and_then(|took| self.started_at.checked_add_signed(took))
            .unwrap_or(self.started_at)
    }

    pub fn details(&self) -> (Option<Identity>, Option<Uuid>, String) {
        let (identity, resource_id, correlation_id) = self.context.take_details();
        (
            identity
                .filter(|i| !i.is_anonymous())
                .or_else(|| self.identity.clone()),
            resource_id,
            correlation_id.unwrap_or_else(|| self.correlation_id.clone()),
        )
    }
}

static OWNER_ID: http::HeaderName = http::HeaderName::from_static("x-owner-id");
static MESSAGE: http::HeaderName = http::HeaderName::from_static("x-message");

/// The longest `X-Message` header text an audit entry or usage event takes; longer ones are cut.
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

    #[test]
    fn bounded_text() {
        assert_eq!(super::bounded("abc", 2), "ab");
        assert_eq!(super::bounded("ab", 8), "ab");
    }
}
