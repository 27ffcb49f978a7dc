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
use uuid::Uuid;

use super::{Common, IdentityHook, RequestInfo, send};
use crate::models::{UsageEvent, usage_metadata};
use crate::producer::Producer;

/// Emits one [`UsageEvent`] per request when its response is produced, as the Go middleware's
/// `UsageEntry`: start and end time, the caller's tenant, the optional `X-Owner-ID` header,
/// `product_id` and `memory_mb` from this layer's configuration, status `draft`, and the
/// metadata `[{"user_id": subject}, {"service_name": service}]`; plus the service, endpoint,
/// subject, duration and optional `X-Message` header. Never waits for the broker; never changes
/// the response.
#[derive(Clone)]
pub struct UsageLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    common: Common,
    product_id: Option<Uuid>,
    memory_mb: i16,
}

impl UsageLayer {
    /// A layer that emits to `producer`.
    pub fn new<P: Producer + 'static>(producer: P) -> Self {
        UsageLayer {
            config: Arc::new(Config {
                common: Common::new(Arc::new(producer)),
                product_id: None,
                memory_mb: 0,
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

    /// The product the service bills (`product_id` of every event).
    pub fn product_id(self, id: Uuid) -> Self {
        self.with(|c| c.product_id = Some(id))
    }

    /// The memory the service is billed for, in MiB (`memory_mb` of every event).
    pub fn memory_mb(self, memory_mb: i16) -> Self {
        self.with(|c| c.memory_mb = memory_mb)
    }
}

impl<S> Layer<S> for UsageLayer {
    type Service = Usage<S>;

    fn layer(&self, inner: S) -> Usage<S> {
        Usage {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`UsageLayer`] wraps around yours.
#[derive(Clone)]
pub struct Usage<S> {
    inner: S,
    config: Arc<Config>,
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
        let config = &self.config;
        let pending = (!config.common.skips(&info)).then(|| {
            let identity = config.common.identity.identity(&info);
            let now = Utc::now();
            let service = &config.common.service;
            let mut event = UsageEvent::new(service, now, now);
            event.metadata = Some(usage_metadata(&identity.subject, service));
            event.subject = identity.subject;
            event.tenant_id = identity.tenant_id;
            event.product_id = config.product_id;
            event.memory_mb = config.memory_mb;
            event.endpoint = info.endpoint().to_owned();
            event.owner_id = info.header("x-owner-id").map(str::to_owned);
            event.message = info.header("x-message").map(str::to_owned);
            (event, config.clone())
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
        pending: Option<(UsageEvent, Arc<Config>)>,
    }
}

impl<F: Future> Future for UsageResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let Some((mut event, config)) = this.pending.take() {
            let end: DateTime<Utc> = Utc::now();
            event.end_timestamp = end;
            event.duration_ms = (end - event.start_timestamp).num_milliseconds().max(0) as u64;
            event.timestamp = end;
            send(&*config.common.producer, &event);
        }
        Poll::Ready(output)
    }
}
