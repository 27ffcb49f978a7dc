//! How a JSON string is written, byte for byte as `serde_json` writes it: `"` and `\` escaped
//! with a backslash, the control characters `\b`, `\t`, `\n`, `\f`, `\r` by name and the other
//! ones below U+0020 as `\u00xx` (lower-case hex), everything else (`/`, DEL, non-ASCII) as it
//! is. The derive writes its events' keys with it at compile time, and the runtime their string
//! values, so a generated writer and `serde_json` can never disagree on a string.
//!
//! Most strings need no escape at all: eight bytes at a time are checked with a few word
//! operations, and a run with nothing to escape is copied at once.
//!
//! ```
//! use kafka_events_rules::json::write_str;
//!
//! let mut out = Vec::new();
//! write_str(&mut out, "tab\there \"quoted\" \u{1}");
//! assert_eq!(out, br#""tab\there \"quoted\" \u0001""#);
//! ```

use alloc::vec::Vec;

/// Appends `text` as a JSON string, quotes included.
#[inline]
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    match first_escape(bytes) {
        None => out.extend_from_slice(bytes),
        Some(at) => write_escaped(out, bytes, at),
    }
    out.push(b'"');
}

/// Where the first byte that needs an escape is: eight bytes at a time, the last few one by one.
#[inline]
fn first_escape(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if needs_escape(u64::from_le_bytes(word)) {
            return Some(at);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| ESCAPE[usize::from(byte)] != 0)
        .map(|i| at + i)
}

/// Writes `bytes` escaped from `from` on (what comes before needs no escape), as
/// `serde_json`'s `format_escaped_str_contents` does.
#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8], from: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate().skip(from) {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..at]);
        start = at + 1;
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether any of the eight bytes of `word` is below 0x20, `"` or `\`.
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// For each byte: 0 when written as it is, otherwise the letter after the backslash (`u` for
/// `\u00xx`), as `serde_json`'s table has it.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use proptest::prelude::*;

    fn ours(text: &str) -> String {
        let mut out = Vec::new();
        super::write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    /// What `serde_json` writes, spelled out here since this crate depends on nothing.
    fn reference(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn every_character_near_ascii_is_written_as_serde_json_writes_it() {
        for c in (0u32..0x300).filter_map(char::from_u32) {
            for text in [c.to_string(), format!("abcdefg{c}hijklmn{c}{c}xyz")] {
                assert_eq!(ours(&text), reference(&text), "{c:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            text in "(?s).{0,80}|[\\x00-\\x7f]{0,80}|[\"\\\\\\x00-\\x1f a-z]{0,40}"
        ) {
            prop_assert_eq!(ours(&text), reference(&text));
        }
    }
}
