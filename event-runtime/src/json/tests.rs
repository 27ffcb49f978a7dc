//! Byte-for-byte parity with `serde_json::to_vec`: the writer over generated values of every
//! kind serde has, and each value `WriteJson` writes.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::Serialize;

use super::writer::write_value;

fn ours<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value).unwrap();
    out
}

fn same<T: Serialize + ?Sized>(value: &T) -> Result<(), TestCaseError> {
    let (ours, theirs) = (ours(value), serde_json::to_vec(value).unwrap());
    prop_assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    Ok(())
}

#[derive(Serialize, Clone, Debug)]
enum Kind {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: Option<f64>, b: Vec<u8> },
    EmptyTuple(),
    EmptyStruct {},
}

#[derive(Serialize, Clone, Debug)]
#[serde(tag = "kind")]
enum Tagged {
    A { x: i64 },
    B,
}

#[derive(Serialize, Clone, Debug)]
struct Inner {
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe: Option<String>,
    list: Vec<f32>,
}

#[derive(Serialize, Clone, Debug)]
struct Everything {
    text: String,
    ch: char,
    flag: bool,
    small: i8,
    big: u64,
    huge: i128,
    float: f64,
    single: f32,
    unit: (),
    tuple: (u16, String),
    kinds: Vec<Kind>,
    tagged: Tagged,
    map: BTreeMap<String, i32>,
    int_keys: BTreeMap<i64, bool>,
    bool_keys: BTreeMap<bool, ()>,
    char_keys: BTreeMap<char, u8>,
    #[serde(flatten)]
    inner: Inner,
    #[serde(with = "serde_bytes_like")]
    bytes: Vec<u8>,
    raw: Option<Box<serde_json::value::RawValue>>,
    value: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    empty: Vec<String>,
    empty_map: HashMap<String, String>,
}

/// Bytes through `serialize_bytes`, as `serde_bytes` writes them.
mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(1e21),
        Just(1e-7),
        Just(12.0),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(?s).{0,40}",
        "[\\x00-\\x7f]{0,40}",
        "[\"\\\\/\\x00-\\x1f\\x7f a-zé😀]{0,30}",
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        float().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Unit),
        any::<i32>().prop_map(Kind::Newtype),
        (any::<u8>(), text()).prop_map(|(a, b)| Kind::Tuple(a, b)),
        (
            prop::option::of(float()),
            prop::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(a, b)| Kind::Struct { a, b }),
        Just(Kind::EmptyTuple()),
        Just(Kind::EmptyStruct {}),
    ]
}

