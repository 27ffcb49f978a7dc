//! Masking sensitive fields of a JSON body, on its text: one pass that checks the JSON and
//! copies it, writing `"***"` for the value of every key that looks like a secret (at any
//! depth), and masking JSON held in string values too (`"data": "{\"password\":\"x\"}"`).
//! Whitespace outside strings is dropped. What stays as it was is copied in runs, from one
//! change to the next.

use kafka_events_rules::Matcher;

use super::seen_keys::{self, Cursor, Known};
use crate::models::JsonText;

/// What a masked value becomes: `kafka_events_rules::MASK` as a JSON string.
const MASKED: &[u8] = b"\"***\"";

/// The most arrays and objects a body may have one inside another; deeper input is refused, not
/// recursed. The masked text goes into the entry as it is, and `serde_json` refuses a 128th
/// level: this leaves room for the entry and the `EventJson` envelope around the body.
const MAX_DEPTH: usize = 120;

/// Masks JSON text by a set of sensitive names.
#[derive(Clone, Debug)]
pub(crate) struct Masker {
    matcher: Matcher,
    /// Which answers of [`seen_keys`] are this matcher's: a new one for new names.
    id: u64,
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new(Matcher::default())
    }
}

impl Masker {
    pub fn new(matcher: Matcher) -> Masker {
        Masker {
            matcher,
            id: seen_keys::next_id(),
        }
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The masked JSON, or `None` when `input` is not one valid JSON value.
    pub fn mask(&self, input: &[u8]) -> Option<JsonText> {
        // Checked as it was copied: not parsed again.
        seen_keys::with(self.id, |known| {
            self.mask_to_string(input, known, Cursor::body(), 0)
        })
        .map(JsonText::written)
    }

    /// `known`: this thread's answers for the keys; `keys`: where the input's keys are
    /// ([`Cursor::nested`] for JSON held in a string); `depth`: the levels around the input
    /// (JSON held in a string counts its string's and one more, so the scan's recursion is
    /// bounded however deep strings hold JSON).
    fn mask_to_string(
        &self,
        input: &[u8],
        known: &mut Known<'_>,
        keys: Cursor,
        depth: usize,
    ) -> Option<String> {
        std::str::from_utf8(input).ok()?;
        let mut out = Vec::with_capacity(input.len());
        let mut scan = Scan {
            input,
            pos: 0,
            copied: 0,
            out: &mut out,
            masker: self,
            known,
            keys,
        };
        scan.ws(true);
        scan.value(depth, true)?;
        scan.ws(true);
        if scan.pos != input.len() {
            return None;
        }
        scan.copy_to(input.len());
        // Copied from valid UTF-8 and ASCII only otherwise.
        String::from_utf8(out).ok()
    }
}

/// Whether a JSON number literal is out of the range every reader takes as an `f64`: from
/// 1e308 up. serde_json (without its `float_roundtrip` feature) computes a long number as its
/// digits times a power of ten, which overflows below `f64::MAX` (`1.7976931348623158e308` is
/// refused). A literal of up to 300 characters without an exponent never is.
fn beyond_f64(literal: &[u8]) -> bool {
    let short = literal.len() <= 300 && !literal.iter().any(|b| matches!(b, b'e' | b'E'));
    !short
        && std::str::from_utf8(literal)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .is_none_or(|value| value.abs() >= 1e308)
}

struct Scan<'a, 'k> {
    input: &'a [u8],
    pos: usize,
    /// The input before this is in `out`, as it was or changed.
    copied: usize,
    out: &'a mut Vec<u8>,
    masker: &'a Masker,
    /// This thread's answers for the masker's keys.
    known: &'a mut Known<'k>,
    /// Where the scan is among the input's keys.
    keys: Cursor,
}

impl Scan<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Skips whitespace, dropped from the output when `copy`.
    fn ws(&mut self, copy: bool) {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        if copy && self.pos > start {
            self.replace(start, b"");
        }
    }

