//! What the derive generates, checked against real serde: `FIELD_NAMES` must be exactly the keys
//! `serde_json` writes, in the order it writes them.

use std::borrow::Cow;
use std::fmt;

use kafka_events::{KafkaEvent, Key, headers};
use proptest_derive::Arbitrary;
use schemars::JsonSchema;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The keys of a JSON object in the order they appear in the text.
fn keys_in_order(json: &str) -> Vec<String> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(Keys).unwrap()
}

fn assert_parity<E: KafkaEvent>(event: &E) {
    let json = serde_json::to_string(event).unwrap();
    assert_eq!(E::FIELD_NAMES, keys_in_order(&json), "{json}");
}

macro_rules! every_rule {
    ($($name:ident: $rule:literal => [$($expected:literal),*];)*) => {$(
        #[allow(non_snake_case)]
        mod $name {
            use super::*;

            #[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
            #[serde(rename_all = $rule)]
            #[event(topic = "rules", key = "id", naming = $rule)]
            pub struct Event {
                id: u32,
                tenant_id: u32,
                http2_port: u16,
                r#type: String,
                #[serde(rename = "kept")]
                renamed: bool,
                #[serde(skip)]
                _skipped: (),
            }

            #[test]
            fn field_names_match_serde() {
                assert_parity(&Event::default());
                assert_eq!(Event::FIELD_NAMES, [$($expected),*]);
            }
        }
    )*};
}

// `lowercase`, `UPPERCASE` and the default rule keep `_`, so those structs use one-word fields.
every_rule! {
    snake: "snake_case" => ["id", "tenant_id", "http2_port", "type", "kept"];
    camel: "camelCase" => ["id", "tenantId", "http2Port", "type", "kept"];
    kebab: "kebab-case" => ["id", "tenant-id", "http2-port", "type", "kept"];
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "PascalCase")]
#[event(topic = "rules", key = "id", naming = "PascalCase")]
struct Pascal {
    id: u32,
    tenant_id: u32,
    _leading: u8,
    #[serde(rename = "Kept")]
    renamed: bool,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[event(topic = "rules", key = "id", naming = "SCREAMING_SNAKE_CASE")]
struct ScreamingSnake {
    id: u32,
    tenant_id: u32,
    http2_port: u16,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
#[event(topic = "rules", key = "id", naming = "SCREAMING-KEBAB-CASE")]
struct ScreamingKebab {
    id: u32,
    tenant_id: u32,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "lowercase")]
#[event(topic = "rules", key = "id", naming = "lowercase")]
struct Lower {
    id: u32,
    tenant: u32,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "UPPERCASE")]
#[event(topic = "rules", key = "id", naming = "UPPERCASE")]
struct Upper {
    id: u32,
    tenant: u32,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(rename_all = "camelCase")]
