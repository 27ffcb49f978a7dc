//! [`UsageLayer`]: one [`UsageEvent`](crate::UsageEvent) per request, the billing stream.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{Common, End, Ended, IdentityHook, RequestInfo, Started, TrustedProxies, send};
use crate::producer::Producer;

/// Emits one [`UsageEvent`](crate::UsageEvent) per request when its response is produced, as the Go middleware's
/// `UsageEntry`: start and end time, the caller's tenant, the optional `X-Owner-ID` header,
/// `product_id` and `memory_mb` from this layer's configuration, status `draft`, and the
/// metadata `[{"user_id": subject}, {"service_name": service}]`; plus the service, endpoint,
/// subject, duration, optional `X-Message` header and how the request ended. Never waits for
/// the broker; never changes the response. Every request that is not skipped leaves one event,
/// also when its handler panics or the request is cancelled.
///
/// To audit and bill with one configuration, use [`AuditLayer::with_usage`](super::AuditLayer::with_usage)
/// instead of both layers.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::UsageLayer;
/// use kafka_events::{MemoryProducer, UsageEvent};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let product = uuid::Uuid::new_v4();
/// let service = ServiceBuilder::new()
///     .layer(UsageLayer::new(producer.clone()).service_name("reports-api").product_id(product))
///     .service_fn(|_request: http::Request<()>| async {
///         Ok::<_, Infallible>(http::Response::new(()))
///     });
/// service.oneshot(http::Request::get("/reports/1").header("x-owner-id", "acme").body(())?).await?;
///
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let usage = &producer.events::<UsageEvent>()?[0];
/// assert_eq!(usage.owner_id.as_deref(), Some("acme"));
/// assert_eq!(usage.product_id, Some(product));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct UsageLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    common: Common,
}

impl UsageLayer {
    /// A layer that emits to `producer`.
    pub fn new<P: Producer + 'static>(producer: P) -> Self {
        UsageLayer {
            config: Arc::new(Config {
                common: Common::new(Arc::new(producer)),
            }),
        }
    }

    fn with_common(mut self, change: impl FnOnce(&mut Common)) -> Self {
        change(&mut Arc::make_mut(&mut self.config).common);
        self
    }

    common_builders!();
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
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::{Usage, UsageLayer};
/// use kafka_events::{MemoryProducer, UsageEvent};
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let handler = tower::service_fn(|_request: http::Request<()>| async {
///     Ok::<_, Infallible>(http::Response::new(()))
/// });
/// let service: Usage<_> = UsageLayer::new(producer.clone()).service_name("reports").layer(handler);
///
/// let response = service.oneshot(http::Request::get("/reports/1").body(())?).await?;
/// assert_eq!(response.status(), 200); // the response is the handler's, unchanged
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let usage = &producer.events::<UsageEvent>()?[0];
/// assert_eq!((usage.service.as_str(), usage.endpoint.as_str()), ("reports", "/reports/1"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Usage<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, B, ResB> Service<Request<B>> for Usage<S>
where
    S: Service<Request<B>, Response = http::Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = UsageResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = &self.config;
        if config.common.skips(&RequestInfo::new(&request)) {
            return UsageResponseFuture {
                inner: self.inner.call(request),
                pending: None,
            };
        }
        let (mut parts, body) = request.into_parts();
        let (started, _) = Started::new(&config.common, &mut parts, false);
        let pending = Pending {
            started,
            config: config.clone(),
        };
        // A service that panics in `call` itself leaves no future to poll: the event is
        // written here before the panic goes on.
        match catch_unwind(AssertUnwindSafe(|| {
            self.inner.call(Request::from_parts(parts, body))
        })) {
            Ok(inner) => UsageResponseFuture {
                inner,
                pending: Some(pending),
            },
            Err(panic) => {
                pending.finish(End::now(Ended::Panicked));
                resume_unwind(panic)
            }
        }
    }
}

/// A request whose usage event is not written yet.
struct Pending {
    started: Started,
    config: Arc<Config>,
}

impl Pending {
    fn finish(self, end: End) {
        let event = self.started.usage_event(&self.config.common, end);
        send(&*self.config.common.producer, &event);
    }
}

pin_project! {
    /// The future [`Usage`] returns: the inner service's response, unchanged. The usage
    /// event is written when it resolves (or, dropped before then, as cancelled).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use kafka_events::middleware::{UsageLayer, UsageResponseFuture};
    /// use kafka_events::{MemoryProducer, RequestOutcome, UsageEvent};
    /// use tower::{Layer, Service, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = MemoryProducer::new();
    /// let mut service = UsageLayer::new(producer.clone()).layer(tower::service_fn(
    ///     |_request: http::Request<()>| async { Ok::<_, Infallible>(http::Response::new(())) },
    /// ));
    /// let request = http::Request::get("/reports/1").body(())?;
    /// let future: UsageResponseFuture<_> = service.ready().await?.call(request);
    /// assert_eq!(future.await?.status(), 200);
    ///
    /// producer.wait_for(1, Duration::from_secs(5)).await?;
    /// assert_eq!(producer.events::<UsageEvent>()?[0].outcome, RequestOutcome::Completed);
    /// # Ok(())
    /// # }
    /// ```
    pub struct UsageResponseFuture<F> {
        #[pin]
        inner: F,
        // Written when the service answers, its handler panics, or (when this future is
        // dropped first) the request is cancelled.
        pending: Option<Pending>,
    }

    impl<F> PinnedDrop for UsageResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(pending) = this.project().pending.take() {
                pending.finish(End::now(Ended::Cancelled));
            }
        }
    }
}

impl<F, T, E> Future for UsageResponseFuture<F>
where
    F: Future<Output = Result<http::Response<T>, E>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = catch_unwind(AssertUnwindSafe(|| self.as_mut().project().inner.poll(cx)));
        let this = self.project();
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                if let Some(pending) = this.pending.take() {
                    let status = output.as_ref().map_or(500, |r| r.status().as_u16());
                    pending.finish(End::now(Ended::Answered(status)));
                }
                Poll::Ready(output)
            }
            Err(panic) => {
                if let Some(pending) = this.pending.take() {
                    pending.finish(End::now(Ended::Panicked));
                }
                resume_unwind(panic)
            }
        }
    }
}
