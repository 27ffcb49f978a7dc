//! What a client controls in a request's record (the path and the route matched from it, the
//! URL, the method, the `User-Agent`) is bounded by the bytes it takes in the record's JSON, so
//! that a record always fits what a broker takes; a field cut short is named in the record's
//! `truncated`.

/// The most bytes each client-controlled field takes in a record's JSON (escapes included).
pub(crate) const MAX_METHOD: usize = 64;
pub(crate) const MAX_ENDPOINT: usize = 2048;
pub(crate) const MAX_RESOURCE: usize = 256;
pub(crate) const MAX_URL: usize = 8192;
pub(crate) const MAX_USER_AGENT: usize = 1024;

/// `text`, cut at a character boundary so that it takes at most `max` bytes as a JSON string
/// (quotes left out); a cut field's JSON name is added to `truncated`.
pub(crate) fn bound(
    field: &'static str,
    text: String,
    max: usize,
    truncated: &mut Vec<String>,
) -> String {
    // Most text is short: no need to look at each character.
    if text.len().saturating_mul(6) <= max {
        return text;
    }
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += json_len(c);
        if used > max {
            truncated.push(field.to_owned());
            let mut text = text;
            text.truncate(at);
            return text;
        }
    }
    text
}

/// The bytes `c` takes in a JSON string as `serde_json` writes it.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_the_bytes_json_writes() {
        let mut truncated = Vec::new();
        assert_eq!(bound("a", "short".into(), 100, &mut truncated), "short");
        assert!(truncated.is_empty());
        let quotes = "\"".repeat(100);
        let cut = bound("user_agent", quotes, 50, &mut truncated);
        assert_eq!(cut.len(), 25);
        assert_eq!(serde_json::to_string(&cut).unwrap().len() - 2, 50);
        assert_eq!(truncated, ["user_agent"]);
        let accents = "é".repeat(100);
        let cut = bound("endpoint", accents, 51, &mut truncated);
        assert_eq!(cut.chars().count(), 25, "cut at a character boundary");
        let controls = "\u{1}".repeat(10);
        assert_eq!(bound("x", controls, 13, &mut truncated).len(), 2);
    }
}
