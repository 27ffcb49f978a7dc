//! A JSON Schema read as what a consumer sees: which JSON kinds a value can have, which values
//! (an enum), which string format, which numeric range, and, for objects, which fields (and
//! whether each is always there), for arrays their items, for maps their values.
//!
//! `$ref`, `anyOf`/`oneOf` (a union) and `allOf` (an intersection) are resolved; a recursive
//! `$ref` reads as "anything" below its first occurrence. Annotations (`title`, `description`,
//! `default`) are not part of a shape.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// The JSON kinds, in the order descriptions list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
    Null,
}

impl Kind {
    fn named(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "boolean" => Kind::Boolean,
            "object" => Kind::Object,
            "array" => Kind::Array,
            "null" => Kind::Null,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::Null => "null",
        }
    }

    pub(super) fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Kind::Integer,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    const ALL: [Kind; 7] = [
        Kind::String,
        Kind::Integer,
        Kind::Number,
        Kind::Boolean,
        Kind::Object,
        Kind::Array,
        Kind::Null,
    ];
}

/// A numeric bound, exact for integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn read(value: &Value) -> Option<Num> {
        let n = value.as_number()?;
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i.into()))
        } else if let Some(u) = n.as_u64() {
            Some(Num::Int(u.into()))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// The inclusive bounds of a number; `None` is unbounded on that side.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(super) struct Range {
    pub min: Option<Num>,
    pub max: Option<Num>,
}

impl Range {
    /// Whether every number in `self` is in `other`.
    pub(super) fn within(&self, other: &Range) -> bool {
        let low = match (self.min, other.min) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a >= b,
        };
        let high = match (self.max, other.max) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a <= b,
        };
        low && high
    }

    fn hull(a: Option<Range>, b: Option<Range>) -> Option<Range> {
        let (a, b) = (a?, b?);
        let min = match (a.min, b.min) {
            (Some(x), Some(y)) => Some(if x < y { x } else { y }),
            _ => None,
        };
        let max = match (a.max, b.max) {
            (Some(x), Some(y)) => Some(if x > y { x } else { y }),
            _ => None,
        };
        Some(Range { min, max })
    }

    fn is_unbounded(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unbounded() {
            return f.write_str("unbounded");
        }
        if let Some(min) = self.min {
            write!(f, "{min}")?;
        }
        f.write_str("..")?;
        if let Some(max) = self.max {
            write!(f, "={max}")?;
        }
        Ok(())
    }
}

/// One field of an object.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Field {
    pub shape: Shape,
    /// Always written (in `required`).
    pub required: bool,
}

/// What values a schema allows, as consumers see it.
#[derive(Clone, Debug, PartialEq, Default)]
pub(super) struct Shape {
    /// Any JSON value at all.
    pub any: bool,
    /// Kinds allowed with any value of that kind (within `format` and `range`).
    pub kinds: BTreeSet<Kind>,
    /// Single values allowed (`enum`, `const`), as compact JSON text.
    pub values: BTreeSet<String>,
    /// The string format, when every string has one.
    pub format: Option<String>,
    /// The numeric range, when every number has one.
    pub range: Option<Range>,
    /// An object's fields.
    pub fields: BTreeMap<String, Field>,
    /// A map's values (`additionalProperties`).
    pub map_values: Option<Box<Shape>>,
    /// An array's items.
    pub items: Option<Box<Shape>>,
}

impl Shape {
    fn anything() -> Shape {
        Shape {
            any: true,
            ..Shape::default()
        }
    }

    /// Reads `schema`; `$ref`s are resolved in `root`.
    pub(super) fn read(schema: &Value, root: &Value) -> Shape {
        Reader {
            root,
            open_refs: Vec::new(),
        }
        .read(schema)
    }

    /// Every kind a value can have: the free kinds and those of the listed values.
    pub(super) fn all_kinds(&self) -> BTreeSet<Kind> {
        if self.any {
            return Kind::ALL.into_iter().collect();
        }
        let mut kinds = self.kinds.clone();
        for value in &self.values {
            if let Ok(value) = serde_json::from_str::<Value>(value) {
                kinds.insert(Kind::of(&value));
            }
        }
        kinds
    }

