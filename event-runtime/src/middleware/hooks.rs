//! [`IdentityHook`]: how a layer reads the caller's identity from a request.

use super::identity::Identity;
use super::request::RequestInfo;

/// Reads the caller's identity from a request.
///
/// Give one to [`AuditLayer::identity`](crate::middleware::AuditLayer::identity) or [`UsageLayer::identity`](crate::middleware::UsageLayer::identity), as in
/// `AuditLayer::new(producer).identity(FromGateway)`; a closure
/// `Fn(&RequestInfo<'_>) -> Identity` is one too.
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityHook, RequestInfo};
///
/// /// The API gateway in front has authenticated the caller and says who it is.
/// struct FromGateway;
///
/// impl IdentityHook for FromGateway {
///     fn identity(&self, request: &RequestInfo<'_>) -> Identity {
///         let subject = request.header("x-authenticated-user").unwrap_or_default();
///         Identity { subject: subject.to_owned(), ..Identity::default() }
///     }
/// }
///
/// let request = http::Request::get("/orders").header("x-authenticated-user", "ann");
/// let request = request.body(()).unwrap();
/// assert_eq!(FromGateway.identity(&RequestInfo::new(&request)).subject, "ann");
/// let anonymous = http::Request::get("/orders").body(()).unwrap();
/// assert!(FromGateway.identity(&RequestInfo::new(&anonymous)).is_anonymous());
/// ```
pub trait IdentityHook: Send + Sync + 'static {
    /// The identity, or `Identity::default()` when unknown.
    fn identity(&self, request: &RequestInfo<'_>) -> Identity;
}

impl<F> IdentityHook for F
where
    F: Fn(&RequestInfo<'_>) -> Identity + Send + Sync + 'static,
{
    fn identity(&self, request: &RequestInfo<'_>) -> Identity {
        self(request)
    }
}

/// The default [`IdentityHook`]: the [`Identity`] in the request extensions, if any.
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityFromExtensions, IdentityHook, RequestInfo};
///
/// let mut request = http::Request::get("/orders").body(()).unwrap();
/// assert!(IdentityFromExtensions.identity(&RequestInfo::new(&request)).is_anonymous());
///
/// Identity { subject: "ann".into(), ..Identity::default() }.attach(request.extensions_mut());
/// assert_eq!(IdentityFromExtensions.identity(&RequestInfo::new(&request)).subject, "ann");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityFromExtensions;

impl IdentityHook for IdentityFromExtensions {
    fn identity(&self, request: &RequestInfo<'_>) -> Identity {
        request
            .extensions
            .get::<Identity>()
            .cloned()
            .unwrap_or_default()
    }
}