    /// Copies the input up to `at` as it was.
    fn copy_to(&mut self, at: usize) {
        self.out.extend_from_slice(&self.input[self.copied..at]);
        self.copied = at;
    }

    /// Writes `with` in place of the input from `start` to here.
    fn replace(&mut self, start: usize, with: &[u8]) {
        self.copy_to(start);
        self.out.extend_from_slice(with);
        self.copied = self.pos;
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then_some(())?;
        self.pos += 1;
        Some(())
    }

    /// Checks one value, copying it to the output when `copy`.
    fn value(&mut self, depth: usize, copy: bool) -> Option<()> {
        match self.peek()? {
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => self.object(depth, copy),
            b'[' => self.array(depth, copy),
            b'"' => {
                // Where the string starts in the output, once what is pending is copied.
                let out_start = self.out.len() + (self.pos - self.copied);
                let (start, end, escaped) = self.string(copy)?;
                if copy {
                    self.string_value(start, end, escaped, depth, out_start);
                }
                Some(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(copy),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.input[self.pos..].starts_with(word).then_some(())?;
        self.pos += word.len();
        Some(())
    }

    fn number(&mut self, copy: bool) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if copy && beyond_f64(&self.input[start..self.pos]) {
            // Kept, as text: readers that decode numbers as f64 (this crate's `AuditEntry`,
            // Go's `encoding/json` into `any`) would refuse the whole record.
            self.copy_to(start);
            self.out.push(b'"');
            self.copy_to(self.pos);
            self.out.push(b'"');
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// Checks a string; returns where it is (quotes included) and whether it has escapes. When
    /// `copy`, an escaped UTF-16 surrogate without its other half (`"\ud800"`, which JSON's
    /// grammar allows but serde_json refuses to read) is written as `\ufffd`, the replacement
    /// character Go's `encoding/json` reads it as.
    fn string(&mut self, copy: bool) -> Option<(usize, usize, bool)> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some((start, self.pos, escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let unit = self.hex_unit(self.pos + 1)?;
                            let escape = self.pos - 1;
                            self.pos += 5;
                            match unit {
                                0xd800..=0xdbff if self.low_surrogate_next() => self.pos += 6,
                                0xd800..=0xdfff if copy => self.replace(escape, b"\\ufffd"),
                                _ => {}
                            }
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// The four hex digits at `at`, as a UTF-16 unit.
    fn hex_unit(&self, at: usize) -> Option<u16> {
        let hex = self.input.get(at..at + 4)?;
        hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    }

    /// Whether an escaped low surrogate (`\udc00` to `\udfff`) comes next.
    fn low_surrogate_next(&self) -> bool {
        self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
            && matches!(self.hex_unit(self.pos + 2), Some(0xdc00..=0xdfff))
    }

    /// Skips the bytes of a string that need no look (not a quote, a backslash or a control
    /// character), eight at a time, to the next one that does (or the last few bytes).
    #[inline]
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_le_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
        // The high bit of each zero byte of `word`: exact up to the first, which is all that
        // is read.
        let zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
        while let Some(chunk) = self.input.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
            let special = zero(word ^ (ONES * u64::from(b'"')))
                | zero(word ^ (ONES * u64::from(b'\\')))
                | control;
            if special != 0 {
                // Little-endian: the lowest bit set is the first such byte's.
                self.pos += (special.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
    }

    /// Writes a string value: as it was, unless it holds JSON (or a JSON string: JSON encoded
    /// twice) with something to mask. Text that starts like JSON but does not parse (a stray
    /// comma, cut short) or is nested past [`MAX_DEPTH`] is masked whole when a sensitive name
    /// appears in it.
    fn string_value(
        &mut self,
        start: usize,
        end: usize,
        escaped: bool,
        depth: usize,
        out_start: usize,
    ) {
        let raw = &self.input[start..end];
        let inner = &raw[1..raw.len() - 1];
        // Most strings are ruled out by their first byte: only `{`, `[` or an escape (`\n{`,
        // `\"` of JSON encoded twice) can start JSON text.
        let first = inner
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if !matches!(first, Some(b'{' | b'[' | b'\\')) {
            return;
        }
        let text: Option<std::borrow::Cow<'_, str>> = if self.copied > start {
            // A lone surrogate in it was rewritten: it is read as it is written.
            self.copy_to(end);
            serde_json::from_slice::<String>(&self.out[out_start..])
                .ok()
                .map(Into::into)
        } else if escaped {
            serde_json::from_slice::<String>(raw).ok().map(Into::into)
        } else {
            std::str::from_utf8(inner).ok().map(Into::into)
        };
        if let Some(text) = text
            && matches!(
                text.trim_start().as_bytes().first(),
                Some(b'{' | b'[' | b'"')
            )
        {
            // Past the depth, JSON text is not read: masked whole if a sensitive name is in it.
            let masked = (depth < MAX_DEPTH)
                .then(|| {
                    self.masker.mask_to_string(
                        text.as_bytes(),
                        self.known,
                        Cursor::nested(),
                        depth + 1,
                    )
                })
                .flatten();
            match masked {
                // Written back as a JSON string.
                Some(masked) => self.rewrite_string(start, out_start, |out| {
                    serde_json::to_writer(out, &masked).expect("writing to a Vec")
                }),
                None if self.masker.matcher.matches(&text) => {
                    self.rewrite_string(start, out_start, |out| out.extend_from_slice(MASKED))
                }
                None => {}
            }
        }
    }

    /// Writes the string from `start` (at `out_start` in the output) to here anew, whatever of
    /// it was written already.
    fn rewrite_string(&mut self, start: usize, out_start: usize, write: impl FnOnce(&mut Vec<u8>)) {
        self.copy_to(start.max(self.copied));
        self.out.truncate(out_start);
        write(self.out);
        self.copied = self.pos;
    }

    fn object(&mut self, depth: usize, copy: bool) -> Option<()> {
        self.expect(b'{')?;
        self.ws(copy);
        if self.peek()? == b'}' {
            return self.expect(b'}');
        }
        loop {
            self.ws(copy);
            (self.peek()? == b'"').then_some(())?;
            let (start, end, escaped) = self.string(copy)?;
            let sensitive = copy && self.key_is_sensitive(start, end, escaped);
            self.ws(copy);
            self.expect(b':')?;
            self.ws(copy);
            if sensitive {
                let value = self.pos;
                self.value(depth + 1, false)?;
                self.replace(value, MASKED);
            } else {
                self.value(depth + 1, copy)?;
            }
            self.ws(copy);
            match self.peek()? {
                b',' => self.expect(b',')?,
                b'}' => return self.expect(b'}'),
                _ => return None,
            }
        }
    }

    fn key_is_sensitive(&mut self, start: usize, end: usize, escaped: bool) -> bool {
        let raw = &self.input[start..end];
        // A key that can't be read as text (an escaped lone surrogate, `"\ud800"`) is taken
        // for a sensitive one: its value is masked.
        if escaped {
            self.keys.skip();
            serde_json::from_slice::<String>(raw).map_or(true, |k| self.masker.matcher.matches(&k))
        } else {
            let key = &raw[1..raw.len() - 1];
            self.known
                .matches(&self.masker.matcher, key, &mut self.keys)
                .unwrap_or(true)
        }
    }

    fn array(&mut self, depth: usize, copy: bool) -> Option<()> {
        self.expect(b'[')?;
        self.ws(copy);
        if self.peek()? == b']' {
            return self.expect(b']');
        }
        loop {
            self.ws(copy);
            self.value(depth + 1, copy)?;
            self.ws(copy);
            match self.peek()? {
                b',' => self.expect(b',')?,
                b']' => return self.expect(b']'),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn masked_is_the_mask_as_a_json_string() {
        assert_eq!(
            MASKED,
            format!("\"{}\"", kafka_events_rules::MASK).as_bytes()
        );
    }

    fn mask(input: &str) -> Option<Value> {
        Masker::default()
            .mask(input.as_bytes())
            .map(|t| t.to_value())
    }

    #[test]
    fn numbers_beyond_f64_are_kept_as_text_so_every_reader_decodes_the_entry() {
        let huge = "9".repeat(50_000);
        let input =
            format!(r#"{{"amount": {huge}, "tiny": 1e-400, "big": 1e400, "ok": 12.5, "n": -7}}"#);
        let masked = Masker::default().mask(input.as_bytes()).unwrap();
        let value: serde_json::Value = serde_json::from_str(masked.as_str()).unwrap();
        assert_eq!(value["amount"], serde_json::Value::String(huge));
        assert_eq!(value["big"], "1e400");
        assert_eq!(
            (value["ok"].as_f64(), value["n"].as_i64()),
            (Some(12.5), Some(-7))
        );
        assert_eq!(value["tiny"].as_f64(), Some(0.0));
        // What the entry's reader does with it.
        let entry = crate::models::AuditEntry {
            payload: Some(masked),
            ..crate::models::AuditEntry::new()
        };
        let json = serde_json::to_vec(&entry).unwrap();
        let read: crate::models::AuditEntry = serde_json::from_slice(&json).unwrap();
        assert_eq!(read.payload, entry.payload);
    }

    #[test]
    fn masks_at_any_depth_and_spelling() {
        let input = json!({
            "name": "ann",
            "Password": "p",
            "nested": {"api_key": "k", "X-Api-Key": "k2", "list": [{"refresh_token": "t", "ok": 1}]},
            "apiKey": {"deep": "object"},
            "passphrase": "x", "pwd": "x", "credentials": {"user": "u"}, "session_id": "s",
            "jwt": "j", "otp": 123456, "pin": "0000", "aws_access_key_id": "AKIA",
            "signature": "sig", "auth": "basic", "author": "kept", "shipping": "kept"
        });
        let masked = mask(&input.to_string()).unwrap();
        assert_eq!(
            masked,
            json!({
                "name": "ann",
                "Password": "***",
                "nested": {"api_key": "***", "X-Api-Key": "***", "list": [{"refresh_token": "***", "ok": 1}]},
                "apiKey": "***",
                "passphrase": "***", "pwd": "***", "credentials": "***", "session_id": "***",
                "jwt": "***", "otp": "***", "pin": "***", "aws_access_key_id": "***",
                "signature": "***", "auth": "***", "author": "kept", "shipping": "kept"
            })
        );
    }

    #[test]
    fn json_held_in_a_string_is_masked_too() {
        let input = json!({
            "data": "{\"password\":\"hunter2\",\"user\":\"ann\"}",
            "list": "[{\"token\":\"t\"}]",
            "plain": "{not json",
            "escaped\\key": 1,
        });
        let masked = mask(&input.to_string()).unwrap();
        let data: Value = serde_json::from_str(masked["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, json!({"password": "***", "user": "ann"}));
        let list: Value = serde_json::from_str(masked["list"].as_str().unwrap()).unwrap();
        assert_eq!(list, json!([{"token": "***"}]));
        assert_eq!(masked["plain"], "{not json");
    }

    #[test]
    fn masks_json_in_strings_that_is_broken_escaped_or_encoded_twice() {
        let twice = serde_json::to_string(&json!({"password": "hunter2"}).to_string()).unwrap();
        let input = json!({
            "broken": "{\"password\":\"hunter2\",}",
            "newline_first": "\n{\"token\":\"t-1\"}",
            "twice": twice,
            "log": "[INFO] user logged in",
        });
        let masked = mask(&input.to_string()).unwrap();
        let text = masked.to_string();
        for secret in ["hunter2", "t-1"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(masked["broken"], "***");
        assert_eq!(masked["log"], "[INFO] user logged in");
    }

    #[test]
    fn a_key_that_cannot_be_read_masks_its_value() {
        let masked = Masker::default()
            .mask(br#"{"\ud800password": "hunter2", "sku": "A-1"}"#)
            .unwrap();
        assert!(!masked.as_str().contains("hunter2"), "{masked}");
        assert!(masked.as_str().contains(r#""sku":"A-1""#), "{masked}");
    }

    #[test]
    fn keeps_every_value_it_does_not_mask() {
        let input = r#" { "a" : [1, -2.5e3, 0.1, true, false, null, "\u00e9\n\"x\""], "b": {} , "c": [] } "#;
        let masked = mask(input).unwrap();
        assert_eq!(masked, serde_json::from_str::<Value>(input).unwrap());
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "{\"a\" 1}",
            "[1,]",
            "01",
            "1.",
            "-",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"control \u{1} char\"",
            "{} {}",
            "tru",
            "[1] x",
        ] {
            assert!(mask(bad).is_none(), "{bad:?}");
        }
        assert!(Masker::default().mask(&[b'"', 0xff, b'"']).is_none());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(mask(&deep).is_none(), "too deep");
    }

    /// Strings are skipped eight bytes at a time: a quote, backslash, control character or
    /// other byte at every place in the first and second eight is still seen.
    #[test]
    fn every_byte_of_a_string_is_looked_at() {
        for len in 0..20 {
            for at in 0..len {
                for special in [
                    "\u{1}", "\u{1f}", "\\\"", "\\\\", "\\u00e9", "é", "\u{7f}", " ", "\"", "\\x",
                ] {
                    let mut text = "a".repeat(len);
                    text.replace_range(at..at + 1, special);
                    let input = format!(r#"{{"k{text}":"{text}","password":"{text}"}}"#);
                    let serde = serde_json::from_str::<Value>(&input).ok();
                    let masked = mask(&input);
                    assert_eq!(masked.is_some(), serde.is_some(), "{input:?}");
                    if let (Some(masked), Some(mut serde)) = (masked, serde) {
                        serde["password"] = json!("***");
                        assert_eq!(masked, serde, "{input:?}");
                    }
                }
            }
        }
    }

    /// What the masker takes, a reader of the entry reads: the entry carries the masked text
    /// as it is (checking it as raw JSON counts no levels), so a body nested deeper than
    /// `serde_json` reads (128 levels, the entry's own included) would make the whole record
    /// unreadable.
    #[test]
    fn a_masked_body_at_any_depth_leaves_a_readable_entry() {
        let mut taken = 0;
        for depth in 100..140 {
            for (open, close) in [("[", "]"), ("{\"a\":", "}"), ("{\"password\":", "}")] {
                let input = open.repeat(depth) + "1" + &close.repeat(depth);
                let Some(masked) = Masker::default().mask(input.as_bytes()) else {
                    continue;
                };
                taken += 1;
                let entry = crate::models::AuditEntry {
                    payload: Some(masked),
                    ..crate::models::AuditEntry::new()
                };
                let mut json = Vec::new();
                crate::KafkaEvent::write_json(&entry, &mut json).unwrap();
                let read = serde_json::from_slice::<crate::models::AuditEntry>(&json);
                assert!(read.is_ok(), "{depth} levels of {open}: {read:?}");
            }
        }
        assert_eq!(taken, 3 * (MAX_DEPTH - 100 + 1));
    }

    fn masked_text(input: &str) -> String {
        Masker::default()
            .mask(input.as_bytes())
            .map(|text| text.as_str().to_owned())
            .unwrap_or_else(|| panic!("refused: {input}"))
    }

    /// What readers of the entry do with it: this crate's `AuditEntry`, as serde_json reads it.
    fn readable(masked: &str) {
        let entry = crate::models::AuditEntry {
            payload: Some(crate::models::JsonText::from_string(masked.to_owned()).unwrap()),
            ..crate::models::AuditEntry::new()
        };
        let json = serde_json::to_vec(&entry).unwrap();
        let read = serde_json::from_slice::<crate::models::AuditEntry>(&json);
        assert!(read.is_ok(), "{masked}: {read:?}");
    }

    /// The bytes, not only the value: whitespace dropped wherever it is, everything else as it
    /// was but for what is masked or rewritten.
    #[test]
    fn the_masked_text_byte_for_byte() {
        for (input, expected) in [
            (
                r#" { "a" : [ 1 , 2 ] , "password" : { "x" : [ 1, "y" ] } , "n" : 1e400 , "s" : " keep  spaces " } "#,
                r#"{"a":[1,2],"password":"***","n":"1e400","s":" keep  spaces "}"#,
            ),
            (
                r#"{"data":"{\"token\": \"t\"}"}"#,
                r#"{"data":"{\"token\":\"***\"}"}"#,
            ),
            (r#"{ } "#, "{}"),
            ("[ ]", "[]"),
            (r#" "top" "#, r#""top""#),
            (" -12.5e3 ", "-12.5e3"),
            (
                r#"{"k":true,"l":[null,false]}"#,
                r#"{"k":true,"l":[null,false]}"#,
            ),
        ] {
            assert_eq!(masked_text(input), expected, "{input}");
        }
    }

    /// An escaped surrogate without its other half is JSON, but serde_json refuses to read it
    /// (the whole entry with it): it is written as `\ufffd`, as Go's `encoding/json` reads it.
    /// A key that has one still has its value masked.
    #[test]
    fn a_lone_surrogate_is_written_as_the_replacement_character() {
        let input = r#"{"note":"\ud800 x","k\udc00":"v","pair":"\ud83d\ude00","hi":"\ud83d\ud83d\ude00","end":"\ud800"}"#;
        let masked = masked_text(input);
        assert_eq!(
            masked,
            r#"{"note":"\ufffd x","k\ufffd":"***","pair":"\ud83d\ude00","hi":"\ufffd\ud83d\ude00","end":"\ufffd"}"#
        );
        readable(&masked);
        // Under a sensitive key it is masked with its value; in JSON held in a string, read.
        let nested = masked_text(r#"{"password":"\ud800","data":"{\"a\":\"\\ud800\"}"}"#);
        readable(&nested);
        assert_eq!(nested, r#"{"password":"***","data":"{\"a\":\"\\ufffd\"}"}"#);
        // JSON in a string that has one of its own is read as the string is written: what
        // does not parse is masked whole when a sensitive name is in it.
        let held = masked_text(r#"["{\"token\":\"t-1\"}\udc00","{\"sku\":1}\udc00",2]"#);
        assert_eq!(held, r#"["***","{\"sku\":1}\ufffd",2]"#);
        readable(&held);
        // JSON held in a string, read as the string is written: masked field by field.
        let read = masked_text(r#"["{\"password\":\"\ud800\",\"sku\":1}"]"#);
        assert_eq!(read, r#"["{\"password\":\"***\",\"sku\":1}"]"#);
    }

    /// serde_json refuses numbers from about `1.7976931348623158e308` up (it computes them in
    /// steps that overflow), below `f64::MAX`: from 1e308 up, they are kept as text.
    #[test]
    fn numbers_near_the_largest_float_are_kept_as_text() {
        let masked = masked_text(r#"{"n":1.7976931348623158e308,"m":-1e308,"ok":9.9e307}"#);
        assert_eq!(
            masked,
            r#"{"n":"1.7976931348623158e308","m":"-1e308","ok":9.9e307}"#
        );
        readable(&masked);
    }

    /// JSON held in a string counts the levels around it: past the depth it is not read, and
    /// masked whole when a sensitive name is in it.
    #[test]
    fn json_in_a_string_past_the_depth_is_masked_whole() {
        let secret = r#""{\"password\":\"hunter2\"}""#;
        for depth in [1, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH] {
            let input = "[".repeat(depth) + secret + &"]".repeat(depth);
            let masked = masked_text(&input);
            assert!(!masked.contains("hunter2"), "{depth}: {masked}");
            readable(&masked);
        }
        let kept = "[".repeat(MAX_DEPTH) + r#""{\"sku\":\"A-1\"}""# + &"]".repeat(MAX_DEPTH);
        assert_eq!(masked_text(&kept), kept);
    }
}
