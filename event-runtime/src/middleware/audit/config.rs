//! The audit layer's configuration, shared by every request it wraps, and [`EntryHook`].

use std::sync::Arc;

use super::super::common::Common;
use crate::models::AuditEntry;

/// Enriches or vetoes each [`AuditEntry`] before it is emitted: return `false` to drop it.
///
/// Give one to [`AuditLayer::on_entry`](crate::middleware::AuditLayer::on_entry); a closure `Fn(&mut AuditEntry) -> bool` is one too.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use kafka_events::middleware::{AuditLayer, EntryHook};
/// use kafka_events::{AuditEntry, MemoryProducer};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// /// Audits changes only, and names the region that served them.
/// struct WritesIn(&'static str);
///
/// impl EntryHook for WritesIn {
///     fn on_entry(&self, entry: &mut AuditEntry) -> bool {
///         entry.service = format!("{}@{}", entry.service, self.0);
///         entry.http_method != "GET"
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let service = ServiceBuilder::new()
///     .layer(AuditLayer::new(producer.clone()).service_name("orders").on_entry(WritesIn("eu-1")))
///     .service_fn(|_request: http::Request<_>| async {
///         Ok::<_, Infallible>(http::Response::new(String::new()))
///     });
/// for request in [http::Request::get("/orders/7"), http::Request::delete("/orders/7")] {
///     service.clone().oneshot(request.body(String::new())?).await?;
/// }
///
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// let entries = producer.events::<AuditEntry>()?;
/// assert_eq!(entries.len(), 1); // the GET was dropped
/// assert_eq!((entries[0].http_method.as_str(), entries[0].service.as_str()), ("DELETE", "orders@eu-1"));
/// # Ok(())
/// # }
/// ```
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
pub(crate) struct Config {
    pub common: Common,
    pub max_payload_bytes: usize,
    pub on_entry: Option<Arc<dyn EntryHook>>,
    pub usage: bool,
}
