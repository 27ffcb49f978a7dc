//! The on-disk form of a spooled record, and the scan that finds the records of a segment.
//!
//! A segment file starts with a 16-byte header and is preallocated to its full size, so the
//! bytes after the last record are zeros:
//!
//! ```text
//! file:   "KEVSPOOL" | u32 format (2, LE) | u32 reserved (0) | record* | zeros
//! record: u32 body length (LE) | u32 CRC-32 of the body (LE) | body
//! body:   u8 version (1) | u16 topic length | topic | u32 key length | key
//!         | u16 header count | (u16 name length | name | u32 value length | value)*
//!         | u32 payload length | payload
//! ```
//!
//! A record is written body first and its length last, so a process killed in the middle of a
//! record leaves a zero length where the record would start: the scan ends there. Whatever is
//! not zero after that point (the part of the record that was written, or records behind a
//! damaged length), and a length that runs past the end of the file, are damage: the scan
//! reports where it starts, and the records before it are good. A complete record that fails
//! its checksum or does not decode is damage too, but when the record after it is whole (or
//! only zeros follow) it is set aside alone and the scan goes on: one bad record never takes
//! the ones behind it down.
//!
//! Lengths are fixed-width, so a record whose topic, header names or header count do not fit
//! them can't be written: [`check`] says so before a record is taken at all.

use crate::message::MessageRef;

pub(super) const MAGIC: &[u8; 8] = b"KEVSPOOL";
pub(super) const FORMAT: u32 = 2;
pub(super) const FILE_HEADER: usize = 16;
const RECORD_HEADER: usize = 8;
const VERSION: u8 = 1;

/// The file header of a segment.
pub(super) fn file_header() -> [u8; FILE_HEADER] {
    let mut header = [0u8; FILE_HEADER];
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    header
}

/// Why `message` can't be written in this format, if it can't: a topic or a header name over
/// 65 535 bytes, more than 65 535 headers, or a key, value or payload over 4 GiB.
pub(crate) fn check(message: &MessageRef<'_>) -> Result<(), String> {
    const U16: usize = u16::MAX as usize;
    const U32: usize = u32::MAX as usize;
    if message.topic.len() > U16 {
        return Err(format!(
            "a topic name of {} bytes (at most {U16})",
            message.topic.len()
        ));
    }
    if message.headers.len() > U16 {
        return Err(format!("{} headers (at most {U16})", message.headers.len()));
    }
    if let Some((name, _)) = message.headers.iter().find(|(name, _)| name.len() > U16) {
        return Err(format!(
            "a header name of {} bytes (at most {U16})",
            name.len()
        ));
    }
    if message.key.len() > U32
        || message.payload.len() > U32
        || message.headers.iter().any(|(_, value)| value.len() > U32)
    {
        return Err(format!("a key, header value or payload over {U32} bytes"));
    }
    Ok(())
}

/// The bytes `message` takes in a segment, header included. `message` passed [`check`].
pub(super) fn encoded_len(message: &MessageRef<'_>) -> usize {
    RECORD_HEADER
        + 1
        + 2
        + message.topic.len()
        + 4
        + message.key.len()
        + 2
        + message
            .headers
            .iter()
            .map(|(name, value)| 2 + name.len() + 4 + value.len())
            .sum::<usize>()
        + 4
        + message.payload.len()
}

