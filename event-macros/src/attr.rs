//! Attribute parsing: `#[event(..)]` strictly (every mistake is an error with a span), `#[serde(..)]`
//! leniently (only the keys that change a serialized name are read; serde checks the rest).

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Lit, LitStr, Token};

use crate::case::RenameRule;

/// Collects every error so that all of them are reported in one compile.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn into_result(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A string value together with the literal it came from, so errors can point at it.
#[derive(Clone)]
pub struct Attr<T> {
    pub value: T,
    pub lit: LitStr,
}

/// `#[event(..)]` on the struct.
#[derive(Default)]
pub struct ContainerAttrs {
    /// The first `#[event]` attribute, where "missing `topic`" errors point.
    pub first: Option<TokenStream>,
    /// Every key given, valid or not, so a bad value is not also reported as missing.
    pub given: Vec<String>,
    pub topic: Option<Attr<String>>,
    pub key: Option<Attr<String>>,
    pub event_type: Option<Attr<String>>,
    pub naming: Option<Attr<RenameRule>>,
    pub krate: Option<Attr<syn::Path>>,
    /// `contract = "contracts/orders/order.placed.json"`: the committed contract file, relative to
    /// the crate root.
    pub contract: Option<Attr<String>>,
    /// `envelope_with = "module"`: `module::fields` and `module::write_payload` say what the
    /// event puts in the `EventJson` envelope.
    pub envelope_with: Option<Attr<syn::Path>>,
    /// `types = ["login.success", ..]`: every value the `#[event(type)]` field can take.
    pub types: Option<Types>,
    /// `fast_json`: the derive writes the event's JSON itself (see `json.rs`).
    pub fast_json: Option<Span>,
    /// The known keys that unknown ones look like typos of: such a key is not also reported
    /// as missing (its typo's error names it).
    pub misspelled: Vec<&'static str>,
}

/// The `types = [..]` list, where errors about it point.
pub struct Types {
    pub values: Vec<LitStr>,
    pub span: TokenStream,
}

const CONTAINER_NAMES: [&str; 9] = [
    "topic",
    "key",
    "type",
    "types",
    "naming",
    "crate",
    "contract",
    "envelope_with",
    "fast_json",
];
const CONTAINER_KEYS: &str = "`topic`, `key`, `type`, `types`, `naming`, `crate`, `contract`, \
                              `envelope_with` or `fast_json`";

