//! `#[event(fast_json)]` writes the same bytes as the derived `Serialize` through `serde_json`
//! (with `#[event(redact)]` fields masked), for generated values of every shape it handles:
//! strings with escapes and non-ASCII text, every integer width, floats (NaN and the infinities
//! included), UUIDs, raw JSON, options, lists, pointers, `skip`, `skip_serializing_if` (first,
//! middle and last), `rename`, `rename_all`, a `tag`, `with` and `serialize_with`, and values it
//! hands to serde (maps, nested structs, enums, tuples, `serde_json::Value`); and for the three
//! models, whose records the Go consumers read.

#[path = "support/models.rs"]
mod models;

use std::borrow::Cow;
use std::collections::BTreeMap;

use kafka_events::{KafkaEvent, Message};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

/// The event's record payload through serde (`fast_json` off) and through the generated
/// writer: the same bytes.
fn same<Fast: KafkaEvent, Slow: KafkaEvent>(fast: &Fast, slow: &Slow) -> Result<(), TestCaseError> {
    let (mut ours, mut serde) = (Vec::new(), Vec::new());
    fast.write_json(&mut ours).unwrap();
    slow.write_json(&mut serde).unwrap();
    prop_assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(serde).unwrap()
    );
    Ok(())
}

macro_rules! nest {
    () => { Just(()) };
    ($head:expr $(, $tail:expr)*) => { ($head, nest!($($tail),*)) };
}

macro_rules! nest_pattern {
    () => { () };
    ($head:ident $(, $tail:ident)*) => { ($head, nest_pattern!($($tail),*)) };
}