/// Writes `message` (which passed [`check`]) into `out`, which is exactly [`encoded_len`]
/// bytes: body first, then the checksum, then the length.
pub(super) fn encode_into(message: &MessageRef<'_>, out: &mut [u8]) {
    debug_assert_eq!(out.len(), encoded_len(message));
    debug_assert!(check(message).is_ok());
    let (header, body) = out.split_at_mut(RECORD_HEADER);
    let mut w = Writer { out: body, at: 0 };
    w.put(&[VERSION]);
    w.put(&(message.topic.len() as u16).to_le_bytes());
    w.put(message.topic.as_bytes());
    w.put(&(message.key.len() as u32).to_le_bytes());
    w.put(message.key);
    w.put(&(message.headers.len() as u16).to_le_bytes());
    for (name, value) in message.headers {
        w.put(&(name.len() as u16).to_le_bytes());
        w.put(name.as_bytes());
        w.put(&(value.len() as u32).to_le_bytes());
        w.put(value);
    }
    w.put(&(message.payload.len() as u32).to_le_bytes());
    w.put(message.payload);
    let crc = crc32fast::hash(body);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    header[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// A record found by [`scan`]: where its bytes are in the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub offset: usize,
    pub len: usize,
}

/// What is wrong where a scan stopped early, or with one record it set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DamageKind {
    /// The file is not a segment of this format.
    Header,
    /// A record's length runs past the end of the file, or was never written.
    Torn,
    /// A complete record fails its checksum or does not decode.
    Corrupt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Damage {
    pub offset: usize,
    pub kind: DamageKind,
}

#[derive(Default)]
pub(super) struct Scan {
    /// The good records, with their index in the segment (the order they were appended in).
    pub records: Vec<(u32, Span)>,
    /// Records set aside alone (a bad record with a whole one behind it), with their index.
    pub bad: Vec<(u32, Span)>,
    /// How many records the segment holds before `end`, good and bad.
    pub count: u32,
    /// Where the records end.
    pub end: usize,
    /// Damage from here to the end of the segment.
    pub damage: Option<Damage>,
}

/// Whether `bytes` start with a segment's file header, of this format.
pub(super) fn has_file_header(bytes: &[u8]) -> bool {
    bytes.len() >= FILE_HEADER && &bytes[..8] == MAGIC && bytes[8..12] == FORMAT.to_le_bytes()
}

/// Finds every record of a segment, in order: the good ones, the bad ones that can be set aside
/// alone, and where (if anywhere) damage begins that hides what comes after it.
pub(super) fn scan(bytes: &[u8]) -> Scan {
    if !has_file_header(bytes) {
        return Scan {
            damage: Some(Damage {
                offset: 0,
                kind: DamageKind::Header,
            }),
            ..Scan::default()
        };
    }
    scan_records(bytes, FILE_HEADER, 0)
}

/// Scans records that follow one another in `bytes` from its start, the first being record
/// `first` of its segment (a part of a segment read back, with no file header).
pub(super) fn scan_part(bytes: &[u8], first: u32) -> Scan {
    scan_records(bytes, 0, first)
}

fn scan_records(bytes: &[u8], mut offset: usize, first: u32) -> Scan {
    let mut scan = Scan::default();
    let damage = loop {
        let span = match at(bytes, offset) {
            Found::End => break None,
            Found::Torn => break Some(DamageKind::Torn),
            Found::Good(span) => {
                scan.records.push((first + scan.count, span));
                span
            }
            Found::Bad(span) => {
                // Its length is believed only when what follows it is whole.
                let next = span.offset + span.len;
                if !matches!(at(bytes, next), Found::Good(_) | Found::End) {
                    break Some(DamageKind::Corrupt);
                }
                scan.bad.push((first + scan.count, span));
                span
            }
        };
        scan.count += 1;
        offset = span.offset + span.len;
    };
    scan.end = offset;
    scan.damage = damage.map(|kind| Damage { offset, kind });
    scan
}

/// What is at `offset` of a segment.
enum Found {
    /// Only the zeros of the preallocated rest (or nothing) follow.
    End,
    /// A length that runs past the end, or a record whose writer died before writing its
    /// length.
    Torn,
    Good(Span),
    /// A complete record that fails its checksum or does not decode.
    Bad(Span),
}

fn at(bytes: &[u8], offset: usize) -> Found {
    let rest = bytes.get(offset..).unwrap_or_default();
    if rest.len() < RECORD_HEADER {
        // A tail shorter than a record header can only be zeros we preallocated, or a length cut
        // off mid-write.
        return if rest.iter().all(|b| *b == 0) {
            Found::End
        } else {
            Found::Torn
        };
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    if len == 0 {
        // The end of the records (written lengths are never zero), if only the zeros we
        // preallocated follow. Anything else is a record whose writer died before it wrote the
        // length, or a length that was damaged.
        return if rest.iter().all(|b| *b == 0) {
            Found::End
        } else {
            Found::Torn
        };
    }
    if rest.len() - RECORD_HEADER < len {
        return Found::Torn;
    }
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    let body = &rest[RECORD_HEADER..RECORD_HEADER + len];
    let span = Span {
        offset,
        len: RECORD_HEADER + len,
    };
    if crc32fast::hash(body) == crc && decode_with(body, |_, _| {}).is_some() {
        Found::Good(span)
    } else {
        Found::Bad(span)
    }
}

/// Decodes the record whose header and body are `record` (as [`Span`] gives them), its headers
/// appended to `headers` (a buffer replay uses again from record to record).
pub(super) fn decode_record_into<'a, 'h>(
    record: &'a [u8],
    headers: &'h mut Vec<(&'a str, &'a [u8])>,
) -> Option<MessageRef<'h>> {
    let start = headers.len();
    let parts = decode_with(record.get(RECORD_HEADER..)?, |name, value| {
        headers.push((name, value))
    })?;
    Some(MessageRef {
        topic: parts.topic,
        key: parts.key,
        payload: parts.payload,
        headers: &headers[start..],
    })
}

/// The topic and key of the record `record`, its headers not collected.
pub(super) fn decode_key(record: &[u8]) -> Option<(&str, &[u8])> {
    let parts = decode_with(record.get(RECORD_HEADER..)?, |_, _| {})?;
    Some((parts.topic, parts.key))
}

/// What a record body holds besides its headers.
struct Parts<'a> {
    topic: &'a str,
    key: &'a [u8],
    payload: &'a [u8],
}

/// Reads a record body, handing each header to `header` in order; `None` when `body` is not one
/// whole record of this format. The one reader of the format: checking a record, finding its
/// key and reading it all go through it.
fn decode_with<'a>(body: &'a [u8], mut header: impl FnMut(&'a str, &'a [u8])) -> Option<Parts<'a>> {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Some(head)
        }
        fn u16(&mut self) -> Option<usize> {
            Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize)
        }
        fn u32(&mut self) -> Option<usize> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
        }
        fn str(&mut self, len: usize) -> Option<&'a str> {
            std::str::from_utf8(self.take(len)?).ok()
        }
    }
    let mut r = Reader(body);
    if r.take(1)? != [VERSION] {
        return None;
    }
    let topic_len = r.u16()?;
    let topic = r.str(topic_len)?;
    let key_len = r.u32()?;
    let key = r.take(key_len)?;
    let header_count = r.u16()?;
    for _ in 0..header_count {
        let name_len = r.u16()?;
        let name = r.str(name_len)?;
        let value_len = r.u32()?;
        header(name, r.take(value_len)?);
    }
    let payload_len = r.u32()?;
    let payload = r.take(payload_len)?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Parts {
        topic,
        key,
        payload,
    })
}
