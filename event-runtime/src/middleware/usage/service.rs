//! [`Usage`]: the service the usage layer wraps around yours.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::future::{UsageRecord, UsageResponseFuture};
use crate::middleware::common::Common;
use crate::middleware::lifecycle::{Layer, Once, Started, guard};
use crate::middleware::request::RequestInfo;

/// The service [`UsageLayer`](crate::middleware::UsageLayer) wraps around yours.
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
    common: Arc<Common>,
}

impl<S> Usage<S> {
    pub(super) fn new(inner: S, common: Arc<Common>) -> Self {
        Usage { inner, common }
    }
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
        if self.common.skips(&RequestInfo::new(&request)) {
            return UsageResponseFuture::new(self.inner.call(request), Once::none());
        }
        let (mut parts, body) = request.into_parts();
        let (started, _) = Started::new(&self.common, &mut parts, Layer::Usage);
        let mut once = Once::new(UsageRecord::new(started, self.common.clone()));
        // A service that panics in `call` itself leaves no future to poll: the guard writes its
        // event before the panic goes on.
        let inner = &mut self.inner;
        let future = guard(&mut once, |_| inner.call(Request::from_parts(parts, body)));
        UsageResponseFuture::new(future, once)
    }
}
