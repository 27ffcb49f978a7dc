//! Each value this module writes, compared with `serde_json::to_vec` of the same value.

use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::WriteJson;
use super::scalar::write_value;

fn direct<T: WriteJson + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    value.write_json(&mut out);
    String::from_utf8(out).unwrap()
}

fn through_scalar<T: Serialize + ?Sized>(value: &T) -> String {
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

    /// Through `Scalar`: scalars it writes, compounds `serde_json` writes, after what the
    /// buffer held.
    #[test]
    fn any_value_goes_through_scalar_or_serde_json(
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
        prop_assert_eq!(through_scalar(&value), prefixed(serde(&value)));
        prop_assert_eq!(through_scalar(&kind), prefixed(serde(&kind)));
        prop_assert_eq!(through_scalar(&Some(Name(name.clone()))), prefixed(serde(&Some(Name(name)))));
        prop_assert_eq!(through_scalar(&Wrapper(bytes.clone())), prefixed(serde(&Wrapper(bytes.clone()))));
        prop_assert_eq!(through_scalar(&AsBytes(&bytes)), prefixed(serde(&AsBytes(&bytes))));
        prop_assert_eq!(through_scalar(&id), prefixed(serde(&id)));
        prop_assert_eq!(through_scalar(&()), prefixed(serde(&())));
    }
}

/// Bytes through `serialize_bytes`, as `serde_bytes` writes them.
struct AsBytes<'a>(&'a [u8]);

impl Serialize for AsBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}