    /// Whether a value of `kind` is allowed with any value (an integer is a number).
    pub(super) fn allows_kind(&self, kind: Kind) -> bool {
        self.any
            || self.kinds.contains(&kind)
            || (kind == Kind::Integer && self.kinds.contains(&Kind::Number))
    }

    /// Whether the single value `value` (compact JSON text) is allowed.
    pub(super) fn allows_value(&self, value: &str) -> bool {
        self.values.contains(value)
            || serde_json::from_str::<Value>(value).is_ok_and(|v| self.allows_kind(Kind::of(&v)))
    }

    /// The kinds, as a reader says them: `string`, `string or null`, `integer`, `any JSON`.
    pub(super) fn describe_kinds(&self) -> String {
        if self.any {
            return "any JSON".into();
        }
        let kinds = self.all_kinds();
        let names: Vec<&str> = kinds
            .iter()
            .filter(|k| !(**k == Kind::Integer && kinds.contains(&Kind::Number)))
            .map(|k| k.name())
            .collect();
        if names.is_empty() {
            "nothing".into()
        } else {
            names.join(" or ")
        }
    }

    /// Everything both `a` and `b` allow are in the union; what one side alone constrains
    /// stays constrained only if the other side allows nothing of that kind.
    fn union(a: Shape, b: Shape) -> Shape {
        if a.any || b.any {
            return Shape::anything();
        }
        let strings = |s: &Shape| s.kinds.contains(&Kind::String);
        let numbers =
            |s: &Shape| s.kinds.contains(&Kind::Integer) || s.kinds.contains(&Kind::Number);
        let objects = |s: &Shape| s.kinds.contains(&Kind::Object);
        let arrays = |s: &Shape| s.kinds.contains(&Kind::Array);
        let format = match (strings(&a), strings(&b)) {
            (true, true) if a.format == b.format => a.format.clone(),
            (true, true) => None,
            (true, false) => a.format.clone(),
            (false, true) => b.format.clone(),
            (false, false) => None,
        };
        let range = match (numbers(&a), numbers(&b)) {
            (true, true) => Range::hull(a.range, b.range),
            (true, false) => a.range,
            (false, true) => b.range,
            (false, false) => None,
        };
        let fields = match (objects(&a), objects(&b)) {
            (true, true) => {
                let mut fields = BTreeMap::new();
                let names: BTreeSet<&String> = a.fields.keys().chain(b.fields.keys()).collect();
                for name in names {
                    let field = match (a.fields.get(name), b.fields.get(name)) {
                        (Some(x), Some(y)) => Field {
                            shape: Shape::union(x.shape.clone(), y.shape.clone()),
                            required: x.required && y.required,
                        },
                        (Some(x), None) | (None, Some(x)) => Field {
                            shape: x.shape.clone(),
                            required: false,
                        },
                        (None, None) => continue,
                    };
                    fields.insert(name.clone(), field);
                }
                fields
            }
            (true, false) => a.fields.clone(),
            (false, true) => b.fields.clone(),
            (false, false) => BTreeMap::new(),
        };
        let merge =
            |x: &Option<Box<Shape>>, y: &Option<Box<Shape>>, xs: bool, ys: bool| match (xs, ys) {
                (true, true) => match (x, y) {
                    (Some(x), Some(y)) => {
                        Some(Box::new(Shape::union((**x).clone(), (**y).clone())))
                    }
                    _ => None,
                },
                (true, false) => x.clone(),
                (false, true) => y.clone(),
                (false, false) => None,
            };
        let map_values = merge(&a.map_values, &b.map_values, objects(&a), objects(&b));
        let items = merge(&a.items, &b.items, arrays(&a), arrays(&b));
        Shape {
            any: false,
            kinds: a.kinds.union(&b.kinds).copied().collect(),
            values: a.values.union(&b.values).cloned().collect(),
            format,
            range,
            fields,
            map_values,
            items,
        }
    }

