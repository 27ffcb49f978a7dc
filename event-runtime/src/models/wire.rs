//! The Go wire forms the models share: timestamps as chrono writes them (RFC 3339, UTC), and
//! Go's zero values for an unknown UUID or time.

/// RFC 3339 in UTC exactly as chrono's `Serialize` writes it (`SecondsFormat::AutoSi`, `Z`),
/// without going through `fmt`: timestamps are a large part of an event's serialization cost.
pub(super) mod rfc3339 {
    use chrono::{DateTime, Datelike, Timelike, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        let year = at.year();
        if !(0..=9999).contains(&year) {
            return serde::Serialize::serialize(at, serializer);
        }
        // A leap second shows as nanos past 1e9, as chrono writes it.
        let nanos = at.nanosecond();
        let mut buf = [0u8; 30];
        let mut put = |at: usize, value: u32, width: usize| {
            let mut value = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year as u32, 4);
        put(5, at.month(), 2);
        put(8, at.day(), 2);
        put(11, at.hour(), 2);
        put(14, at.minute(), 2);
        put(17, at.second() + nanos / 1_000_000_000, 2);
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
        let text = std::str::from_utf8(&buf[..=end]).expect("ASCII");
        serializer.serialize_str(text)
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
}

/// `Option<Uuid>` as Go's `uuid.UUID`: `None` is the zero UUID; the zero UUID, `null` and `""`
/// read as `None`.
pub(super) mod uuid_or_zero {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(id: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        id.unwrap_or(Uuid::nil()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Uuid>, D::Error> {
        let text: Option<std::borrow::Cow<'de, str>> = Option::deserialize(deserializer)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => {
                let id = Uuid::parse_str(text).map_err(serde::de::Error::custom)?;
                Ok((!id.is_nil()).then_some(id))
            }
        }
    }
}

/// `Option<DateTime<Utc>>` as Go's `time.Time`: `None` is Go's zero time,
/// `0001-01-01T00:00:00Z`, which reads back as `None` (as does `null`).
pub(super) mod time_or_zero {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    const ZERO: &str = "0001-01-01T00:00:00Z";

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::rfc3339::serialize(at, serializer),
            None => serializer.serialize_str(ZERO),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let at: Option<DateTime<Utc>> = Option::deserialize(deserializer)?;
        Ok(at.filter(|at| at.timestamp() != zero().timestamp()))
    }

    fn zero() -> DateTime<Utc> {
        ZERO.parse().expect("Go's zero time parses")
    }
}
