//! [`RequestInfo`]: what hooks see of a request.

use std::net::{IpAddr, SocketAddr};

use http::{Extensions, HeaderMap, Method, Uri};

use super::client::TrustedProxies;
use super::context::AuditContext;
use super::redact;

/// What hooks see of a request.
///
/// Its `Debug` shows the method, the path with sensitive query values masked, and the names of
/// the headers, never their values (`Authorization`, `Cookie`, API keys).
///
/// ```
/// use kafka_events::middleware::RequestInfo;
///
/// let request = http::Request::get("/orders/7?api_key=k-123")
///     .header("user-agent", "kube-probe/1.30")
///     .header("authorization", "Bearer t-456")
///     .body(())
///     .unwrap();
/// let info = RequestInfo::new(&request);
/// assert_eq!((info.method.as_str(), info.endpoint()), ("GET", "/orders/7"));
/// // What a `skip_if` hook might test.
/// assert!(info.header("user-agent").is_some_and(|ua| ua.starts_with("kube-probe/")));
/// // Safe to log.
/// let logged = format!("{info:?}");
/// assert!(logged.contains("api_key=***") && logged.contains("authorization"));
/// assert!(!logged.contains("k-123") && !logged.contains("t-456"));
/// ```
#[derive(Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI as received.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions (where auth layers put what they learned).
    pub extensions: &'a Extensions,
}

impl std::fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let matcher = kafka_events_rules::Matcher::default();
        f.debug_struct("RequestInfo")
            .field("method", self.method)
            .field("uri", &redact::redact_url(self.uri, &matcher))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> RequestInfo<'a> {
    /// A view of a request.
    pub fn new<B>(request: &'a http::Request<B>) -> Self {
        RequestInfo {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// A view of a request's parts.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }

    /// A header as text, by name: a `&str`, or a [`HeaderName`](http::HeaderName), which is not
    /// parsed again.
    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The route template (axum's `MatchedPath`, with the `axum` feature) or else the path.
    pub fn endpoint(&self) -> &'a str {
        #[cfg(feature = "axum")]
        if let Some(matched) = self.extensions.get::<axum::extract::MatchedPath>() {
            return matched.as_str();
        }
        self.uri.path()
    }

    /// The address of the connection's other end: axum's `ConnectInfo<SocketAddr>` (with the
    /// `axum` feature) or a `SocketAddr` extension.
    pub fn peer_addr(&self) -> Option<IpAddr> {
        #[cfg(feature = "axum")]
        if let Some(info) = self
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return Some(info.0.ip());
        }
        self.extensions.get::<SocketAddr>().map(SocketAddr::ip)
    }

    /// The client's address: what the audit or usage layer around the request made out (with
    /// its [`TrustedProxies`]), or else what `proxies` make of the peer address and headers.
    pub fn client_addr(&self, proxies: &TrustedProxies) -> String {
        match AuditContext::of(self.extensions) {
            Some(context) if !context.request_id().is_empty() => context.client_addr(),
            _ => proxies.client(self.peer_addr(), self.headers),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn request_info_debug_shows_no_header_value_nor_secret_parameter() {
        let request = http::Request::get("/orders?page=2&api_key=k-123")
            .header("authorization", "Bearer t-456")
            .header("cookie", "session=s-789")
            .body(())
            .unwrap();
        let debug = format!("{:?}", super::RequestInfo::new(&request));
        for secret in ["k-123", "t-456", "s-789"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(
            debug.contains("page=2") && debug.contains("authorization"),
            "{debug}"
        );
    }
}