/// The known name `unknown` is most likely a typo of (at most two edits away), if any.
fn did_you_mean(unknown: &str, known: &[&'static str]) -> Option<&'static str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let current = row[j + 1];
                row[j + 1] = (previous + usize::from(ca != *cb))
                    .min(row[j] + 1)
                    .min(current + 1);
                previous = current;
            }
        }
        row[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(unknown, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

impl ContainerAttrs {
    pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut out = ContainerAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
            out.first
                .get_or_insert_with(|| quote::ToTokens::to_token_stream(attr));
            let result = attr.parse_nested_meta(|meta| {
                let name = path_name(&meta.path);
                out.given.push(name.clone());
                match name.as_str() {
                    "topic" => set_once(&mut out.topic, &meta, errors, |lit| Ok(lit.value())),
                    "key" => set_once(&mut out.key, &meta, errors, |lit| Ok(lit.value())),
                    "type" => set_once(&mut out.event_type, &meta, errors, |lit| {
                        if lit.value().is_empty() {
                            Err(syn::Error::new_spanned(
                                lit,
                                "event `type` is empty: give a name such as `type = \"audit.log\"`, or leave `type` out",
                            ))
                        } else {
                            Ok(lit.value())
                        }
                    }),
                    "naming" => set_once(&mut out.naming, &meta, errors, |lit| {
                        RenameRule::from_str(&lit.value()).ok_or_else(|| {
                            syn::Error::new_spanned(
                                lit,
                                format!(
                                    "unknown naming convention `{}`, expected one of {}",
                                    lit.value(),
                                    RenameRule::expected()
                                ),
                            )
                        })
                    }),
                    "crate" => set_once(&mut out.krate, &meta, errors, |lit| {
                        lit.parse::<syn::Path>().map_err(|_| {
                            syn::Error::new_spanned(
                                lit,
                                format!(
                                    "`crate` expects a path such as `crate = \"::my_events\"`, found `{}`",
                                    lit.value()
                                ),
                            )
                        })
                    }),
                    "envelope_with" => set_once(&mut out.envelope_with, &meta, errors, |lit| {
                        lit.parse::<syn::Path>().map_err(|_| {
                            syn::Error::new_spanned(
                                lit,
                                format!(
                                    "`envelope_with` names a module with `fn fields(&Event) -> \
                                     EnvelopeFields` and `fn write_payload(&Event, &mut Vec<u8>)`, \
                                     such as `envelope_with = \"order_envelope\"`; found `{}`",
                                    lit.value()
                                ),
                            )
                        })
                    }),
                    "types" => {
                        parse_types(&mut out.types, &meta, errors);
                        Ok(())
                    }
                    "fast_json" => {
                        if out.fast_json.is_some() {
                            errors.push(meta.error("duplicate event attribute `fast_json`: give it once"));
                        }
                        out.fast_json = Some(meta.path.span());
                        if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                            errors.push(meta.error("`fast_json` takes no value: `#[event(fast_json)]`"));
                            return skip_value(&meta);
                        }
                        Ok(())
                    }
                    "contract" => set_once(&mut out.contract, &meta, errors, |lit| {
                        let path = lit.value();
                        if path.is_empty() || std::path::Path::new(&path).is_absolute() {
                            Err(syn::Error::new_spanned(
                                lit,
                                "`contract` is a path relative to the crate root, such as \
                                 `contract = \"contracts/orders/order.placed.json\"`",
                            ))
                        } else {
                            Ok(path)
                        }
                    }),
                    _ => {
                        let hint = match did_you_mean(&name, &CONTAINER_NAMES) {
                            Some(known) => {
                                out.misspelled.push(known);
                                format!("did you mean `{known}`?")
                            }
                            None => format!("expected {CONTAINER_KEYS}"),
                        };
                        errors.push(meta.error(format!("unknown event attribute `{name}`: {hint}")));
                        skip_value(&meta)
                    }
                }
            });
            if let Err(e) = result {
                errors.push(e);
            }
        }
        out
    }
}

/// Parses `types = ["a", "b"]`: string literals, none empty, none twice.
fn parse_types(slot: &mut Option<Types>, meta: &ParseNestedMeta, errors: &mut Errors) {
    let span = quote::ToTokens::to_token_stream(&meta.path);
    let parsed = meta.value().and_then(|v| v.parse::<Expr>());
    let mut expr = match parsed {
        Ok(expr) => expr,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    let Expr::Array(array) = expr else {
        errors.spanned(
            &expr,
            "`types` expects a list of event types: `types = [\"login.success\", \"login.failure\"]`",
        );
        return;
    };
    if slot.is_some() {
        errors.spanned(&span, "duplicate event attribute `types`: give it once");
        return;
    }
    let mut values: Vec<LitStr> = Vec::new();
    for element in &array.elems {
        match element {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                if lit.value().is_empty() {
                    errors.spanned(lit, "an event type in `types` is empty: give it a name");
                } else if values.iter().any(|v| v.value() == lit.value()) {
                    errors.spanned(
                        lit,
                        format!("event type `{}` is listed twice in `types`", lit.value()),
                    );
                } else {
                    values.push(lit.clone());
                }
            }
            other => errors.spanned(other, "`types` lists string literals only"),
        }
    }
    if array.elems.is_empty() {
        errors.spanned(
            &array,
            "`types` is empty: list every value the `#[event(type)]` field takes, or leave `types` out",
        );
    }
    *slot = Some(Types { values, span });
}

