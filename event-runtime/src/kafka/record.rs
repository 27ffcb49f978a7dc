//! librdkafka's view of a record: building one from a [`MessageRef`], reading one back from a
//! delivery report, the size librdkafka checks, and the delivery opaque that says where a
//! record came from.

use rdkafka::message::{BorrowedMessage, Headers, Message as _, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use super::fate::Origin;
use crate::message::{BorrowedRecord, MessageRef};
use crate::spool::Position;

// The delivery opaque packs a tag and a 62-bit value into a `usize`.
const _: () = assert!(
    usize::BITS == 64,
    "kafka-events' rdkafka backend needs a 64-bit target"
);

/// Where a record came from, carried through librdkafka as the delivery opaque: a plain integer,
/// so a detached send allocates nothing for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    /// From `emit_detached`, held in memory only: its place in the order detached records
    /// were handed over (the low 32 bits of [`Shared::direct_sending`]'s count), which puts
    /// records that come back from librdkafka out of order (a purge reports a queued batch
    /// ahead of older records waiting for a retry) back in order; and when it was handed
    /// over, in [`ticks`] (a record's own timestamp can't serve for latency: a broker may
    /// replace it with its log-append time).
    ///
    /// [`Shared::direct_sending`]: super::shared::Shared::direct_sending
    Detached { seq: u32, at: u32 },
    /// From an awaited `emit`: the id of its waiter.
    Awaited(u64),
    /// From the spool: written ahead, or replayed. Its segment id travels as its low 30 bits;
    /// a spool would need a billion segments (a petabyte) before two live ones shared them.
    Spooled(Position),
}

const KIND_SHIFT: u32 = 62;
const LOW: u64 = (1 << KIND_SHIFT) - 1;
const SEGMENT_BITS: u32 = 30;
/// A detached record's hand-over time takes the 30 bits below its sequence number.
const TICK_BITS: u32 = 30;
const TICK_MASK: u64 = (1 << TICK_BITS) - 1;
/// A tick is 16 µs: 30 bits of them wrap after 4.7 hours. A record delivered later than that
/// after its hand-over (a delivery timeout that long, through an outage without a spool) has
/// its latency counted short, modulo 4.7 hours.
const TICK_MICROS: u64 = 16;

impl Tag {
    pub fn encode(self) -> usize {
        let raw = match self {
            Tag::Detached { seq, at } => {
                (u64::from(seq) << TICK_BITS) | (u64::from(at) & TICK_MASK)
            }
            Tag::Awaited(id) => (1 << KIND_SHIFT) | (id & LOW),
            Tag::Spooled(position) => {
                let segment = position.segment & ((1 << SEGMENT_BITS) - 1);
                (2 << KIND_SHIFT) | (segment << 32) | u64::from(position.index)
            }
        };
        raw as usize
    }

    /// The tag of an opaque; a spooled record's segment id comes back as its low 30 bits,
    /// which the spool resolves.
    pub fn decode(raw: usize) -> Tag {
        let raw = raw as u64;
        let low = raw & LOW;
        match raw >> KIND_SHIFT {
            1 => Tag::Awaited(low),
            2 => Tag::Spooled(Position {
                segment: low >> 32,
                index: low as u32,
            }),
            _ => Tag::Detached {
                seq: (low >> TICK_BITS) as u32,
                at: (low & TICK_MASK) as u32,
            },
        }
    }
}

impl Tag {
    /// Where the record came from, for its fate; `waiting`: whether an awaited emit's caller
    /// still waits.
    pub fn origin(self, waiting: bool) -> Origin {
        match self {
            Tag::Detached { .. } => Origin::Detached,
            Tag::Awaited(_) => Origin::Awaited { waiting },
            Tag::Spooled(_) => Origin::Spooled,
        }
    }
}

/// Now, in the ticks a detached record's tag carries (they wrap).
pub(super) fn ticks() -> u32 {
    ((now_micros() / TICK_MICROS) & TICK_MASK) as u32
}

/// Microseconds since `at` (in [`ticks`]), for a record handed over less than 4.7 hours ago.
pub(super) fn micros_since(at: u32) -> u64 {
    micros_between(at, ticks())
}

fn micros_between(at: u32, now: u32) -> u64 {
    (u64::from(now).wrapping_sub(u64::from(at)) & TICK_MASK) * TICK_MICROS
}