    /// What both allow (`allOf`, a `$ref` with sibling keywords). Best effort: kinds and values
    /// are intersected, the other constraints are combined.
    fn intersect(a: Shape, b: Shape) -> Shape {
        if a.any {
            return b;
        }
        if b.any {
            return a;
        }
        let kinds: BTreeSet<Kind> = a
            .kinds
            .iter()
            .copied()
            .filter(|k| b.allows_kind(*k))
            .chain(
                b.kinds
                    .iter()
                    .copied()
                    .filter(|k| *k == Kind::Integer && a.kinds.contains(&Kind::Number)),
            )
            .collect();
        let values: BTreeSet<String> = a
            .values
            .iter()
            .filter(|v| b.allows_value(v))
            .chain(b.values.iter().filter(|v| a.allows_value(v)))
            .cloned()
            .collect();
        let mut fields = a.fields;
        for (name, field) in b.fields {
            let merged = match fields.remove(&name) {
                Some(other) => Field {
                    shape: Shape::intersect(other.shape, field.shape),
                    required: other.required || field.required,
                },
                None => field,
            };
            fields.insert(name, merged);
        }
        Shape {
            any: false,
            kinds,
            values,
            format: a.format.or(b.format),
            range: match (a.range, b.range) {
                (Some(x), Some(y)) => Some(if x.within(&y) { x } else { y }),
                (x, y) => x.or(y),
            },
            fields,
            map_values: a.map_values.or(b.map_values),
            items: a.items.or(b.items),
        }
    }
}

struct Reader<'a> {
    root: &'a Value,
    /// The `$ref`s being read, to stop at a recursive one.
    open_refs: Vec<String>,
}

