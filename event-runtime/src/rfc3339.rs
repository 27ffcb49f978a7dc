//! RFC 3339 in UTC exactly as chrono's `Serialize` writes it (`SecondsFormat::AutoSi`, `Z`),
//! without going through `fmt`: timestamps are a large part of an event's serialization cost.
//! The models' timestamps and the envelope's `timestamp` are written with it.

use chrono::{DateTime, Utc};
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
    let len = write(at, buf)?;
    Some(std::str::from_utf8(&buf[..len]).expect("ASCII"))
}

/// `at` as a JSON string, appended to `out`: the bytes `serde_json` writes for
/// [`serialize`] (`#[event(write_json_with)]` of the models' timestamps).
pub(crate) fn write_json(at: &DateTime<Utc>, out: &mut Vec<u8>) {
    let mut buf = [0; 30];
    match write(at, &mut buf) {
        // Digits and separators: nothing to escape.
        Some(len) => {
            out.push(b'"');
            out.extend_from_slice(&buf[..len]);
            out.push(b'"');
        }
        None => crate::json::serialize_with(out, |writer| serialize(at, writer))
            .expect("writing a timestamp into a Vec"),
    }
}

/// `at` written into `buf`, its length returned; `None` outside the years 0 to 9999.
fn write(at: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    // From the seconds since the epoch, not chrono's calendar accessors: those convert the date
    // anew at each call, and cost more than the rest of this function.
    let secs = at.timestamp();
    if !(YEAR_0..YEAR_10000).contains(&secs) {
        return None;
    }
    let (days, time) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    let (year, month, day) = civil(days);
    // A leap second shows as nanos past 1e9, as chrono writes it.
    let nanos = at.timestamp_subsec_nanos();
    // Two digits at a time.
    let mut put = |at: usize, value: u32, width: usize| {
        let (mut value, mut end) = (value, at + width);
        while end >= at + 2 {
            let pair = 2 * (value % 100) as usize;
            buf[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
            value /= 100;
            end -= 2;
        }
        if end > at {
            buf[at] = b'0' + (value % 10) as u8;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, time / 3600, 2);
    put(14, time / 60 % 60, 2);
    put(17, time % 60 + nanos / 1_000_000_000, 2);
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
    Some(end + 1)
}

/// `00` to `99`, two bytes each.
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `0000-01-01T00:00:00Z` and `10000-01-01T00:00:00Z`, in seconds since the epoch.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_10000: i64 = 253_402_300_800;

/// The proleptic Gregorian date (year, month, day) `days` after 1970-01-01, for the years 0 to
/// 9999: Howard Hinnant's `civil_from_days`, in eras of 400 years counted from -0400-03-01 (so
/// that January and February of the year 0 are not before the first era).
fn civil(days: i64) -> (u32, u32, u32) {
    // Days since -0400-03-01: positive in the years taken.
    let z = (days + 719_468 + 146_097) as u32;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March.
    let m = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * m + 2) / 5 + 1;
    let month = if m < 10 { m + 3 } else { m - 9 };
    let year = year_of_era + era * 400 + u32::from(month <= 2) - 400;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    #[derive(serde::Serialize)]
    struct Fast(#[serde(serialize_with = "super::serialize")] DateTime<Utc>);

    proptest! {
        #[test]
        fn writes_what_chrono_writes(secs in -62_200_000_000i64..253_500_000_000, nanos in prop_oneof![
            Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000), (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..1_999_999_999
        ]) {
            let Some(at) = Utc.timestamp_opt(secs, nanos).single() else { return Ok(()) };
            let ours = serde_json::to_string(&Fast(at)).unwrap();
            let chrono = serde_json::to_string(&at).unwrap();
            prop_assert_eq!(ours, chrono);
        }
    }

    /// The first and last instants of the years written here, and the days around a leap
    /// year's February and the epoch.
    #[test]
    fn edges_of_the_range_and_of_the_calendar() {
        for secs in [
            super::YEAR_0 - 1,
            super::YEAR_0,
            super::YEAR_10000 - 1,
            super::YEAR_10000,
            -62_162_121_600, // 0000-02-29
            -62_162_035_200, // 0000-03-01, where the years 0 to 399 start an era
            -1,
            0,
            951_782_400,   // 2000-02-29
            951_868_800,   // 2000-03-01
            4_107_456_000, // 2100-02-28
            4_107_542_400, // 2100-03-01
        ] {
            for nanos in [0, 120_000_000, 123_456_000, 999_999_999, 1_500_000_000] {
                // A leap second only at the end of a minute.
                let Some(at) = Utc.timestamp_opt(secs, nanos).single() else {
                    continue;
                };
                assert_eq!(
                    serde_json::to_string(&Fast(at)).unwrap(),
                    serde_json::to_string(&at).unwrap(),
                    "{secs} {nanos}"
                );
            }
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
