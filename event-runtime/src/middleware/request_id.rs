//! Request and correlation ids: taken from the request when usable, generated otherwise.

use http::HeaderMap;
use http::header::HeaderName;
use uuid::Uuid;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) static CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// The longest id taken from a request.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Whether a client-chosen id can go into an event as it is: 1 to [`MAX_ID_LEN`] visible ASCII
/// characters (no spaces, no control characters).
pub(crate) fn is_valid_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// The request's `x-request-id` when it is valid, else a new UUID; and whether it was
/// generated.
pub(crate) fn request_id(headers: &HeaderMap) -> (String, bool) {
    match valid_header(headers, &REQUEST_ID) {
        Some(id) => (id.to_owned(), false),
        // Encoded into a buffer: `to_string` goes through `fmt`, at several times the cost.
        None => (
            Uuid::new_v4()
                .hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .to_owned(),
            true,
        ),
    }
}

/// The request's `x-correlation-id` when it is valid, else empty.
pub(crate) fn correlation_id(headers: &HeaderMap) -> String {
    valid_header(headers, &CORRELATION_ID)
        .unwrap_or_default()
        .to_owned()
}

fn valid_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let value = headers.get(name)?;
    is_valid_id(value.as_bytes())
        .then(|| value.to_str().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_visible_ascii() {
        assert!(is_valid_id(b"req-123"));
        assert!(is_valid_id(&[b'a'; MAX_ID_LEN]));
        for bad in [
            &b""[..],
            b"has space",
            b"tab\t",
            &[b'a'; MAX_ID_LEN + 1],
            "é".as_bytes(),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        let long = HeaderMap::from_iter([(
            REQUEST_ID.clone(),
            http::HeaderValue::from_str(&"x".repeat(64 * 1024)).unwrap(),
        )]);
        let (id, generated) = request_id(&long);
        // Hyphenated and lower case, as `Uuid`'s `Display` writes it.
        assert!(generated && Uuid::parse_str(&id).unwrap().to_string() == id);
    }
}