/// `#[event(..)]` on a field.
#[derive(Default)]
pub struct FieldEventAttrs {
    /// `#[event(type)]`: this field's value is the event type header.
    pub event_type: Option<Span>,
    /// `#[event(redact)]`: the field is written as `"***"`.
    pub redact: Option<Span>,
    /// `#[event(allow_sensitive)]`: the field's name looks like a secret, and it holds none.
    pub allow_sensitive: Option<Span>,
    /// `#[event(write_json_with = "path")]`: `fast_json` writes the field's value with
    /// `path(&value, &mut Vec<u8>)`.
    pub write_json_with: Option<Attr<syn::ExprPath>>,
}

impl FieldEventAttrs {
    pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut out = FieldEventAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
            let result = attr.parse_nested_meta(|meta| {
                let name = path_name(&meta.path);
                if name == "write_json_with" {
                    return set_once(&mut out.write_json_with, &meta, errors, |lit| {
                        lit.parse().map_err(|_| {
                            syn::Error::new(
                                lit.span(),
                                format!(
                                    "`write_json_with` names a function \
                                     `fn(&FieldType, &mut Vec<u8>)`, such as \
                                     `write_json_with = \"my_json::write\"`; found `{}`",
                                    lit.value()
                                ),
                            )
                        })
                    });
                }
                let slot = match name.as_str() {
                    "type" if !meta.input.peek(Token![=]) => &mut out.event_type,
                    "redact" => &mut out.redact,
                    "allow_sensitive" => &mut out.allow_sensitive,
                    _ => {
                        errors.push(meta.error(format!(
                            "unknown field attribute `{name}`, expected `#[event(type)]` (this \
                             field's value is the event type), `#[event(redact)]` (write it as \
                             \"***\"), `#[event(allow_sensitive)]` or \
                             `#[event(write_json_with = \"path\")]`; `topic`, `key`, `naming` \
                             and `crate` go on the struct"
                        )));
                        return skip_value(&meta);
                    }
                };
                if slot.is_some() {
                    errors.push(meta.error(format!("duplicate event attribute `{name}`")));
                }
                *slot = Some(meta.path.span());
                if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                    errors.push(meta.error(format!("`#[event({name})]` takes no value")));
                    return skip_value(&meta);
                }
                Ok(())
            });
            if let Err(e) = result {
                errors.push(e);
            }
        }
        out
    }
}

/// The parts of `#[serde(..)]` on the struct that decide the serialized field names.
#[derive(Default)]
pub struct SerdeContainer {
    /// `rename = ".."` (serialize side): the struct's serde name, which a `tag` writes.
    pub rename: Option<LitStr>,
    pub rename_all: Option<Attr<Option<RenameRule>>>,
    /// `tag = "t"` adds a key `t` to a struct's JSON object.
    pub tag: Option<LitStr>,
    pub transparent: Option<Span>,
    /// `into = ".."`: serde writes another type; the derive can't write it itself.
    pub into: Option<Span>,
    /// `remote = ".."`: the type whose fields are written.
    pub remote: Option<LitStr>,
}

impl SerdeContainer {
    pub fn parse(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut out = SerdeContainer::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    if let Some(lit) = serialize_side(&meta)? {
                        let rule = RenameRule::from_str(&lit.value());
                        if rule.is_none() {
                            errors.spanned(
                                &lit,
                                format!(
                                    "unknown rename rule `rename_all = \"{}\"`, expected one of {}",
                                    lit.value(),
                                    RenameRule::expected()
                                ),
                            );
                        }
                        out.rename_all = Some(Attr { value: rule, lit });
                    }
                    Ok(())
                } else if meta.path.is_ident("rename") {
                    if let Some(lit) = serialize_side(&meta)? {
                        out.rename = Some(lit);
                    }
                    Ok(())
                } else if meta.path.is_ident("tag") {
                    out.tag = Some(string_value(&meta)?);
                    Ok(())
                } else if meta.path.is_ident("transparent") {
                    out.transparent = Some(meta.path.span());
                    Ok(())
                } else if meta.path.is_ident("into") {
                    out.into = Some(meta.path.span());
                    skip_value(&meta)
                } else if meta.path.is_ident("remote") {
                    out.remote = Some(string_value(&meta)?);
                    Ok(())
                } else {
                    skip_value(&meta)
                }
            });
            // A malformed serde attribute is serde's to report.
            drop(result);
        }
        out
    }
}

