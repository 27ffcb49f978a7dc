//! [`UsageResponseFuture`]: the usage layer's future. The event is written when the service's
//! future resolves; [`Once`] writes it instead if the handler panics or the future is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::middleware::common::Common;
use crate::middleware::entries::send;
use crate::middleware::lifecycle::{EndKind, Finish, Once, RequestEnd, Started, guard};

/// A request whose usage event is not written yet.
pub(super) struct UsageRecord {
    started: Started,
    common: Arc<Common>,
}

impl UsageRecord {
    pub fn new(started: Started, common: Arc<Common>) -> Self {
        UsageRecord { started, common }
    }
}

impl Finish for UsageRecord {
    fn finish(self, end: RequestEnd) {
        let event = self.started.usage_event(&self.common, end);
        let _ = (self.started.trace).in_scope(|| send(&*self.common.producer, &event));
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
        // Written when the service answers, its handler panics, or (when this future is
        // dropped first) the request is cancelled: first, before the service's future goes.
        once: Once<UsageRecord>,
        #[pin]
        inner: F,
    }
}

impl<F> UsageResponseFuture<F> {
    pub(super) fn new(inner: F, once: Once<UsageRecord>) -> Self {
        UsageResponseFuture { once, inner }
    }
}

impl<F, T, E> Future for UsageResponseFuture<F>
where
    F: Future<Output = Result<http::Response<T>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let output = ready!(guard(this.once, |_| inner.poll(cx)));
        let status = output.as_ref().map_or(500, |r| r.status().as_u16());
        this.once.end(EndKind::Answered(status));
        Poll::Ready(output)
    }
}
