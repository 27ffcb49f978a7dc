//! The request URL as an audit entry records it: credentials in the authority dropped, and the
//! values of sensitive query parameters masked.

use std::borrow::Cow;
use std::fmt::Write;

use http::Uri;
use kafka_events_rules::Matcher;

use kafka_events_rules::MASK;

/// `uri` with any `user:password@` removed and the value of every query parameter whose name
/// looks sensitive replaced by `***`; every other part as it was.
pub(crate) fn redact_url(uri: &Uri, matcher: &Matcher) -> String {
    let mut out = String::with_capacity(uri.path().len() + uri.query().map_or(0, str::len) + 32);
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        let host = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host)| host);
        out.push_str(host);
    }
    out.push_str(uri.path());
    if let Some(query) = uri.query() {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            if matcher.matches_url_parameter(&decode(name)) {
                let _ = write!(out, "{name}={MASK}");
            } else {
                out.push_str(pair);
            }
        }
    }
    out
}

/// A query parameter's name as the application sees it (`%5F` is `_`, `+` a space).
fn decode(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match byte {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(url: &str) -> String {
        redact_url(&url.parse().unwrap(), &Matcher::default())
    }

    #[test]
    fn secrets_in_the_query_and_the_authority_are_masked() {
        assert_eq!(
            redact(
                "/search?page=2&access_token=abc&api_key=k&password=p&token=t&client_secret=s&apiKey=a&q=rust"
            ),
            "/search?page=2&access_token=***&api_key=***&password=***&token=***&client_secret=***&apiKey=***&q=rust"
        );
        assert_eq!(
            redact("http://alice:PASS@example.com:8080/orders?id=7"),
            "http://example.com:8080/orders?id=7"
        );
        assert_eq!(redact("/orders/42"), "/orders/42");
        assert_eq!(redact("/x?api%5Fkey=1&flag&"), "/x?api%5Fkey=***&flag&");
        assert_eq!(redact("/x?user[password]=1"), "/x?user[password]=***");
    }

    #[test]
    fn names_are_decoded_before_matching() {
        assert_eq!(decode("api%5Fkey"), "api_key");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("bad%zz"), "bad%zz");
        assert_eq!(decode("end%"), "end%");
        assert_eq!(decode("end%4"), "end%4");
    }
}
