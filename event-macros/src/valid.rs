//! Checks that need several facts at once. Each `check_*` reports into `Errors` and returns what
//! `expand` needs, so expansion itself cannot fail.

use std::collections::BTreeMap;

use syn::{LitStr, Type};

use crate::ast::{Field, Input, NameSource};
use crate::attr::Errors;
use crate::case::RenameRule;

/// Everything `expand` needs, known to be valid.
pub struct Checked<'a> {
    pub topic: &'a LitStr,
    pub key: &'a Field<'a>,
    pub field_names: Vec<String>,
    pub event_type: EventType<'a>,
    /// The JSON names of the fields written as `"***"`.
    pub redacted: Vec<String>,
}

pub enum EventType<'a> {
    None,
    Const(&'a LitStr),
    /// The field, and the values it takes when `types = [..]` lists them.
    Field(&'a Field<'a>, &'a [LitStr]),
}

pub fn validate<'a>(input: &'a Input<'a>, errors: &mut Errors) -> Option<Checked<'a>> {
    check_transparent(input, errors);
    let topic = check_topic(input, errors);
    let key = check_key(input, errors);
    let field_names = check_names(input, errors);
    let event_type = check_event_type(input, errors);
    let redacted = check_sensitive(input, errors);
    Some(Checked {
        topic: topic?,
        key: key?,
        field_names,
        event_type: event_type?,
        redacted,
    })
}

// `transparent` makes the struct serialize as its one field, which is not a JSON object.
fn check_transparent(input: &Input, errors: &mut Errors) {
    if let Some(span) = input.serde.transparent {
        errors.push(syn::Error::new(
            span,
            "KafkaEvent does not support `#[serde(transparent)]`: an event must serialize as a JSON \
             object with its own fields",
        ));
    }
}

// Kafka's own rule for topic names; checked here so a typo fails the build, not the first send.
fn check_topic<'a>(input: &'a Input, errors: &mut Errors) -> Option<&'a LitStr> {
    let Some(topic) = &input.attrs.topic else {
        report_missing(
            input,
            errors,
            "topic",
            "missing event topic: add `#[event(topic = \"audit\", key = \"id\")]` to the struct",
        );
        return None;
    };
    match kafka_events_rules::topic_problem(&topic.value) {
        Some(problem) => {
            errors.spanned(&topic.lit, problem.describe(&topic.value));
            None
        }
        None => Some(&topic.lit),
    }
}

/// Points at the `#[event]` attribute, or the struct name when there is none. A key that was
/// given with a bad value has its own error already.
fn report_missing(input: &Input, errors: &mut Errors, key: &str, message: &str) {
    // A key given with a bad value has its error already, and so has one misspelled (the
    // unknown key's error names it).
    if input.attrs.given.iter().any(|k| k == key) || input.attrs.misspelled.contains(&key) {
        return;
    }
    match &input.attrs.first {
        Some(attr) => errors.spanned(attr, message),
        None => errors.spanned(&input.original.ident, message),
    }
}

// The key decides the partition and is what consumers dedupe on, so it must be a field that is
// always present in the JSON, under its own name, and never absent.
fn check_key<'a>(input: &'a Input<'a>, errors: &mut Errors) -> Option<&'a Field<'a>> {
    let Some(key) = &input.attrs.key else {
        report_missing(
            input,
            errors,
            "key",
            "missing event key: add `key = \"<field>\"` to `#[event(..)]`, naming the field whose \
             value keys the Kafka record (usually the event id)",
        );
        return None;
    };
    let Some(field) = input.key_field() else {
        let known: Vec<String> = input
            .fields
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect();
        errors.spanned(
            &key.lit,
            format!(
                "key `{}` is not a field of `{}`; `key` names a field by its Rust name, one of: {}",
                key.value,
                input.original.ident,
                known.join(", ")
            ),
        );
        return None;
    };
    let skipped = [
        (field.serde.skip, "skip"),
        (field.serde.skip_serializing, "skip_serializing"),
        (field.serde.skip_serializing_if, "skip_serializing_if"),
    ];
    for (span, attr) in skipped {
        if let Some(span) = span {
            errors.push(syn::Error::new(
                span,
                format!(
                    "key field `{}` has `#[serde({attr})]`, so the key could be missing from the JSON; \
                     remove `{attr}` or choose another key field",
                    field.name
                ),
            ));
            return None;
        }
    }
    if let Some(span) = field.serde.flatten {
        errors.push(syn::Error::new(
            span,
            format!(
                "key field `{}` is flattened: a key must be one serialized value, not a set of keys; \
                 remove `flatten` or choose another key field",
                field.name
            ),
        ));
        return None;
    }
    if is_option(field.ty) {
        errors.spanned(
            field.ty,
            format!(
                "key field `{}` is an `Option`, but a Kafka event key is never absent; make the \
                 field non-optional (e.g. `Uuid`, `String` or an integer)",
                field.name
            ),
        );
        return None;
    }
    Some(field)
}

fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Option"),
        Type::Group(group) => is_option(&group.elem),
        Type::Paren(paren) => is_option(&paren.elem),
        _ => false,
    }
}

// Consumers read these names; the convention and uniqueness are what the Go version only asked
// for in a comment.
fn check_names(input: &Input, errors: &mut Errors) -> Vec<String> {
    let naming = input.naming();
    let mut names = Vec::with_capacity(input.fields.len() + 1);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut renamed_badly: Option<(RenameRule, &LitStr, Vec<String>)> = None;

    if let Some(tag) = &input.serde.tag {
        let value = tag.value();
        if !naming.follows(&value) {
            errors.spanned(
                tag,
                format!(
                    "serde tag `{value}` does not follow the {naming} naming convention; use `{}`",
                    naming.suggest(&value)
                ),
            );
        }
        seen.insert(value.clone(), "the serde `tag`".into());
        names.push(value);
    }

    for field in &input.fields {
        if let Some(span) = field.serde.flatten {
            if input.is_key(field) {
                continue; // reported by check_key
            }
            errors.push(syn::Error::new(
                span,
                format!(
                    "field `{}` is flattened: KafkaEvent can't check the names of flattened keys at \
                     compile time; move those fields into this struct",
                    field.name
                ),
            ));
            continue;
        }
        let Some(json) = field.json_name(&input.serde) else {
            continue;
        };
        if json.value.is_empty() {
            let target: &dyn quote::ToTokens = match json.source {
                NameSource::Rename(lit) => lit,
                _ => field.original,
            };
            errors.spanned(
                target,
                format!(
                    "field `{}` is renamed to an empty JSON name; give it a name",
                    field.name
                ),
            );
            continue;
        }
        if !naming.follows(&json.value) {
            let suggestion = naming.suggest(&json.value);
            match json.source {
                NameSource::Ident => errors.spanned(
                    field.ident,
                    format!(
                        "field `{}` does not follow the {naming} naming convention of this event's \
                         JSON; rename it, or add `#[serde(rename = \"{suggestion}\")]`",
                        field.name
                    ),
                ),
                NameSource::Rename(lit) => errors.spanned(
                    lit,
                    format!(
                        "JSON name `{}` does not follow the {naming} naming convention; use \
                         `rename = \"{suggestion}\"`",
                        json.value
                    ),
                ),
                NameSource::RenameAll(rule, lit) => {
                    // One error for the attribute, listing every field it breaks.
                    renamed_badly
                        .get_or_insert_with(|| (rule, lit, Vec::new()))
                        .2
                        .push(format!("`{}` as `{}`", field.name, json.value));
                }
            }
        }
        if let Some(first) = seen.get(&json.value) {
            errors.spanned(
                field.original,
                format!(
                    "field `{}` serializes as `{}`, the same JSON name as {first}; JSON names must \
                     be unique, so rename one of them",
                    field.name, json.value
                ),
            );
            continue;
        }
        seen.insert(json.value.clone(), format!("field `{}`", field.name));
        names.push(json.value);
    }
    if let Some((rule, lit, fields)) = renamed_badly {
        let (s, verb) = if fields.len() == 1 {
            ("", "does")
        } else {
            ("s", "do")
        };
        errors.spanned(
            lit,
            format!(
                "`rename_all = \"{rule}\"` writes field{s} {}, which {verb} not follow the {naming} \
                 naming convention; remove `rename_all`, or declare the convention with \
                 `#[event(naming = \"{rule}\")]`",
                fields.join(", ")
            ),
        );
    }
    names
}

