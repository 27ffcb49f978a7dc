//! [`UsageLayer`]: one [`UsageEvent`] per request, the billing stream.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use chrono::{DateTime, Utc};
use http::Request;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{Common, IdentityHook, RequestInfo, send};
use crate::models::UsageEvent;
use crate::producer::Producer;

/// Emits one [`UsageEvent`] per request when its response is produced: start and end time,
/// duration, service, endpoint, the caller's subject and tenant, and the optional `X-Owner-ID`
/// and `X-Message` headers. Never waits for the broker; never changes the response.
#[derive(Clone)]
pub struct UsageLayer {
    common: Arc<Common>,
}

impl UsageLayer {
    /// A layer that emits to `producer`.
    pub fn new<P: Producer + 'static>(producer: P) -> Self {
        UsageLayer {
            common: Arc::new(Common::new(Arc::new(producer))),
        }
    }

    fn with_common(mut self, change: impl FnOnce(&mut Common)) -> Self {
        change(Arc::make_mut(&mut self.common));
        self
    }

    common_builders!();
}

impl<S> Layer<S> for UsageLayer {
    type Service = Usage<S>;

    fn layer(&self, inner: S) -> Usage<S> {
        Usage {
            inner,
            common: self.common.clone(),
        }
    }
}

/// The service [`UsageLayer`] wraps around yours.
#[derive(Clone)]
pub struct Usage<S> {
    inner: S,
    common: Arc<Common>,
}

impl<S, B> Service<Request<B>> for Usage<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = UsageResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let info = RequestInfo::new(&request);
        let pending = (!self.common.skips(&info)).then(|| {
            let identity = self.common.identity.identity(&info);
            let now = Utc::now();
            let mut event = UsageEvent::new(&self.common.service, now, now);
            event.subject = identity.subject;
            event.tenant_id = identity.tenant_id;
            event.endpoint = info.endpoint().to_owned();
            event.owner_id = info.header("x-owner-id").map(str::to_owned);
            event.message = info.header("x-message").map(str::to_owned);
            (event, self.common.clone())
        });
        UsageResponseFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
}

pin_project! {
    /// The future [`Usage`] returns.
    pub struct UsageResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<(UsageEvent, Arc<Common>)>,
    }
}

impl<F: Future> Future for UsageResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let Some((mut event, common)) = this.pending.take() {
            let end: DateTime<Utc> = Utc::now();
            event.end_time = end;
            event.duration_ms = (end - event.start_time).num_milliseconds().max(0) as u64;
            event.timestamp = end;
            send(&*common.producer, &event);
        }
        Poll::Ready(output)
    }
}
