//! [`UsageLayer`]: one [`UsageEvent`](crate::UsageEvent) per request, the billing stream: the
//! layer here, the [`service`] it wraps around yours, and the [`future`] that writes the event
//! when the request ends.

mod future;
mod service;

use std::sync::Arc;

use tower_layer::Layer;

pub use future::UsageResponseFuture;
pub use service::Usage;

use super::client::TrustedProxies;
use super::common::Common;
use super::hooks::IdentityHook;
use super::request::RequestInfo;
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
        Usage::new(inner, self.common.clone())
    }
}