// A field whose JSON name looks like a secret (the list the HTTP middleware masks by) must say
// what it is: written as "***", or allowed as it is. Returns the JSON names to redact.
fn check_sensitive(input: &Input, errors: &mut Errors) -> Vec<String> {
    let mut redacted = Vec::new();
    for field in &input.fields {
        let Some(json) = field.json_name(&input.serde) else {
            if let Some(span) = field.event.redact {
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "field `{}` is skipped by serde, so there is nothing to redact; remove \
                         `#[event(redact)]`",
                        field.name
                    ),
                ));
            }
            continue;
        };
        let is_key = input.is_key(field);
        match (field.event.redact, field.event.allow_sensitive) {
            (Some(_), Some(allow)) => errors.push(syn::Error::new(
                allow,
                format!(
                    "field `{}` is both redacted and allowed as it is; keep one of \
                     `#[event(redact)]` and `#[event(allow_sensitive)]`",
                    field.name
                ),
            )),
            (Some(redact), None) if is_key => errors.push(syn::Error::new(
                redact,
                format!(
                    "the key field `{}` can't be redacted: its value is the record key; key the \
                     event on another field",
                    field.name
                ),
            )),
            (Some(_), None) => redacted.push(json.value),
            (None, Some(_)) => {}
            (None, None) => {
                if let Some(entry) = kafka_events_rules::sensitive_match(&json.value) {
                    errors.spanned(
                        field.ident,
                        format!(
                            "field `{}` looks like it holds a secret (its JSON name `{}` matches \
                             `{entry}`): add `#[event(redact)]` to write it as \"***\", or \
                             `#[event(allow_sensitive)]` if it holds no secret",
                            field.name, json.value
                        ),
                    );
                }
            }
        }
    }
    redacted
}

// One source of the event type header: a fixed `type = ".."` or one `#[event(type)]` field.
fn check_event_type<'a>(input: &'a Input<'a>, errors: &mut Errors) -> Option<EventType<'a>> {
    let mut typed = input.fields.iter().filter(|f| f.event.event_type.is_some());
    let first = typed.next();
    let mut ok = true;
    for extra in typed {
        ok = false;
        errors.push(syn::Error::new(
            extra.event.event_type.expect("filtered"),
            "only one field can carry `#[event(type)]`",
        ));
    }
    match (first, &input.attrs.event_type) {
        (Some(field), Some(fixed)) => {
            errors.spanned(
                &fixed.lit,
                format!(
                    "the event type is given twice: by `type = \"{}\"` and by field `{}` with \
                     `#[event(type)]`; keep one",
                    fixed.value, field.name
                ),
            );
            None
        }
        _ if !ok => None,
        (Some(field), None) => Some(EventType::Field(
            field,
            input.attrs.types.as_ref().map_or(&[], |t| &t.values),
        )),
        (None, fixed) => {
            if let Some(types) = &input.attrs.types {
                errors.spanned(
                    &types.span,
                    match fixed {
                        Some(fixed) => format!(
                            "`types` lists the values of an `#[event(type)]` field, but this \
                             event's type is fixed (`type = \"{}\"`); remove `types`",
                            fixed.value
                        ),
                        None => "`types` lists the values of an `#[event(type)]` field, and no \
                                 field has one; mark the field that holds the event type, or \
                                 remove `types`"
                            .into(),
                    },
                );
                return None;
            }
            Some(
                fixed
                    .as_ref()
                    .map_or(EventType::None, |f| EventType::Const(&f.lit)),
            )
        }
    }
}
