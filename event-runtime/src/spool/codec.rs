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
//! damaged length), a length that runs past the end of the file, and a body whose checksum fails
//! are damage: the scan reports where it starts, and the records before it are good.

use crate::message::{BorrowedRecord, MessageRef};

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

/// The bytes `message` takes in a segment, header included.
pub(super) fn encoded_len(message: &MessageRef<'_>) -> usize {
    RECORD_HEADER
        + 1
        + 2
        + clamp16(message.topic.len())
        + 4
        + message.key.len()
        + 2
        + message
            .headers
            .iter()
            .take(u16::MAX as usize)
            .map(|(name, value)| 2 + clamp16(name.len()) + 4 + value.len())
            .sum::<usize>()
        + 4
        + message.payload.len()
}

fn clamp16(len: usize) -> usize {
    len.min(u16::MAX as usize)
}

/// Writes `message` into `out`, which is exactly [`encoded_len`] bytes: body first, then the
/// checksum, then the length.
pub(super) fn encode_into(message: &MessageRef<'_>, out: &mut [u8]) {
    debug_assert_eq!(out.len(), encoded_len(message));
    let (header, body) = out.split_at_mut(RECORD_HEADER);
    let mut w = Writer { out: body, at: 0 };
    w.put(&[VERSION]);
    // Topic names are at most 249 bytes and header names are short; longer ones are cut rather
    // than let a length wrap around.
    let topic = &message.topic.as_bytes()[..clamp16(message.topic.len())];
    w.put(&(topic.len() as u16).to_le_bytes());
    w.put(topic);
    w.put(&(message.key.len() as u32).to_le_bytes());
    w.put(message.key);
    let headers = &message.headers[..message.headers.len().min(u16::MAX as usize)];
    w.put(&(headers.len() as u16).to_le_bytes());
    for (name, value) in headers {
        let name = &name.as_bytes()[..clamp16(name.len())];
        w.put(&(name.len() as u16).to_le_bytes());
        w.put(name);
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

/// What is wrong where a scan stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DamageKind {
    /// The file is not a segment of this format.
    Header,
    /// A record's length runs past the end of the file.
    Torn,
    /// A complete record fails its checksum or does not decode.
    Corrupt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Damage {
    pub offset: usize,
    pub kind: DamageKind,
}

pub(super) struct Scan {
    pub records: Vec<Span>,
    /// Where the good records end.
    pub end: usize,
    pub damage: Option<Damage>,
}

/// Finds every intact record of a segment, in order, and where (if anywhere) damage begins.
pub(super) fn scan(bytes: &[u8]) -> Scan {
    if bytes.len() < FILE_HEADER || &bytes[..8] != MAGIC || bytes[8..12] != FORMAT.to_le_bytes() {
        return Scan {
            records: Vec::new(),
            end: 0,
            damage: Some(Damage {
                offset: 0,
                kind: DamageKind::Header,
            }),
        };
    }
    let mut records = Vec::new();
    let mut offset = FILE_HEADER;
    let damage = loop {
        let rest = &bytes[offset..];
        if rest.len() < RECORD_HEADER {
            // A tail shorter than a record header can only be zeros we preallocated, or a
            // length cut off mid-write.
            break (!rest.iter().all(|b| *b == 0)).then_some(DamageKind::Torn);
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len == 0 {
            // The end of the records (written lengths are never zero), if only the zeros we
            // preallocated follow. Anything else is a record whose writer died before it wrote
            // the length, or a length that was damaged: either way, set it aside.
            break (!rest.iter().all(|b| *b == 0)).then_some(DamageKind::Torn);
        }
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if rest.len() - RECORD_HEADER < len {
            break Some(DamageKind::Torn);
        }
        let body = &rest[RECORD_HEADER..RECORD_HEADER + len];
        if crc32fast::hash(body) != crc || decode(body).is_none() {
            break Some(DamageKind::Corrupt);
        }
        records.push(Span {
            offset,
            len: RECORD_HEADER + len,
        });
        offset += RECORD_HEADER + len;
    };
    Scan {
        records,
        end: offset,
        damage: damage.map(|kind| Damage { offset, kind }),
    }
}

/// Decodes the record whose header and body are `record` (as [`Span`] gives them).
pub(super) fn decode_record(record: &[u8]) -> Option<BorrowedRecord<'_>> {
    decode(record.get(RECORD_HEADER..)?)
}

fn decode(body: &[u8]) -> Option<BorrowedRecord<'_>> {
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
    let mut headers = Vec::with_capacity(header_count.min(64));
    for _ in 0..header_count {
        let name_len = r.u16()?;
        let name = r.str(name_len)?;
        let value_len = r.u32()?;
        headers.push((name, r.take(value_len)?));
    }
    let payload_len = r.u32()?;
    let payload = r.take(payload_len)?;
    if !r.0.is_empty() {
        return None;
    }
    Some(BorrowedRecord {
        topic,
        key,
        headers,
        payload,
    })
}