/// Microseconds since the first call in this process.
pub(super) fn now_micros() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}

/// The librdkafka record for `message`, which must name its physical topic.
pub(super) fn base_record<'a>(
    message: &MessageRef<'a>,
    tag: Tag,
) -> BaseRecord<'a, [u8], [u8], usize> {
    BaseRecord::with_opaque_to(message.topic, tag.encode())
        .key(message.key)
        .payload(message.payload)
        .headers(owned_headers(message.headers.iter().copied()))
}

/// The bytes of a record librdkafka holds, as counted in `queue_bytes`: its key and payload.
/// Headers are left out: a delivery report would have to walk them, memory librdkafka wrote
/// long before (a cache miss per header, the largest cost of a report), and librdkafka's own
/// `queue.buffering.max.kbytes` counts payloads alone.
pub(super) fn record_bytes(message: &MessageRef<'_>) -> u64 {
    (message.key.len() + message.payload.len()) as u64
}

/// The same for a record librdkafka reports.
pub(super) fn reported_bytes(message: &BorrowedMessage<'_>) -> u64 {
    (message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len)) as u64
}

pub(super) fn owned_headers<'a>(
    headers: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
) -> OwnedHeaders {
    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
    for (key, value) in headers {
        owned = owned.insert(rdkafka::message::Header {
            key,
            value: Some(value),
        });
    }
    owned
}

/// The parts of a record librdkafka hands back in a delivery report.
pub(super) fn returned<'a>(message: &'a BorrowedMessage<'a>) -> BorrowedRecord<'a> {
    BorrowedRecord {
        topic: message.topic(),
        key: message.key().unwrap_or_default(),
        payload: message.payload().unwrap_or_default(),
        headers: message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key, h.value.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The size librdkafka compares with `message.max.bytes` before it takes a record: key, value,
/// headers and the largest per-record overhead of the v2 format.
pub(super) fn wire_size(message: &MessageRef<'_>) -> usize {
    // RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD
    const OVERHEAD: usize = 36;
    OVERHEAD
        + message.key.len()
        + message.payload.len()
        + message
            .headers
            .iter()
            .map(|(name, value)| {
                name.len() + value.len() + varint_len(name.len()) + varint_len(value.len())
            })
            .sum::<usize>()
}

/// The length of a zig-zag varint, as Kafka writes header lengths.
fn varint_len(n: usize) -> usize {
    let zigzag = (n as u64) << 1;
    (64 - zigzag.leading_zeros() as usize).div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hand-over adds is what the report takes away, and neither reads the headers
    /// (a report would walk librdkafka's copies of them, memory written long before).
    #[test]
    fn a_records_bytes_are_its_key_and_payload() {
        let headers = [
            ("content-type", &b"application/json"[..]),
            ("event-type", b"audit.log"),
        ];
        let message = MessageRef {
            topic: "audit",
            key: b"4bf92f35",
            payload: br#"{"id":1}"#,
            headers: &headers,
        };
        assert_eq!(record_bytes(&message), 8 + 8);
    }

    #[test]
    fn tags_round_trip() {
        for tag in [
            Tag::Detached { seq: 7, at: 0 },
            Tag::Detached {
                seq: u32::MAX,
                at: TICK_MASK as u32,
            },
            Tag::Awaited(0),
            Tag::Awaited(12345),
            Tag::Spooled(Position {
                segment: 1,
                index: 0,
            }),
            Tag::Spooled(Position {
                segment: (1 << 30) - 1,
                index: u32::MAX,
            }),
        ] {
            assert_eq!(Tag::decode(tag.encode()), tag);
        }
    }

    #[test]
    fn a_detached_records_latency_survives_the_ticks_wrapping() {
        assert_eq!(micros_between(5, 9), 4 * TICK_MICROS);
        // Handed over just before the ticks wrapped, and reported just after.
        assert_eq!(micros_between(TICK_MASK as u32 - 1, 2), 4 * TICK_MICROS);
        assert!(micros_since(ticks()) < 60_000_000);
    }

    #[test]
    fn varints() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(63), 1);
        assert_eq!(varint_len(64), 2);
        assert_eq!(varint_len(8191), 2);
        assert_eq!(varint_len(8192), 3);
    }
}