prop_compose! {
    fn everything()(
        text in text(), ch in any::<char>(), flag in any::<bool>(), small in any::<i8>(),
        big in any::<u64>(), huge in any::<i128>(), float in float(), single in any::<f32>(),
        tuple in (any::<u16>(), text()), kinds in prop::collection::vec(kind(), 0..4),
        x in prop::option::of(any::<i64>()),
        map in prop::collection::btree_map(text(), any::<i32>(), 0..4),
        int_keys in prop::collection::btree_map(any::<i64>(), any::<bool>(), 0..3),
        bool_keys in prop::collection::btree_map(any::<bool>(), Just(()), 0..2),
        char_keys in prop::collection::btree_map(any::<char>(), any::<u8>(), 0..3),
        maybe in prop::option::of(text()), list in prop::collection::vec(any::<f32>(), 0..3),
        bytes in prop::collection::vec(any::<u8>(), 0..5),
        raw in prop::option::of(json_value()), value in json_value(),
        empty in prop::collection::vec(text(), 0..2),
    ) -> Everything {
        Everything {
            text, ch, flag, small, big, huge, float, single, unit: (), tuple, kinds,
            tagged: match x { Some(x) => Tagged::A { x }, None => Tagged::B },
            map, int_keys, bool_keys, char_keys,
            inner: Inner { maybe, list },
            bytes,
            raw: raw.map(|v| serde_json::value::to_raw_value(&v).unwrap()),
            value, empty, empty_map: HashMap::new(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it(value in everything()) {
        same(&value)?;
    }

    #[test]
    fn json_values_are_written_as_serde_json_writes_them(value in json_value()) {
        same(&value)?;
    }

    #[test]
    fn floats_are_written_as_serde_json_writes_them(value in float(), single in any::<f32>()) {
        same(&value)?;
        same(&single)?;
        same(&BTreeMap::from([(value.to_bits(), value)]))?;
    }
}

#[test]
fn what_serde_json_refuses_is_refused() {
    let float_keys = BTreeMap::from([(vec![1u8], 1)]);
    assert!(serde_json::to_vec(&float_keys).is_err());
    assert!(write_value(&mut Vec::new(), &float_keys).is_err());
    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Key {
        a: u8,
    }
    let struct_keys = BTreeMap::from([(Key { a: 1 }, 1)]);
    assert!(serde_json::to_vec(&struct_keys).is_err());
    assert!(write_value(&mut Vec::new(), &struct_keys).is_err());
}

/// What `WriteJson` writes, and the writer after other bytes in the buffer.
mod direct {
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::Value;
    use uuid::Uuid;

    use super::super::value::WriteJson;
    use super::super::writer::write_value;

    fn direct<T: WriteJson + ?Sized>(value: &T) -> String {
        let mut out = Vec::new();
        value.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn through_writer<T: Serialize + ?Sized>(value: &T) -> String {
        let mut out = b"[prefix kept]".to_vec();
        write_value(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn serde<T: Serialize + ?Sized>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e21),
            Just(1e-7),
        ]
    }

    #[derive(Serialize, Clone, Debug)]
    enum Kind {
        Unit,
        Newtype(i32),
        Tuple(u8, String),
        Struct { a: Option<f64> },
    }

    #[derive(Serialize, Clone, Debug)]
    struct Wrapper(Vec<u8>);

    #[derive(Serialize, Clone, Debug)]
    struct Name(String);

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "(?s).{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-z\"]{0,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn scalars_are_written_as_serde_json_writes_them(
            text in "(?s).{0,30}",
            c in any::<char>(),
            b in any::<bool>(),
            ints in (any::<i8>(), any::<u16>(), any::<i32>(), any::<u64>(), any::<i128>(), any::<u128>()),
            sizes in (any::<usize>(), any::<isize>()),
            floats in (float(), any::<f32>()),
            id in any::<u128>().prop_map(Uuid::from_u128),
        ) {
            prop_assert_eq!(direct(text.as_str()), serde(&text));
            prop_assert_eq!(direct(&c), serde(&c));
            prop_assert_eq!(direct(&b), serde(&b));
            prop_assert_eq!(direct(&ints.0), serde(&ints.0));
            prop_assert_eq!(direct(&ints.1), serde(&ints.1));
            prop_assert_eq!(direct(&ints.2), serde(&ints.2));
            prop_assert_eq!(direct(&ints.3), serde(&ints.3));
            prop_assert_eq!(direct(&ints.4), serde(&ints.4));
            prop_assert_eq!(direct(&ints.5), serde(&ints.5));
            prop_assert_eq!(direct(&sizes.0), serde(&sizes.0));
            prop_assert_eq!(direct(&sizes.1), serde(&sizes.1));
            prop_assert_eq!(direct(&floats.0), serde(&floats.0));
            prop_assert_eq!(direct(&floats.1), serde(&floats.1));
            prop_assert_eq!(direct(&id), serde(&id));
        }

        #[test]
        fn containers_are_written_as_serde_json_writes_them(
            list in prop::collection::vec(prop::option::of("(?s).{0,8}"), 0..4),
            nested in prop::collection::vec(prop::collection::vec(float(), 0..3), 0..3),
            raw in value().prop_map(|v| serde_json::value::to_raw_value(&v).unwrap()),
        ) {
            prop_assert_eq!(direct(&list), serde(&list));
            prop_assert_eq!(direct(&nested), serde(&nested));
            prop_assert_eq!(direct(&raw), serde(&raw));
            prop_assert_eq!(direct(&Some(&raw)), serde(&Some(&raw)));
        }

        /// Through the writer, after what the buffer held.
        #[test]
        fn any_value_goes_through_the_writer_after_what_the_buffer_held(
            value in value(),
            kind in prop_oneof![
                Just(Kind::Unit),
                any::<i32>().prop_map(Kind::Newtype),
                (any::<u8>(), "(?s).{0,5}").prop_map(|(a, b)| Kind::Tuple(a, b)),
                prop::option::of(float()).prop_map(|a| Kind::Struct { a }),
            ],
            name in "(?s).{0,12}",
            bytes in prop::collection::vec(any::<u8>(), 0..4),
            id in any::<u128>().prop_map(Uuid::from_u128),
        ) {
            let prefixed = |json: String| format!("[prefix kept]{json}");
            prop_assert_eq!(through_writer(&value), prefixed(serde(&value)));
            prop_assert_eq!(through_writer(&kind), prefixed(serde(&kind)));
            prop_assert_eq!(through_writer(&Some(Name(name.clone()))), prefixed(serde(&Some(Name(name)))));
            prop_assert_eq!(through_writer(&Wrapper(bytes.clone())), prefixed(serde(&Wrapper(bytes.clone()))));
            prop_assert_eq!(through_writer(&AsBytes(&bytes)), prefixed(serde(&AsBytes(&bytes))));
            prop_assert_eq!(through_writer(&id), prefixed(serde(&id)));
            prop_assert_eq!(through_writer(&()), prefixed(serde(&())));
        }
    }

    /// Bytes through `serialize_bytes`, as `serde_bytes` writes them.
    struct AsBytes<'a>(&'a [u8]);

    impl Serialize for AsBytes<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }
}
