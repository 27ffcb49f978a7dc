//! [`Identity`]: who made a request, as the app's authentication established it.

use uuid::Uuid;

/// Who made a request, as the app's authentication established it.
///
/// Attach it from your auth layer or handler with [`Identity::attach`], which also reaches an
/// audit layer outside them; or give the layers your own [`IdentityHook`](super::IdentityHook). A request without one
/// is audited as anonymous (`anonymous: true`, these fields empty).
///
/// ```
/// use kafka_events::middleware::{Identity, IdentityFromExtensions, IdentityHook, RequestInfo};
///
/// assert!(Identity::default().is_anonymous());
/// let identity = Identity {
///     subject: "ann".into(),
///     tenant_id: Some(uuid::Uuid::new_v4()),
///     ..Identity::default()
/// };
/// assert!(!identity.is_anonymous());
///
/// // What an auth layer does; the audit layer reads it back.
/// let mut request = http::Request::get("/orders").body(()).unwrap();
/// identity.clone().attach(request.extensions_mut());
/// assert_eq!(IdentityFromExtensions.identity(&RequestInfo::new(&request)), identity);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The subject (JWT `sub`).
    pub subject: String,
    /// The tenant.
    pub tenant_id: Option<Uuid>,
    /// The token id (JWT `jti`, a UUID in the Go services).
    pub jti: Option<Uuid>,
}

impl Identity {
    /// Whether nothing is known about the caller.
    pub fn is_anonymous(&self) -> bool {
        self.subject.is_empty() && self.tenant_id.is_none() && self.jti.is_none()
    }
}
