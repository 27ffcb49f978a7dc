//! Checks that need several facts at once. Each `check_*` reports into `Errors` and returns what
//! `expand` needs, so expansion itself cannot fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kafka_events_rules::contract::{CONTRACTS_ENV, OVERWRITE, contract_fields};
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
    /// The key field's JSON name.
    pub key_name: String,
    /// `#[serde(tag = "..")]`: the key and the value serde writes there.
    pub tag: Option<(String, String)>,
    pub contract: Option<Contract<'a>>,
}

/// `contract = ".."`: the path as written, and the file found for it, if there is one yet.
pub struct Contract<'a> {
    pub path: &'a LitStr,
    pub file: Option<PathBuf>,
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
    let contract = check_contract(input, &field_names, errors);
    let key = key?;
    Some(Checked {
        topic: topic?,
        key,
        key_name: key.json_name(&input.serde)?.value,
        tag: input
            .serde
            .tag
            .as_ref()
            .map(|tag| (tag.value(), serde_name(input))),
        field_names,
        event_type: event_type?,
        redacted,
        contract,
    })
}

/// The struct's name as serde writes it (under a `tag`).
fn serde_name(input: &Input) -> String {
    match &input.serde.rename {
        Some(lit) => lit.value(),
        None => input.original.ident.to_string(),
    }
}

// The committed contract is what consumers were promised: a field it lists that the struct no
// longer writes is a change they read as a zero value or a failed record. The types are checked
// by `kafka_events::contract::verify`, which sees them; the macro only sees names. A file not
// written yet promises nothing (`verify` fails until it is), and while the contracts are being
// rewritten on purpose (`KAFKA_EVENTS_CONTRACTS=overwrite`, which `verify` needs compiled code
// to do) the old file is not held against the struct.
fn check_contract<'a>(
    input: &'a Input,
    names: &[String],
    errors: &mut Errors,
) -> Option<Contract<'a>> {
    let path = &input.attrs.contract.as_ref()?.lit;
    let file = crate_root(path).join(path.value());
    let rewriting = std::env::var(CONTRACTS_ENV).is_ok_and(|v| v == OVERWRITE);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(Contract { path, file: None });
        }
        Err(e) => {
            errors.spanned(
                path,
                format!("cannot read the contract `{}`: {e}", path.value()),
            );
            return None;
        }
    };
    let contract = Contract {
        path,
        file: Some(file),
    };
    if rewriting {
        return Some(contract);
    }
    let rewrite = format!("`{CONTRACTS_ENV}={OVERWRITE} cargo test`");
    let fields = match contract_fields(&text) {
        Ok(fields) => fields,
        Err(e) => {
            errors.spanned(
                path,
                format!(
                    "the contract `{}` can't be read: {e}; restore it from version control, or \
                     write it anew with {rewrite}",
                    path.value()
                ),
            );
            return Some(contract);
        }
    };
    let gone: Vec<String> = fields
        .iter()
        .filter(|f| !names.contains(f))
        .map(|f| format!("`{f}`"))
        .collect();
    if !gone.is_empty() {
        let (noun, verb, it) = if gone.len() == 1 {
            ("field", "is", "it")
        } else {
            ("fields", "are", "them")
        };
        errors.spanned(
            path,
            format!(
                "{noun} {} {verb} in the committed contract `{}`, and `{}` no longer writes {it} \
                 (removed, renamed or skipped), so its consumers would read a zero value; write \
                 {it} again, or, once every consumer is ready, rewrite the contract with {rewrite}",
                gone.join(", "),
                path.value(),
                input.original.ident,
            ),
        );
    }
    Some(contract)
}

/// The crate root a contract path is relative to: the package being compiled, or, for a source
/// file outside it (as trybuild compiles test files), the nearest directory above that file
/// holding a `Cargo.toml`.
fn crate_root(lit: &LitStr) -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let source = proc_macro::is_available()
        .then(|| lit.span().unwrap().local_file())
        .flatten()
        .and_then(|file| Some(std::env::current_dir().ok()?.join(file)))
        .map(|file| canonical(&file));
    let manifest = canonical(&manifest);
    match source {
        Some(file) if !file.starts_with(&manifest) => file
            .ancestors()
            .skip(1)
            .find(|dir| dir.join("Cargo.toml").is_file())
            .map_or(manifest, Path::to_path_buf),
        _ => manifest,
    }
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
