//! [`AuthEvent::with_request`]: an authentication event filled from the request it is about.

use super::client::TrustedProxies;
use super::context::AuditContext;
use super::identity::Identity;
use super::request::RequestInfo;
use crate::models::AuthEvent;

impl AuthEvent {
    /// Fills `path`, `user_agent` and `remote_addr` from the request, and the tenant from the
    /// identity attached to it. Inside an audit or usage layer the client address is the one the
    /// layer made out with its [`TrustedProxies`]; elsewhere it is the peer address.
    ///
    /// ```
    /// use kafka_events::AuthEvent;
    /// use kafka_events::middleware::RequestInfo;
    ///
    /// let request = http::Request::post("/login").header("user-agent", "curl/8").body(()).unwrap();
    /// let event = AuthEvent::login_failure("accounts", "mallory", "bad password")
    ///     .with_request(&RequestInfo::new(&request));
    /// assert_eq!((event.path.as_str(), event.user_agent.as_str()), ("/login", "curl/8"));
    /// ```
    pub fn with_request(mut self, request: &RequestInfo<'_>) -> Self {
        self.path = request.uri.path().to_owned();
        self.user_agent = request.header("user-agent").unwrap_or_default().to_owned();
        self.remote_addr = request.client_addr(&TrustedProxies::none());
        if self.tenant_id.is_none() {
            let attached = AuditContext::of(request.extensions).and_then(|c| c.identity());
            self.tenant_id = attached
                .or_else(|| request.extensions.get::<Identity>().cloned())
                .and_then(|i| i.tenant_id);
        }
        self
    }
}