#[event(topic = "rules", key = "id", naming = "camelCase")]
struct CamelLeading {
    id: u32,
    _leading: u8,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[event(topic = "rules", key = "id")]
struct Renames {
    id: u32,
    #[serde(rename(serialize = "ser_name", deserialize = "de_name"))]
    both: u8,
    #[serde(rename(deserialize = "only_de"))]
    de_only: u8,
    #[serde(skip_serializing, rename = "ignored")]
    _hidden: u8,
    #[serde(alias = "other", default)]
    aliased: u8,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[serde(tag = "kind")]
#[event(topic = "rules", key = "id")]
struct Tagged {
    id: u32,
    value: u8,
}

#[derive(Serialize, KafkaEvent, Default, JsonSchema, Arbitrary, Debug)]
#[event(topic = "rules", key = "id")]
struct Optional {
    id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[test]
fn field_names_match_serde_for_every_rule() {
    assert_parity(&Pascal::default());
    assert_eq!(Pascal::FIELD_NAMES, ["Id", "TenantId", "Leading", "Kept"]);
    assert_parity(&ScreamingSnake::default());
    assert_eq!(
        ScreamingSnake::FIELD_NAMES,
        ["ID", "TENANT_ID", "HTTP2_PORT"]
    );
    assert_parity(&ScreamingKebab::default());
    assert_eq!(ScreamingKebab::FIELD_NAMES, ["ID", "TENANT-ID"]);
    assert_parity(&Lower::default());
    assert_parity(&Upper::default());
    assert_eq!(Upper::FIELD_NAMES, ["ID", "TENANT"]);
    assert_parity(&CamelLeading::default());
    assert_eq!(CamelLeading::FIELD_NAMES, ["id", "leading"]);
}

#[test]
fn renames_skips_and_tags_match_serde() {
    assert_parity(&Renames::default());
    assert_eq!(
        Renames::FIELD_NAMES,
        ["id", "ser_name", "de_only", "aliased"]
    );
    assert_parity(&Tagged::default());
    assert_eq!(Tagged::FIELD_NAMES, ["kind", "id", "value"]);
}

#[test]
fn skip_serializing_if_fields_are_listed_since_they_may_appear() {
    let present = Optional {
        note: Some("x".into()),
        ..Optional::default()
    };
    assert_parity(&present);
    let absent = keys_in_order(&serde_json::to_string(&Optional::default()).unwrap());
    assert_eq!(absent, ["id"]);
    assert_eq!(Optional::FIELD_NAMES, ["id", "note"]);
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "generic", key = "key", type = "generic.v1")]
struct Generic<'a, K, T>
where
    T: Clone,
{
    key: K,
    borrowed: &'a str,
    data: T,
}

#[test]
fn generic_events_with_generic_keys() {
    let event = Generic {
        key: 7u64,
        borrowed: "b",
        data: vec![1, 2],
    };
    assert_parity(&event);
    assert_eq!(event.key().as_ref(), b"7");
    assert_eq!(event.event_type(), Some("generic.v1"));
    let by_str = Generic {
        key: "k-1",
        borrowed: "",
        data: (),
    };
    assert_eq!(by_str.key().as_ref(), b"k-1");
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "keys", key = "r#ref")]
struct RawKey<'a> {
    r#ref: Cow<'a, str>,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "keys", key = "id")]
struct UuidKey {
    id: Uuid,
}

#[test]
fn key_bytes_are_canonical_strings() {
    let raw = RawKey {
        r#ref: Cow::Borrowed("abc"),
    };
    assert_eq!(raw.key(), Key::borrowed(b"abc"));
    assert_eq!(RawKey::FIELD_NAMES, ["ref"]);
    let id = Uuid::parse_str("936DA01F-9ABD-4D9D-80C7-02AF85C822A8").unwrap();
    assert_eq!(
        UuidKey { id }.key().as_ref(),
        b"936da01f-9abd-4d9d-80c7-02af85c822a8"
    );
}

#[derive(Serialize, Deserialize, Clone, Copy)]
enum Kind {
    #[serde(rename = "thing.created")]
    Created,
}

impl AsRef<str> for Kind {
    fn as_ref(&self) -> &str {
        "thing.created"
    }
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "things", key = "id")]
struct Dynamic {
    id: u8,
    #[event(type)]
    kind: Kind,
}

#[test]
fn event_type_from_a_field_becomes_the_header() {
    let event = Dynamic {
        id: 1,
        kind: Kind::Created,
    };
    assert_eq!(Dynamic::EVENT_TYPE, None);
    assert_eq!(event.event_type(), Some("thing.created"));
    let message = kafka_events::Message::from_event(&event).unwrap();
    assert_eq!(
        message.header(headers::EVENT_TYPE),
        Some(&b"thing.created"[..])
    );
    assert_eq!(
        message.header(headers::CONTENT_TYPE),
        Some(&b"application/json"[..])
    );
    assert_eq!(message.topic, "things");
    assert_eq!(message.key, b"1");
}

mod renamed {
    // What a user who renamed the dependency writes: the path to the crate they depend on.
    pub use kafka_events as events;
}

