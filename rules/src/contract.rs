//! The committed contract file, as both sides read it: `#[derive(KafkaEvent)]` with
//! `#[event(contract = "..")]` reads its field list at compile time, and the runtime's
//! `kafka_events::contract` refuses a file this reader can't read, so the two never disagree.
//!
//! A contract file is a JSON Schema document; the fields the event promises are the keys of its
//! top-level `properties` object.
//!
//! ```
//! use kafka_events_rules::contract::{ContractFileError, contract_fields};
//!
//! let text = r#"{"title": "OrderPlaced", "properties": {"order_id": {"type": "integer"},
//!     "lines": {"type": "array", "items": {"properties": {"sku": {}}}}}}"#;
//! assert_eq!(contract_fields(text)?, ["order_id", "lines"]);
//! assert_eq!(contract_fields("[]"), Err(ContractFileError::NotAnObject));
//! # Ok::<(), ContractFileError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The environment variable that rewrites contract files on purpose: with
/// `KAFKA_EVENTS_CONTRACTS=overwrite`, `kafka_events::contract::verify` writes the current
/// contract instead of failing on a difference.
pub const CONTRACTS_ENV: &str = "KAFKA_EVENTS_CONTRACTS";

/// The value of [`CONTRACTS_ENV`] that rewrites the files.
pub const OVERWRITE: &str = "overwrite";

/// Why a contract file's field list could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContractFileError {
    /// The text is not JSON; `line` and `column` (from 1) point at the first byte that is wrong.
    Syntax {
        /// The line, from 1.
        line: usize,
        /// The column in bytes, from 1.
        column: usize,
    },
    /// The document is JSON, but not an object.
    NotAnObject,
    /// The document has no top-level `properties` object.
    NoProperties,
}

impl fmt::Display for ContractFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractFileError::Syntax { line, column } => {
                write!(f, "it is not valid JSON (line {line}, column {column})")
            }
            ContractFileError::NotAnObject => f.write_str("it is not a JSON Schema object"),
            ContractFileError::NoProperties => {
                f.write_str("it has no top-level `properties` object")
            }
        }
    }
}

/// The keys of the top-level `properties` object of the contract file `text`, in file order
/// (when the key appears twice, the last one counts, as JSON parsers read it).
pub fn contract_fields(text: &str) -> Result<Vec<String>, ContractFileError> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.space();
    if reader.peek() != Some(b'{') {
        reader.value(0)?;
        reader.end()?;
        return Err(ContractFileError::NotAnObject);
    }
    let mut fields = None;
    reader.object(0, |reader, key| {
        if key == "properties" && reader.peek() == Some(b'{') {
            let mut names = Vec::new();
            reader.object(1, |reader, name| {
                names.push(name);
                reader.value(2)
            })?;
            fields = Some(names);
            Ok(())
        } else {
            if key == "properties" {
                fields = None;
            }
            reader.value(1)
        }
    })?;
    reader.end()?;
    fields.ok_or(ContractFileError::NoProperties)
}

/// Deeper nesting than this is refused rather than read with the stack.
const MAX_DEPTH: usize = 256;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn error(&self) -> ContractFileError {
        let before = &self.bytes[..self.at.min(self.bytes.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        ContractFileError::Syntax { line, column }
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ContractFileError> {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn end(&mut self) -> Result<(), ContractFileError> {
        self.space();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error()),
        }
    }

    /// Reads `{ "key": value, .. }`, handing each key to `member`, which must read its value.
    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, String) -> Result<(), ContractFileError>,
    ) -> Result<(), ContractFileError> {
        if depth > MAX_DEPTH {
            return Err(self.error());
        }
        self.expect(b'{')?;
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.space();
            let key = self.string()?;
            self.expect(b':')?;
            self.space();
            member(self, key)?;
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), ContractFileError> {
        if depth > MAX_DEPTH {
            return Err(self.error());
        }
        self.space();
        match self.peek() {
            Some(b'{') => self.object(depth, |reader, _| reader.value(depth + 1)),
            Some(b'[') => {
                self.at += 1;
                self.space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.space();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(());
                        }
                        _ => return Err(self.error()),
                    }
                }
            }
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error()),
        }
    }

    fn word(&mut self, word: &[u8]) -> Result<(), ContractFileError> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn digits(&mut self) -> Result<(), ContractFileError> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        if self.at == start {
            Err(self.error())
        } else {
            Ok(())
        }
    }

    fn number(&mut self) -> Result<(), ContractFileError> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        self.digits()?;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ContractFileError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error()),
            };
            value = value * 16 + u32::from(digit);
            self.at += 1;
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, ContractFileError> {
        if self.peek() != Some(b'"') {
            return Err(self.error());
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | 0..=0x1f)) {
                self.at += 1;
            }
            // The input is a `&str` and the stop bytes are ASCII, so this is a char boundary.
            out.push_str(
                core::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| self.error())?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                self.word(b"\\u")?;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error());
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            out.push(char::from_u32(code).ok_or_else(|| self.error())?);
                            continue;
                        }
                        _ => return Err(self.error()),
                    };
                    self.at += 1;
                    out.push(escaped);
                }
                _ => return Err(self.error()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_top_level_properties() {
        let text = r##"
            {
              "$defs": {"Line": {"properties": {"sku": {"type": "string"}}}},
              "properties": {
                "order_id": {"type": "integer", "minimum": -1.5e3},
                "tag\u00e9\"d": {"enum": [true, false, null, "x", [], {}]},
                "lines": {"items": {"$ref": "#/$defs/Line"}}
              },
              "required": ["order_id"]
            }"##;
        assert_eq!(
            contract_fields(text).unwrap(),
            ["order_id", "tagé\"d", "lines"]
        );
        assert_eq!(contract_fields(r#"{"properties": {}}"#).unwrap(), [""; 0]);
        assert_eq!(
            contract_fields(r#"{"properties": {"\ud83d\ude00": 1}}"#).unwrap(),
            ["😀"]
        );
    }

    #[test]
    fn says_what_is_wrong() {
        assert_eq!(
            contract_fields("{\n  \"properties\": {\"a\": tru}}"),
            Err(ContractFileError::Syntax {
                line: 2,
                column: 23
            })
        );
        assert_eq!(
            contract_fields("\"x\""),
            Err(ContractFileError::NotAnObject)
        );
        assert_eq!(
            contract_fields(r#"{"title": "x"}"#),
            Err(ContractFileError::NoProperties)
        );
        assert_eq!(
            contract_fields(r#"{"properties": true}"#),
            Err(ContractFileError::NoProperties)
        );
        assert!(matches!(
            contract_fields(r#"{"properties": {}} x"#),
            Err(ContractFileError::Syntax { .. })
        ));
        let deep = "[".repeat(10_000);
        assert!(matches!(
            contract_fields(&deep),
            Err(ContractFileError::Syntax { .. })
        ));
    }
}