impl Reader<'_> {
    fn read(&mut self, schema: &Value) -> Shape {
        let map = match schema {
            Value::Bool(true) => return Shape::anything(),
            Value::Bool(false) => return Shape::default(),
            Value::Object(map) => map,
            _ => return Shape::anything(),
        };
        let mut shape = self.own(map);
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            shape = Shape::intersect(shape, self.reference(reference));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = map.get(key).and_then(Value::as_array) {
                let union = branches
                    .iter()
                    .map(|b| self.read(b))
                    .reduce(Shape::union)
                    .unwrap_or_default();
                shape = Shape::intersect(shape, union);
            }
        }
        if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
            for part in parts {
                let part = self.read(part);
                shape = Shape::intersect(shape, part);
            }
        }
        shape
    }

    fn reference(&mut self, reference: &str) -> Shape {
        if self.open_refs.iter().any(|r| r == reference) {
            return Shape::anything();
        }
        let Some(target) = reference
            .strip_prefix('#')
            .and_then(|pointer| self.root.pointer(pointer))
        else {
            return Shape::anything();
        };
        self.open_refs.push(reference.to_owned());
        let shape = self.read(target);
        self.open_refs.pop();
        shape
    }

    /// The keywords of this schema object itself (not its `$ref` or combinators).
    fn own(&mut self, map: &Map<String, Value>) -> Shape {
        let types: Option<BTreeSet<Kind>> = match map.get("type") {
            Some(Value::String(name)) => Some(Kind::named(name).into_iter().collect()),
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(Kind::named)
                    .collect(),
            ),
            _ => None,
        };
        let listed: Option<Vec<&Value>> = match (map.get("enum"), map.get("const")) {
            (_, Some(value)) => Some(vec![value]),
            (Some(Value::Array(values)), None) => Some(values.iter().collect()),
            _ => None,
        };
        let mut shape = Shape::default();
        match (types, listed) {
            (types, Some(values)) => {
                shape.values = values
                    .into_iter()
                    .filter(|v| {
                        types.as_ref().is_none_or(|t| {
                            let kind = Kind::of(v);
                            t.contains(&kind)
                                || (kind == Kind::Integer && t.contains(&Kind::Number))
                        })
                    })
                    .map(|v| v.to_string())
                    .collect();
            }
            (Some(types), None) => shape.kinds = types,
            (None, None) => shape.any = true,
        }
        if let Some(format) = map.get("format").and_then(Value::as_str) {
            shape.format = Some(format.to_owned());
        }
        let bound = |key: &str| map.get(key).and_then(Num::read);
        let exclusive = |key: &str, step: i128| {
            map.get(key).and_then(Num::read).map(|n| match n {
                Num::Int(i) => Num::Int(i + step),
                other => other,
            })
        };
        let range = Range {
            min: bound("minimum").or_else(|| exclusive("exclusiveMinimum", 1)),
            max: bound("maximum").or_else(|| exclusive("exclusiveMaximum", -1)),
        };
        if !range.is_unbounded() {
            shape.range = Some(range);
        }
        if let Some(properties) = map.get("properties").and_then(Value::as_object) {
            let required: BTreeSet<&str> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, schema) in properties {
                let field = Field {
                    shape: self.read(schema),
                    required: required.contains(name.as_str()),
                };
                shape.fields.insert(name.clone(), field);
            }
        }
        if let Some(values @ Value::Object(_)) = map.get("additionalProperties") {
            shape.map_values = Some(Box::new(self.read(values)));
        }
        let mut items: Vec<&Value> = Vec::new();
        match map.get("items") {
            Some(Value::Array(tuple)) => items.extend(tuple),
            Some(item) => items.push(item),
            None => {}
        }
        if let Some(Value::Array(tuple)) = map.get("prefixItems") {
            items.extend(tuple);
        }
        shape.items = items
            .into_iter()
            .map(|item| self.read(item))
            .reduce(Shape::union)
            .map(Box::new);
        // A string format is the only one consumers parse; integer formats (`int16`) say no
        // more than the range.
        if !shape.any && !shape.kinds.contains(&Kind::String) {
            shape.format = None;
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(schema: Value) -> Shape {
        Shape::read(&schema, &schema)
    }

    #[test]
    fn kinds_values_formats_and_ranges() {
        let uuid = read(json!({"type": "string", "format": "uuid"}));
        assert_eq!(uuid.describe_kinds(), "string");
        assert_eq!(uuid.format.as_deref(), Some("uuid"));
        let small = read(
            json!({"type": "integer", "format": "int16", "minimum": -32768, "maximum": 32767}),
        );
        assert_eq!(small.format, None);
        assert_eq!(small.range.unwrap().to_string(), "-32768..=32767");
        let status = read(json!({"type": "string", "enum": ["draft", ""]}));
        assert!(status.kinds.is_empty());
        assert_eq!(
            status.values,
            ["\"\"".to_owned(), "\"draft\"".to_owned()].into()
        );
        assert_eq!(status.describe_kinds(), "string");
        assert_eq!(
            read(json!({"type": ["number", "integer", "null"]})).describe_kinds(),
            "number or null"
        );
        assert!(read(json!(true)).any && read(json!({"description": "x"})).any);
        assert_eq!(read(json!(false)).describe_kinds(), "nothing");
    }

    #[test]
    fn refs_unions_and_objects() {
        let schema = json!({
            "type": "object",
            "properties": {
                "line": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]},
                "tags": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            },
            "required": ["line"],
            "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}, "next": {"$ref": "#/$defs/Line"}}, "required": ["sku"]}}
        });
        let shape = read(schema);
        let line = &shape.fields["line"];
        assert!(line.required);
        assert_eq!(line.shape.describe_kinds(), "object or null");
        assert!(line.shape.fields["sku"].required);
        // A recursive reference reads as anything.
        assert!(line.shape.fields["next"].shape.any);
        assert!(!shape.fields["tags"].required);
        assert_eq!(
            shape.fields["tags"]
                .shape
                .map_values
                .as_ref()
                .unwrap()
                .describe_kinds(),
            "string"
        );
        assert_eq!(
            shape.fields["pair"]
                .shape
                .items
                .as_ref()
                .unwrap()
                .describe_kinds(),
            "string or integer"
        );
    }
}
