//! [`Audit`]: the service the audit layer wraps around yours. It starts each request's record
//! and, for a JSON body it should capture, reads the body ahead before calling your service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::config::Config;
use super::future::{AuditRecord, AuditResponseFuture};
use crate::middleware::body::{AuditBody, CaptureBody, Captured, is_json};
use crate::middleware::lifecycle::{Layer, Once, Started, guard};
use crate::middleware::request::RequestInfo;

/// The service [`AuditLayer`](crate::middleware::AuditLayer) wraps around yours.
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

impl<S> Audit<S> {
    pub(super) fn new(inner: S, config: Arc<Config>) -> Self {
        Audit { inner, config }
    }
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
            let future = self.inner.call(Request::from_parts(parts, body));
            return AuditResponseFuture::calling(future, Once::none());
        }
        let (started, generated_id) = Started::new(&config.common, &mut parts, Layer::Audit);
        let captures_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
            && is_json(&parts.headers);
        let mut once = Once::new(AuditRecord::new(started, generated_id, config.clone()));
        if !captures_body {
            // A service that panics in `call` itself (a `map_request` closure, say) leaves no
            // future to poll: the guard writes its entry before the panic goes on.
            let inner = &mut self.inner;
            let future = guard(&mut once, |_| inner.call(Request::from_parts(parts, body)));
            return AuditResponseFuture::calling(future, once);
        }
        // The body is read ahead before the service is called, so the service must be taken
        // now (it is the one `poll_ready` prepared) and a clone left in its place.
        let ready = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, ready);
        let captured = Captured::new(config.max_payload_bytes);
        AuditResponseFuture::reading_ahead(service, parts, body, captured, once)
    }
}
