//! [`AuditResponseFuture`]: the audit layer's future. It reads a captured body ahead, calls the
//! service, and hands the request's record ([`AuditRecord`]) to the response body, which writes
//! it when it ends; [`Once`] writes it instead if the handler panics or the future is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use http::{HeaderValue, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::config::Config;
use crate::middleware::body::{AuditBody, CaptureBody, Captured, is_json, poll_read_ahead};
use crate::middleware::entries::{send, send_entry};
use crate::middleware::lifecycle::{EndKind, Finish, Once, RequestEnd, Started, guard};
use crate::middleware::request_id::REQUEST_ID;

/// A request whose entry is not written yet.
pub(super) struct AuditRecord {
    started: Started,
    generated_id: bool,
    request_body: Option<Captured>,
    response_body: Option<Arc<Mutex<Captured>>>,
    status: Option<u16>,
    config: Arc<Config>,
}

impl AuditRecord {
    pub fn new(started: Started, generated_id: bool, config: Arc<Config>) -> Self {
        AuditRecord {
            started,
            generated_id,
            request_body: None,
            response_body: None,
            status: None,
            config,
        }
    }
}

impl Finish for AuditRecord {
    /// Writes the entry (and usage event): bodies masked, the hook run, handed over. Called
    /// exactly once per request.
    fn finish(mut self, end: RequestEnd) {
        let config = &self.config;
        // Made first: the entry takes the text it records out of `started`.
        let usage = config
            .usage
            .then(|| self.started.usage_event(&config.common, end));
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
        // The entry first: a test awaiting one record sees the request's entry.
        let keep = config
            .on_entry
            .as_ref()
            .is_none_or(|hook| hook.on_entry(&mut entry));
        // In the request's trace: the records' spans are children of its span.
        self.started.trace.in_scope(|| {
            if keep {
                send_entry(&*config.common.producer, &entry);
            }
            if let Some(usage) = usage {
                let _ = send(&*config.common.producer, &usage);
            }
        });
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
        // Written when the response body ends, the handler panics, or (when this future is
        // dropped first) the request is cancelled: first, before the service's future goes.
        once: Once<AuditRecord>,
        #[pin]
        phase: Phase<S, B>,
    }
}

pin_project! {
    #[project = PhaseProj]
    enum Phase<S, B>
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

impl<S, B> AuditResponseFuture<S, B>
where
    S: Service<Request<AuditBody<B>>>,
    B: Body,
{
    /// The service was called already.
    pub(super) fn calling(future: S::Future, once: Once<AuditRecord>) -> Self {
        AuditResponseFuture {
            once,
            phase: Phase::Calling { future },
        }
    }

    /// The request body is read ahead (up to the cap) before the service is called.
    pub(super) fn reading_ahead(
        service: S,
        parts: http::request::Parts,
        body: AuditBody<B>,
        captured: Captured,
        once: Once<AuditRecord>,
    ) -> Self {
        AuditResponseFuture {
            once,
            phase: Phase::ReadingAhead {
                service: Some(service),
                parts: Some(parts),
                body: Some(body),
                captured: Some(captured),
            },
        }
    }
}

impl<S, B, ResB> Future for AuditResponseFuture<S, B>
where
    S: Service<Request<AuditBody<B>>, Response = Response<ResB>>,
    B: Body,
{
    type Output = Result<Response<CaptureBody<ResB>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // A panic in the handler (or the request body) still leaves its entry, then goes on.
        let result = ready!(guard(this.once, |once| poll_phase(this.phase, once, cx)));
        Poll::Ready(respond(this.once, result))
    }
}

fn poll_phase<S, B, ResB>(
    mut phase: Pin<&mut Phase<S, B>>,
    once: &mut Once<AuditRecord>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResB>, S::Error>>
where
    S: Service<Request<AuditBody<B>>, Response = Response<ResB>>,
    B: Body,
{
    loop {
        match phase.as_mut().project() {
            PhaseProj::ReadingAhead {
                service,
                parts,
                body,
                captured,
            } => {
                let (Some(reading), Some(copy)) = (body.as_mut(), captured.as_mut()) else {
                    unreachable!("polled after the body was handed on")
                };
                ready!(poll_read_ahead(reading, copy, cx));
                if let Some(record) = once.get_mut() {
                    record.request_body = captured.take();
                }
                let request =
                    Request::from_parts(parts.take().expect("parts"), body.take().expect("body"));
                let future = service.take().expect("service").call(request);
                phase.set(Phase::Calling { future });
            }
            PhaseProj::Calling { future } => return future.poll(cx),
        }
    }
}

/// The response as the client gets it: unchanged, but for the request id the layer generated;
/// its body ends the entry.
fn respond<ResB, E>(
    once: &mut Once<AuditRecord>,
    result: Result<Response<ResB>, E>,
) -> Result<Response<CaptureBody<ResB>>, E> {
    let Some(mut record) = once.take() else {
        return result.map(|r| r.map(CaptureBody::passthrough));
    };
    match result {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            if record.generated_id
                && !parts.headers.contains_key(&REQUEST_ID)
                && let Ok(value) = HeaderValue::from_str(&record.started.request_id)
            {
                parts.headers.insert(REQUEST_ID.clone(), value);
            }
            let status = parts.status.as_u16();
            record.status = Some(status);
            if status >= 400 && is_json(&parts.headers) {
                record.response_body = Some(Captured::shared(record.config.max_payload_bytes));
            }
            // Written once the response body has gone out (or was dropped).
            let captured = record.response_body.clone();
            let body = CaptureBody::new(
                body,
                captured,
                Some(Box::new(move || {
                    record.finish(RequestEnd::now(EndKind::Answered(status)))
                })),
            );
            Ok(Response::from_parts(parts, body))
        }
        Err(error) => {
            record.finish(RequestEnd::now(EndKind::Answered(500)));
            Err(error)
        }
    }
}
