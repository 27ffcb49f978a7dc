//! Checks that a JSON Schema describes a record exactly: the record is valid, and the schema is
//! no blank cheque.

use kafka_events::KafkaEvent;
use kafka_events::contract::schema_for;
use schemars::JsonSchema;
use serde_json::{Value, json};

/// `record` is valid against `schema` (formats checked: `uuid`, `date-time`), and the schema
/// refuses the record without any field that is always written (all but `optional`), or with a
/// field of another JSON type (all but those in `any`, which take any JSON).
pub fn describes(
    schema: &Value,
    record: &Value,
    optional: &[&str],
    any: &[&str],
) -> Result<(), String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| format!("not a valid JSON Schema: {e}"))?;
    if let Err(error) = validator.validate(record) {
        return Err(format!("{record} is refused: {error}"));
    }
    let object = record.as_object().ok_or("the record is not an object")?;
    for (name, value) in object {
        if !optional.contains(&name.as_str()) {
            let mut without = object.clone();
            without.remove(name);
            if validator.is_valid(&Value::Object(without)) {
                return Err(format!("the schema accepts the record without `{name}`"));
            }
        }
        if any.contains(&name.as_str()) {
            continue;
        }
        let other = match value {
            Value::String(_) => json!(17),
            Value::Number(_) | Value::Null => json!(true),
            Value::Bool(_) | Value::Array(_) => json!("x"),
            Value::Object(_) => json!([]),
        };
        let mut changed = object.clone();
        changed.insert(name.clone(), other.clone());
        if validator.is_valid(&Value::Object(changed)) {
            return Err(format!("the schema accepts {other} as `{name}`"));
        }
    }
    Ok(())
}

/// [`describes`] with `E`'s schema and the JSON serde writes for `event`.
pub fn schema_describes<E: KafkaEvent + JsonSchema>(
    event: &E,
    optional: &[&str],
    any: &[&str],
) -> Result<(), String> {
    let schema = schema_for::<E>().map_err(|e| e.to_string())?;
    let record = serde_json::to_value(event).map_err(|e| e.to_string())?;
    describes(&schema, &record, optional, any)
}
