//! [`AuditContext`]: what the layers know about a request, shared with everything inside them.

use std::sync::{Arc, Mutex};

use http::Extensions;
use uuid::Uuid;

use super::identity::Identity;
use crate::flow::lock;

/// A request's audit context: the outermost of [`AuditLayer`](super::AuditLayer) and
/// [`UsageLayer`](super::UsageLayer) puts one in the request's extensions, and every layer and
/// handler inside can add what it learns — the caller's identity above all — for the events
/// the layers emit when the request ends. So the identity reaches the audit entry whichever
/// order the layers are in.
///
/// An auth layer or handler attaches the identity with [`Identity::attach`] (or
/// [`AuditContext::set_identity`]); a handler can also name the resource the request is about
/// and a correlation id. With the `axum` feature, `AuditContext` is an extractor.
///
/// ```
/// use kafka_events::middleware::{AuditContext, Identity};
///
/// let mut request = http::Request::get("/orders/7").body(()).unwrap();
/// # request.extensions_mut().insert(AuditContext::default());
/// // In an auth layer inside the audit layer:
/// Identity { subject: "alice".into(), ..Identity::default() }.attach(request.extensions_mut());
/// // In the handler:
/// let context = AuditContext::of(request.extensions()).unwrap();
/// context.set_resource_id(uuid::Uuid::new_v4());
/// assert_eq!(context.identity().unwrap().subject, "alice");
/// ```
#[derive(Clone, Debug, Default)]
pub struct AuditContext {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    identity: Option<Identity>,
    resource_id: Option<Uuid>,
    correlation_id: Option<String>,
    request_id: String,
    generated_id: bool,
    client_addr: String,
}

impl AuditContext {
    /// The context of a request, if an audit or usage layer is around it.
    pub fn of(extensions: &Extensions) -> Option<AuditContext> {
        extensions.get::<AuditContext>().cloned()
    }

    /// The caller, as authentication established it; the entry is anonymous without one.
    pub fn set_identity(&self, identity: Identity) {
        lock(&self.state).identity = Some(identity);
    }

    /// The identity attached so far.
    pub fn identity(&self) -> Option<Identity> {
        lock(&self.state).identity.clone()
    }

    /// The resource the request is about (`resource_id` of the audit entry).
    pub fn set_resource_id(&self, id: Uuid) {
        lock(&self.state).resource_id = Some(id);
    }

    /// A cross-service trace id (`correlation_id`; by default the request's
    /// `x-correlation-id`).
    pub fn set_correlation_id(&self, id: impl Into<String>) {
        lock(&self.state).correlation_id = Some(id.into());
    }

    /// The request id the layers record (and answer with when they generated it). A client's
    /// `x-request-id` (or `x-correlation-id`) of 1 to 128 visible ASCII characters goes into
    /// the events as it is; any other is replaced by a new UUID.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use kafka_events::middleware::AuditLayer;
    /// use kafka_events::{AuditEntry, MemoryProducer};
    /// use tower::{ServiceBuilder, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = MemoryProducer::new();
    /// let service = ServiceBuilder::new()
    ///     .layer(AuditLayer::new(producer.clone()))
    ///     .service_fn(|_request: http::Request<_>| async {
    ///         Ok::<_, Infallible>(http::Response::new(String::new()))
    ///     });
    ///
    /// for id in ["req-42".to_owned(), "x".repeat(129)] {
    ///     let request = http::Request::get("/").header("x-request-id", id).body(String::new())?;
    ///     service.clone().oneshot(request).await?;
    /// }
    /// producer.wait_for(2, Duration::from_secs(5)).await?;
    /// let entries = producer.events::<AuditEntry>()?;
    /// assert_eq!(entries[0].request_id, "req-42");
    /// assert!(uuid::Uuid::parse_str(&entries[1].request_id).is_ok()); // too long: replaced
    /// # Ok(())
    /// # }
    /// ```
    pub fn request_id(&self) -> String {
        lock(&self.state).request_id.clone()
    }

    /// The client address, as the layer's [`TrustedProxies`](super::TrustedProxies) make it out.
    pub fn client_addr(&self) -> String {
        lock(&self.state).client_addr.clone()
    }

    /// The request id an outer layer settled on, and whether it generated it.
    pub(crate) fn request_id_taken(&self) -> Option<(String, bool)> {
        let state = lock(&self.state);
        (!state.request_id.is_empty()).then(|| (state.request_id.clone(), state.generated_id))
    }

    pub(crate) fn start(&self, request_id: &str, generated: bool, client_addr: String) {
        let mut state = lock(&self.state);
        if state.request_id.is_empty() {
            state.request_id = request_id.to_owned();
            state.generated_id = generated;
            state.client_addr = client_addr;
        }
    }

    pub(crate) fn take_details(&self) -> (Option<Identity>, Option<Uuid>, Option<String>) {
        let state = lock(&self.state);
        (
            state.identity.clone(),
            state.resource_id,
            state.correlation_id.clone(),
        )
    }
}

impl Identity {
    /// Puts the identity in the request's extensions, and hands it to the audit and usage
    /// layers around the request (through its [`AuditContext`]): what an auth layer or handler
    /// calls, whichever side of the audit layer it is on.
    pub fn attach(self, extensions: &mut Extensions) {
        if let Some(context) = extensions.get::<AuditContext>() {
            context.set_identity(self.clone());
        }
        extensions.insert(self);
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuditContext {
    type Rejection = std::convert::Infallible;

    /// The request's context; without an audit or usage layer around the handler, a detached
    /// one whose details go nowhere.
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(AuditContext::of(&parts.extensions).unwrap_or_else(|| {
            tracing::debug!("AuditContext extracted without an audit layer around the handler");
            AuditContext::default()
        }))
    }
}