/// Declares an event twice, with and without `fast_json`, and the conversion between them.
macro_rules! twins {
    (
        $(#[$attr:meta])*
        struct $fast:ident / $slow:ident {
            $($(#[$field_attr:meta])* $field:ident: $ty:ty = $strategy:expr,)*
        }
    ) => {
        #[derive(Serialize, KafkaEvent, Debug, Clone)]
        #[event(fast_json)]
        $(#[$attr])*
        struct $fast {
            $($(#[$field_attr])* $field: $ty,)*
        }

        #[derive(Serialize, KafkaEvent, Debug, Clone)]
        $(#[$attr])*
        struct $slow {
            $($(#[$field_attr])* $field: $ty,)*
        }

        impl $fast {
            fn strategy() -> impl Strategy<Value = $fast> {
                // Nested pairs: proptest's tuples stop at twelve.
                nest!($($strategy),*).prop_map(|nest_pattern!($($field),*)| $fast { $($field,)* })
            }

            fn twin(&self) -> $slow {
                let this = self.clone();
                $slow { $($field: this.$field,)* }
            }
        }
    };
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,40}",
        "[\\x00-\\x7f]{0,40}",
        "[\"\\\\\\x00-\\x1f\\x7f a-z/\u{e9}\u{2028}\u{1F600}]{0,24}",
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e21),
        Just(1e-7),
        Just(f64::MIN_POSITIVE),
        any::<i32>().prop_map(f64::from),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn raw() -> impl Strategy<Value = Box<RawValue>> {
    json().prop_map(|value| serde_json::value::to_raw_value(&value).unwrap())
}

#[derive(Serialize, Debug, Clone)]
struct Nested {
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<String>,
    list: Vec<f32>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Unit,
    Newtype(i32),
    Struct { a: Option<f64>, b: Vec<u8> },
}

/// Written through a function, as users write custom serializers.
mod upper {
    pub fn serialize<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text.to_uppercase())
    }
}

fn bytes_as_list<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(bytes)
}

fn nested() -> impl Strategy<Value = Nested> {
    (
        prop::option::of(text()),
        prop::collection::vec(any::<f32>(), 0..3),
    )
        .prop_map(|(maybe, list)| Nested { maybe, list })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Unit),
        any::<i32>().prop_map(Kind::Newtype),
        (
            prop::option::of(float()),
            prop::collection::vec(any::<u8>(), 0..3)
        )
            .prop_map(|(a, b)| Kind::Struct { a, b }),
    ]
}

twins! {
    #[allow(dead_code)]
    #[event(topic = "everything", key = "id")]
    struct Everything / EverythingSerde {
        id: u64 = any::<u64>(),
        text: String = text(),
        ch: char = any::<char>(),
        flag: bool = any::<bool>(),
        tiny: i8 = any::<i8>(),
        small: u16 = any::<u16>(),
        middle: i32 = any::<i32>(),
        wide: u128 = any::<u128>(),
        signed_wide: i128 = any::<i128>(),
        size: usize = any::<usize>(),
        signed_size: isize = any::<isize>(),
        float: f64 = float(),
        single: f32 = any::<f32>(),
        uuid: Uuid = uuid(),
        maybe_uuid: Option<Uuid> = prop::option::of(uuid()),
        maybe_text: Option<String> = prop::option::of(text()),
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped_when_none: Option<u32> = prop::option::of(any::<u32>()),
        #[serde(rename = "renamed_list")]
        list: Vec<String> = prop::collection::vec(text(), 0..4),
        floats: Vec<f64> = prop::collection::vec(float(), 0..4),
        nested_lists: Vec<Vec<i64>> = prop::collection::vec(prop::collection::vec(any::<i64>(), 0..3), 0..3),
        array: [u8; 3] = any::<[u8; 3]>(),
        boxed: Box<str> = text().prop_map(String::into_boxed_str),
        cow: Cow<'static, str> = text().prop_map(Cow::Owned),
        raw: Option<Box<RawValue>> = prop::option::of(raw()),
        value: Value = json(),
        map: BTreeMap<String, i32> = prop::collection::btree_map(text(), any::<i32>(), 0..3),
        nested: Nested = nested(),
        kind: Kind = kind(),
        tuple: (u16, String) = (any::<u16>(), text()),
        unit: () = Just(()),
        #[serde(with = "upper")]
        shouted: String = text(),
        #[serde(serialize_with = "bytes_as_list")]
        bytes: Vec<u8> = prop::collection::vec(any::<u8>(), 0..4),
        #[serde(skip)]
        never: String = text(),
        #[serde(skip_serializing)]
        not_written: u8 = any::<u8>(),
        #[event(redact)]
        secret_note: String = text(),
        #[serde(skip_serializing_if = "Vec::is_empty")]
        last_when_any: Vec<u8> = prop::collection::vec(any::<u8>(), 0..2),
    }
}

twins! {
    // Fields that may be skipped come first: the commas are known at run time only.
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    #[event(topic = "sparse", key = "entity_id", naming = "camelCase")]
    struct Sparse / SparseSerde {
        #[serde(skip)]
        hidden: u8 = any::<u8>(),
        #[serde(skip_serializing_if = "Option::is_none")]
        first_maybe: Option<String> = prop::option::of(text()),
        #[serde(skip_serializing_if = "Option::is_none")]
        second_maybe: Option<f64> = prop::option::of(float()),
        #[event(redact)]
        #[serde(skip_serializing_if = "String::is_empty")]
        api_token: String = prop_oneof![Just(String::new()), text()],
        entity_id: u32 = any::<u32>(),
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<bool> = prop::option::of(any::<bool>()),
    }
}

twins! {
    // Only fields that may be skipped (besides the key, last).
    #[serde(tag = "kind", rename = "Tagged")]
    #[event(topic = "tagged", key = "id")]
    struct Tagged / TaggedSerde {
        #[serde(skip_serializing_if = "Option::is_none")]
        maybe: Option<String> = prop::option::of(text()),
        id: Uuid = uuid(),
    }
}

/// Runs a property with `cases` generated values on a thread with room for the deep
/// strategies above (a debug build nests them beyond the test thread's stack).
fn check<S: Strategy>(
    cases: u32,
    strategy: impl FnOnce() -> S + Send + 'static,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
            if let Err(failure) = runner.run(&strategy(), test) {
                panic!("{failure}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn every_shape_is_written_as_serde_json_writes_it() {
    check(512, Everything::strategy, |event| {
        same(&event, &event.twin())
    });
}

#[test]
fn commas_are_right_when_leading_fields_are_skipped() {
    check(512, Sparse::strategy, |event| same(&event, &event.twin()));
}

#[test]
fn a_tag_comes_first() {
    check(64, Tagged::strategy, |event| same(&event, &event.twin()));
}

#[test]
fn audit_entries_are_written_as_serde_json_writes_them() {
    check(512, models::audit_entry, |entry| {
        prop_assert_eq!(fast_text(&entry), serde_text(&entry));
        Ok(())
    });
}

#[test]
fn auth_events_are_written_as_serde_json_writes_them() {
    check(512, models::auth_event, |event| {
        prop_assert_eq!(fast_text(&event), serde_text(&event));
        Ok(())
    });
}

#[test]
fn usage_events_are_written_as_serde_json_writes_them() {
    check(512, models::usage_event, |event| {
        prop_assert_eq!(fast_text(&event), serde_text(&event));
        Ok(())
    });
}

/// Any instant chrono holds: years past 9999 and before 0 (written by chrono itself), the edges
/// of the years 0 and 10000, and leap seconds.
fn any_time() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    // Whole seconds, milliseconds and microseconds too: each writes its own number of digits.
    let nanos = prop_oneof![
        Just(0u32),
        (0u32..1000).prop_map(|n| n * 1_000_000),
        (0u32..1_000_000).prop_map(|n| n * 1000),
        0u32..1_000_000_000,
    ];
    prop_oneof![
        (-8_000_000_000_000i64..8_000_000_000_000, nanos),
        (
            (-10_000_000i64..10_000_000).prop_map(|minute| minute * 60 + 59),
            1_000_000_000u32..2_000_000_000
        ),
        (-62_167_219_300i64..-62_167_219_100, 0u32..1_000_000_000),
        (253_402_300_700i64..253_402_300_900, 0u32..1_000_000_000),
    ]
    .prop_filter_map("an instant chrono holds", |(secs, nanos)| {
        chrono::Utc.timestamp_opt(secs, nanos).single()
    })
}

/// The models' timestamps (`#[event(write_json_with)]`) in any year.
#[test]
fn the_models_timestamps_are_written_as_serde_json_writes_them_in_any_year() {
    let strategy = || {
        (
            models::audit_entry(),
            models::auth_event(),
            models::usage_event(),
            any_time(),
            any::<bool>(),
        )
    };
    check(
        1024,
        strategy,
        |(mut audit, mut auth, mut usage, at, zero)| {
            audit.timestamp = at;
            auth.timestamp = at;
            usage.start_timestamp = at;
            usage.end_timestamp = at;
            usage.timestamp = at;
            usage.created_at = (!zero).then_some(at);
            prop_assert_eq!(fast_text(&audit), serde_text(&audit));
            prop_assert_eq!(fast_text(&auth), serde_text(&auth));
            prop_assert_eq!(fast_text(&usage), serde_text(&usage));
            Ok(())
        },
    );
}

/// A field's `write_json_with` function writes it, in place of its `Serialize`.
#[test]
fn a_fields_write_json_with_function_writes_it() {
    use std::cell::Cell;

    thread_local!(static WRITTEN: Cell<u32> = const { Cell::new(0) });

    fn cents(value: &u64, out: &mut Vec<u8>) {
        WRITTEN.with(|written| written.set(written.get() + 1));
        out.extend_from_slice(value.to_string().as_bytes());
    }

    #[derive(Serialize, KafkaEvent)]
    #[event(topic = "payments", key = "id", fast_json)]
    struct Payment {
        id: u64,
        #[event(write_json_with = "cents")]
        amount: u64,
    }

    let payment = Payment {
        id: 7,
        amount: 1250,
    };
    assert_eq!(fast_text(&payment), r#"{"id":7,"amount":1250}"#);
    assert_eq!(
        fast_text(&payment),
        serde_json::to_string(&payment).unwrap()
    );
    assert_eq!(WRITTEN.with(Cell::get), 2);
}

/// The models have no twin: their flat JSON through serde is their `Serialize` impl (the
/// models redact nothing).
fn serde_text<E: KafkaEvent>(event: &E) -> String {
    assert!(E::REDACTED.is_empty());
    serde_json::to_string(event).unwrap()
}

fn fast_text<E: KafkaEvent>(event: &E) -> String {
    let mut out = Vec::new();
    event.write_json(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn records_carry_the_generated_bytes() {
    let event = Sparse {
        hidden: 1,
        first_maybe: None,
        second_maybe: Some(0.5),
        api_token: "tok_live_1".into(),
        entity_id: 7,
        after: None,
    };
    let message = Message::from_event(&event).unwrap();
    assert_eq!(
        message.payload,
        br#"{"secondMaybe":0.5,"apiToken":"***","entityId":7}"#
    );
    let mut masked = Vec::new();
    kafka_events::masked_json(&event, &mut masked).unwrap();
    assert_eq!(masked, message.payload);
}

/// The generated writer writes the fields the derive sees, not what a hand-written `Serialize`
/// would: why `fast_json` is for a derived `Serialize` only (and the proof that it is the
/// generated writer the property tests above compare).
#[test]
fn the_generated_writer_is_what_a_fast_json_event_sends() {
    #[derive(KafkaEvent)]
    #[event(topic = "orders", key = "id", fast_json)]
    struct HandWritten {
        id: u64,
    }

    impl Serialize for HandWritten {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str("hand-written")
        }
    }

    let event = HandWritten { id: 7 };
    assert_eq!(serde_json::to_string(&event).unwrap(), r#""hand-written""#);
    assert_eq!(fast_text(&event), r#"{"id":7}"#);
    assert_eq!(Message::from_event(&event).unwrap().payload, br#"{"id":7}"#);
}

/// A value whose `Serialize` can run once (it takes what it writes), and one that counts its
/// runs: the generated writer serializes each field once, as `serde_json` does.
#[test]
fn each_value_is_serialized_once() {
    use std::cell::{Cell, RefCell};

    struct Once(RefCell<Option<Vec<u32>>>);
    impl Serialize for Once {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let items = self.0.borrow_mut().take().expect("serialized once");
            serializer.collect_seq(items)
        }
    }

    struct Counted(Cell<u32>);
    impl Serialize for Counted {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.0.set(self.0.get() + 1);
            serializer.serialize_u32(7)
        }
    }

    fn count<S: serde::Serializer>(counted: &Counted, serializer: S) -> Result<S::Ok, S::Error> {
        counted.serialize(serializer)
    }

    #[derive(Serialize, KafkaEvent)]
    #[event(topic = "once", key = "id", fast_json)]
    struct Event {
        id: u64,
        items: Once,
        counted: Counted,
        #[serde(serialize_with = "count")]
        through_a_function: Counted,
    }

    let event = || Event {
        id: 1,
        items: Once(RefCell::new(Some(vec![1, 2, 3]))),
        counted: Counted(Cell::new(0)),
        through_a_function: Counted(Cell::new(0)),
    };
    let fast = event();
    let written = fast_text(&fast);
    assert_eq!(written, serde_json::to_string(&event()).unwrap());
    assert_eq!(
        written,
        r#"{"id":1,"items":[1,2,3],"counted":7,"through_a_function":7}"#
    );
    assert_eq!(
        (fast.counted.0.get(), fast.through_a_function.0.get()),
        (1, 1)
    );
}

/// Functions named like the generated writer's own variables are the user's.
#[test]
fn the_generated_writer_does_not_hide_the_users_names() {
    fn first(value: &Option<u8>) -> bool {
        value.is_none()
    }

    fn out<S: serde::Serializer>(value: &u8, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(value + 1)
    }

    #[derive(Serialize, KafkaEvent)]
    #[event(topic = "names", key = "id", fast_json)]
    struct Event {
        #[serde(skip_serializing_if = "first")]
        maybe: Option<u8>,
        #[serde(serialize_with = "out")]
        id: u8,
    }

    for event in [
        Event { maybe: None, id: 1 },
        Event {
            maybe: Some(3),
            id: 1,
        },
    ] {
        assert_eq!(fast_text(&event), serde_json::to_string(&event).unwrap());
    }
}