#[derive(Serialize, KafkaEvent)]
#[event(crate = "crate::renamed::events", topic = "renamed", key = "id")]
struct ThroughRenamedPath {
    id: u8,
}

#[test]
fn crate_path_override() {
    assert_eq!(ThroughRenamedPath::TOPIC, "renamed");
    assert_eq!(ThroughRenamedPath { id: 3 }.key().as_ref(), b"3");
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "accounts", key = "id")]
struct AccountCreated {
    id: u64,
    user: String,
    #[event(redact)]
    password: String,
    #[event(redact)]
    #[serde(rename = "api_key")]
    key: String,
    /// Looks like a secret, and holds none.
    #[event(allow_sensitive)]
    token_count: u32,
}

#[test]
fn redacted_fields_are_written_masked_and_keep_their_names() {
    let event = AccountCreated {
        id: 7,
        user: "ann".into(),
        password: "hunter2".into(),
        key: "k-123".into(),
        token_count: 3,
    };
    assert_eq!(AccountCreated::REDACTED, ["password", "api_key"]);
    let message = kafka_events::Message::from_event(&event).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": 7, "user": "ann", "password": "***", "api_key": "***", "token_count": 3})
    );
    // Names and order are still serde's.
    assert_parity(&event);
    let text = String::from_utf8(message.payload).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("k-123"),
        "{text}"
    );
}

#[tokio::test]
async fn detached_emits_are_redacted_too() {
    let producer = kafka_events::MemoryProducer::new();
    let event = AccountCreated {
        id: 8,
        user: "bob".into(),
        password: "swordfish".into(),
        key: "k".into(),
        token_count: 0,
    };
    event.emit_detached(&producer).unwrap();
    let text = String::from_utf8(producer.records()[0].payload.clone()).unwrap();
    assert!(text.contains(r#""password":"***""#), "{text}");
    assert!(!text.contains("swordfish"));
}

#[path = "support/schema.rs"]
mod schema_support;

mod schema {
    //! The JSON Schema of each parity struct describes exactly what serde writes for it.

    use super::schema_support::schema_describes;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_parity_struct_is_what_its_schema_says(
            rules in (any::<snake::Event>(), any::<camel::Event>(), any::<kebab::Event>()),
            cases in (any::<Pascal>(), any::<ScreamingSnake>(), any::<ScreamingKebab>(), any::<Lower>(), any::<Upper>()),
            more in (any::<CamelLeading>(), any::<Renames>(), any::<Tagged>(), any::<Optional>()),
        ) {
            let results = [
                schema_describes(&rules.0, &[], &[]),
                schema_describes(&rules.1, &[], &[]),
                schema_describes(&rules.2, &[], &[]),
                schema_describes(&cases.0, &[], &[]),
                schema_describes(&cases.1, &[], &[]),
                schema_describes(&cases.2, &[], &[]),
                schema_describes(&cases.3, &[], &[]),
                schema_describes(&cases.4, &[], &[]),
                schema_describes(&more.0, &[], &[]),
                schema_describes(&more.1, &[], &[]),
                schema_describes(&more.2, &[], &[]),
                schema_describes(&more.3, &["note"], &[]),
            ];
            for result in results {
                prop_assert_eq!(result, Ok(()));
            }
        }
    }

    #[test]
    fn the_schemas_name_the_fields_serde_writes() {
        let tagged = kafka_events::contract::schema_for::<Tagged>().unwrap();
        assert_eq!(
            tagged["properties"]["kind"],
            serde_json::json!({"type": "string", "const": "Tagged"})
        );
        assert_eq!(
            tagged["required"],
            serde_json::json!(["kind", "id", "value"])
        );
        let renames = kafka_events::contract::schema_for::<Renames>().unwrap();
        let names: Vec<&String> = renames["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["aliased", "de_only", "id", "ser_name"]);
        let optional = kafka_events::contract::schema_for::<Optional>().unwrap();
        assert_eq!(optional["required"], serde_json::json!(["id"]));
    }
}