/// The parts of `#[serde(..)]` on a field that decide whether and under which name it appears.
#[derive(Default)]
pub struct SerdeField {
    pub rename: Option<LitStr>,
    pub skip: Option<Span>,
    pub skip_serializing: Option<Span>,
    pub skip_serializing_if: Option<Span>,
    pub flatten: Option<Span>,
    /// The function `skip_serializing_if = ".."` names, when it is a path.
    pub skip_if: Option<syn::ExprPath>,
    /// The function that writes the field: `serialize_with = "f"`, or `with = "m"`'s
    /// `m::serialize`.
    pub serialize_with: Option<syn::ExprPath>,
    /// `getter = ".."` (remote types): the field is read through a function.
    pub getter: Option<Span>,
}

impl SerdeField {
    pub fn parse(attrs: &[Attribute]) -> Self {
        let mut out = SerdeField::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let result = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("rename") {
                    if let Some(lit) = serialize_side(&meta)? {
                        out.rename = Some(lit);
                    }
                    return Ok(());
                }
                if meta.path.is_ident("skip_serializing_if") {
                    out.skip_serializing_if = Some(span);
                    out.skip_if = string_value(&meta)?.parse().ok();
                    return Ok(());
                }
                if meta.path.is_ident("serialize_with") {
                    out.serialize_with = string_value(&meta)?.parse().ok();
                    return Ok(());
                }
                if meta.path.is_ident("with") {
                    let module: Option<syn::ExprPath> = string_value(&meta)?.parse().ok();
                    out.serialize_with = module.map(|mut module| {
                        module.path.segments.push(syn::parse_quote!(serialize));
                        module
                    });
                    return Ok(());
                }
                let slot = if meta.path.is_ident("skip") {
                    &mut out.skip
                } else if meta.path.is_ident("skip_serializing") {
                    &mut out.skip_serializing
                } else if meta.path.is_ident("getter") {
                    &mut out.getter
                } else if meta.path.is_ident("flatten") {
                    &mut out.flatten
                } else {
                    return skip_value(&meta);
                };
                *slot = Some(span);
                skip_value(&meta)
            });
            drop(result);
        }
        out
    }
}

/// Reads `name = "x"` or `name(serialize = "x", deserialize = "y")` and returns the serialize side.
fn serialize_side(meta: &ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return string_value(meta).map(Some);
    }
    let mut found = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            found = Some(string_value(&inner)?);
            Ok(())
        } else {
            skip_value(&inner)
        }
    })?;
    Ok(found)
}

/// Reads `= "string"`, also when the literal came through a `macro_rules!` fragment.
fn string_value(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let mut expr: Expr = meta.value()?.parse()?;
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

/// Consumes whatever follows a key we do not interpret: `= expr`, `(...)`, or nothing.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Parses `key = "string"` once, reporting a duplicate key or a value of the wrong kind.
fn set_once<T>(
    slot: &mut Option<Attr<T>>,
    meta: &ParseNestedMeta,
    errors: &mut Errors,
    convert: impl FnOnce(&LitStr) -> syn::Result<T>,
) -> syn::Result<()> {
    let name = path_name(&meta.path);
    if !meta.input.peek(Token![=]) {
        errors.push(meta.error(format!(
            "event attribute `{name}` needs a value: `{name} = \"...\"`"
        )));
        return skip_value(meta);
    }
    let mut expr: Expr = meta.value()?.parse()?;
    // A literal passed through a `macro_rules!` fragment arrives wrapped in an invisible group.
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    let lit = match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.clone(),
        other => {
            errors.spanned(
                other,
                format!("event attribute `{name}` expects a string literal: `{name} = \"...\"`"),
            );
            return Ok(());
        }
    };
    if slot.is_some() {
        errors.push(meta.error(format!("duplicate event attribute `{name}`: give it once")));
        return Ok(());
    }
    match convert(&lit) {
        Ok(value) => *slot = Some(Attr { value, lit }),
        Err(e) => errors.push(e),
    }
    Ok(())
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
