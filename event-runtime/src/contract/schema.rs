//! An event's JSON Schema exactly as its records are written.
//!
//! `schemars` 1.x, in its serialize mode, reads what serde writes from the same `#[serde]`
//! attributes: names, `rename`, `rename_all`, `skip`, `skip_serializing_if` (the field is not
//! `required`), `flatten`, `Option` (`null` allowed), nested types. What it can't know, the
//! event's derive does, and is applied here: a struct's `#[serde(tag)]` (schemars handles tags on
//! enums only), fields written as `"***"` (`#[event(redact)]`). `default` values are dropped: they
//! describe reading, and `#[serde(default = "Utc::now")]` would make every schema different;
//! descriptions (doc comments) keep their first paragraph, not the examples below it.
//! Last, the schema's field names must be the ones serde writes (the derive computes those), so
//! a `#[schemars(rename)]` that serde doesn't have is caught here rather than in production.

use std::borrow::Cow;

use kafka_events_rules::MASK;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::error::SchemaError;
use crate::event::KafkaEvent;
use crate::models::JsonText;

/// The JSON Schema (draft 2020-12) of `E`'s records, exactly as [`emit`](KafkaEvent::emit)
/// writes them; nested types are in `$defs`.
///
/// Derive `schemars::JsonSchema` next to `Serialize`. A field with `#[serde(with = "module")]`
/// (or `serialize_with`) needs `#[schemars(with = "Type")]`, naming the type its JSON has.
///
/// ```
/// use kafka_events::KafkaEvent;
/// use kafka_events::contract::schema_for;
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent, JsonSchema)]
/// #[serde(rename_all = "camelCase")]
/// #[event(topic = "orders", key = "order_id", naming = "camelCase")]
/// struct OrderPlaced {
///     order_id: u64,
///     #[serde(skip_serializing_if = "Option::is_none")]
///     coupon: Option<String>,
///     #[event(redact)]
///     card_number: String,
/// }
///
/// let schema = schema_for::<OrderPlaced>()?;
/// assert_eq!(schema["properties"]["orderId"]["type"], "integer");
/// assert_eq!(schema["required"], serde_json::json!(["orderId", "cardNumber"]));
/// assert_eq!(schema["properties"]["coupon"]["type"], serde_json::json!(["string", "null"]));
/// assert_eq!(schema["properties"]["cardNumber"]["const"], "***");
/// # Ok::<(), kafka_events::contract::SchemaError>(())
/// ```
pub fn schema_for<E: KafkaEvent + JsonSchema>() -> Result<Value, SchemaError> {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<E>().to_value();
    for definition in definitions_mut(&mut schema, "$defs") {
        tidy(definition);
    }
    correct::<E>(&mut schema)?;
    Ok(schema)
}

/// The settings of a generator whose nested types go to `#/components/schemas` (an AsyncAPI
/// document's), as draft 07, which AsyncAPI schemas extend.
pub(super) fn components_generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .for_serialize()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator()
}

/// `E`'s payload schema from `generator` (see [`components_generator`]), without its nested
/// types, which stay in the generator's definitions.
pub(super) fn payload_schema<E: KafkaEvent + JsonSchema>(
    generator: &mut SchemaGenerator,
) -> Result<Value, SchemaError> {
    let mut schema = generator.root_schema_for::<E>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("components");
    }
    correct::<E>(&mut schema)?;
    Ok(schema)
}

/// A generator's nested types, as they go into a document.
pub(super) fn definitions(generator: &SchemaGenerator) -> Map<String, Value> {
    let mut definitions = generator.definitions().clone();
    for definition in definitions.values_mut() {
        tidy(definition);
    }
    definitions
}

/// What the derive knows and schemars doesn't, applied to `E`'s root schema; then the check
/// that its fields are serde's.
fn correct<E: KafkaEvent + JsonSchema>(schema: &mut Value) -> Result<(), SchemaError> {
    let event = || E::schema_name().into_owned();
    tidy(schema);
    let root = schema
        .as_object_mut()
        .ok_or_else(|| SchemaError::NotAnObject { event: event() })?;
    let Some(Value::Object(properties)) = root.get_mut("properties") else {
        return Err(SchemaError::NotAnObject { event: event() });
    };
    if let Some((tag, value)) = E::TAG {
        properties.insert(tag.into(), json!({"type": "string", "const": value}));
    }
    for name in E::REDACTED {
        if let Some(Value::Object(field)) = properties.get_mut(*name) {
            let description = field.remove("description");
            field.clear();
            field.extend([
                ("type".to_owned(), json!("string")),
                ("const".to_owned(), json!(MASK)),
            ]);
            if let Some(description) = description {
                field.insert("description".into(), description);
            }
        }
    }
    let only_in_schema: Vec<String> = properties
        .keys()
        .filter(|name| !E::FIELD_NAMES.contains(&name.as_str()))
        .cloned()
        .collect();
    let only_in_json: Vec<String> = E::FIELD_NAMES
        .iter()
        .filter(|name| !properties.contains_key(**name))
        .map(|name| (*name).to_owned())
        .collect();
    if !only_in_schema.is_empty() || !only_in_json.is_empty() {
        return Err(SchemaError::FieldsDiffer {
            event: event(),
            only_in_schema,
            only_in_json,
        });
    }
    if let Some((tag, _)) = E::TAG {
        let required = root
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(required) = required {
            required.insert(0, json!(tag));
        }
    }
    Ok(())
}

/// The schemas under `$defs` (or another definitions keyword) of a root schema.
fn definitions_mut<'a>(
    schema: &'a mut Value,
    keyword: &str,
) -> impl Iterator<Item = &'a mut Value> {
    schema
        .get_mut(keyword)
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|defs| defs.values_mut())
}

/// Removes `default` from `schema` and every schema inside it (not a property named `default`),
/// and cuts descriptions to their first paragraph.
fn tidy(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.remove("default");
    if let Some(Value::String(description)) = map.get_mut("description")
        && let Some(end) = description.find("\n\n")
    {
        description.truncate(end);
    }
    for (keyword, value) in map.iter_mut() {
        match keyword.as_str() {
            "properties" | "patternProperties" | "dependentSchemas" => {
                if let Value::Object(schemas) = value {
                    schemas.values_mut().for_each(tidy);
                }
            }
            "items"
            | "additionalProperties"
            | "additionalItems"
            | "unevaluatedProperties"
            | "unevaluatedItems"
            | "contains"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else" => match value {
                Value::Array(schemas) => schemas.iter_mut().for_each(tidy),
                value => tidy(value),
            },
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(schemas) = value {
                    schemas.iter_mut().for_each(tidy);
                }
            }
            _ => {}
        }
    }
}

/// A body kept as JSON text is any JSON value (Go's `any`).
impl JsonSchema for JsonText {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "JsonText".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        true.into()
    }
}
