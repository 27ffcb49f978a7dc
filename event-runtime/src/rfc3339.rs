//! RFC 3339 in UTC exactly as chrono's `Serialize` writes it (`SecondsFormat::AutoSi`, `Z`),
//! without going through `fmt`: timestamps are a large part of an event's serialization cost.
//! The models' timestamps and the envelope's `timestamp` are written with it.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// `at` as a `serde` string.
pub(crate) fn serialize<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match format(at, &mut [0; 30]) {
        Some(text) => serializer.serialize_str(text),
        None => serde::Serialize::serialize(at, serializer),
    }
}

/// `at` written into `buf`; `None` outside the years 0 to 9999 (chrono writes those itself).
pub(crate) fn format<'b>(at: &DateTime<Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
    // Read once: each accessor of a `DateTime` converts to local time again.
    let (date, time) = (at.naive_utc().date(), at.naive_utc().time());
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    // A leap second shows as nanos past 1e9, as chrono writes it.
    let nanos = time.nanosecond();
    let mut put = |at: usize, value: u32, width: usize| {
        let mut value = value;
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, date.month(), 2);
    put(8, date.day(), 2);
    put(11, time.hour(), 2);
    put(14, time.minute(), 2);
    put(17, time.second() + nanos / 1_000_000_000, 2);
    let fraction = nanos % 1_000_000_000;
    let digits = if fraction == 0 {
        0
    } else if fraction.is_multiple_of(1_000_000) {
        3
    } else if fraction.is_multiple_of(1_000) {
        6
    } else {
        9
    };
    if digits > 0 {
        put(20, fraction / 10u32.pow(9 - digits as u32), digits);
    }
    for (i, b) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        buf[i] = b;
    }
    let end = if digits > 0 { 20 + digits } else { 19 };
    buf[end] = b'Z';
    Some(std::str::from_utf8(&buf[..=end]).expect("ASCII"))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    #[derive(serde::Serialize)]
    struct Fast(#[serde(serialize_with = "super::serialize")] DateTime<Utc>);

    proptest! {
        #[test]
        fn writes_what_chrono_writes(secs in -62_135_596_800i64..253_402_300_799, nanos in prop_oneof![
            Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000), (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..1_999_999_999
        ]) {
            let Some(at) = Utc.timestamp_opt(secs, nanos).single() else { return Ok(()) };
            let ours = serde_json::to_string(&Fast(at)).unwrap();
            let chrono = serde_json::to_string(&at).unwrap();
            prop_assert_eq!(ours, chrono);
        }
    }

    #[test]
    fn outside_four_digit_years_falls_back() {
        let far = DateTime::<Utc>::from_timestamp(300_000_000_000, 0).unwrap();
        assert_eq!(
            serde_json::to_string(&Fast(far)).unwrap(),
            serde_json::to_string(&far).unwrap()
        );
    }
}
