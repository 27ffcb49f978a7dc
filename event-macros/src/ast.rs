//! The struct as the derive sees it. Every node borrows its `syn` original so errors can point at it.

use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attr::{ContainerAttrs, Errors, FieldEventAttrs, SerdeContainer, SerdeField};
use crate::case::RenameRule;

pub struct Input<'a> {
    pub original: &'a DeriveInput,
    pub attrs: ContainerAttrs,
    pub serde: SerdeContainer,
    pub fields: Vec<Field<'a>>,
    /// False for enums, unions, tuple and unit structs (the error is reported already).
    pub is_named_struct: bool,
}

pub struct Field<'a> {
    pub original: &'a syn::Field,
    pub ident: &'a Ident,
    /// The identifier with `r#` stripped: what `key = ".."` names and what serde starts from.
    pub name: String,
    pub ty: &'a Type,
    pub serde: SerdeField,
    pub event: FieldEventAttrs,
}

/// Where a field's serialized name came from, so an error can say what to change.
pub enum NameSource<'a> {
    Ident,
    Rename(&'a LitStr),
    RenameAll(RenameRule, &'a LitStr),
}

pub struct JsonName<'a> {
    pub value: String,
    pub source: NameSource<'a>,
}

impl<'a> Input<'a> {
    /// Reads the struct and its attributes, reporting a shape other than a struct with named
    /// fields; attribute errors are collected either way.
    pub fn from_syn(node: &'a DeriveInput, errors: &mut Errors) -> Self {
        let attrs = ContainerAttrs::parse(&node.attrs, errors);
        let serde = SerdeContainer::parse(&node.attrs, errors);
        let mut is_named_struct = false;
        let fields = match &node.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => {
                    is_named_struct = true;
                    named
                        .named
                        .iter()
                        .map(|field| Field::from_syn(field, errors))
                        .collect()
                }
                Fields::Unnamed(unnamed) => {
                    errors.spanned(
                        unnamed,
                        "KafkaEvent cannot be derived for a tuple struct: an event serializes as a \
                         JSON object, so give its fields names (`struct Event { id: Uuid, .. }`)",
                    );
                    Vec::new()
                }
                Fields::Unit => {
                    errors.spanned(
                        &node.ident,
                        "KafkaEvent cannot be derived for a unit struct: an event needs at least \
                         its key field (`struct Event { id: Uuid, .. }`)",
                    );
                    Vec::new()
                }
            },
            Data::Enum(data) => {
                errors.spanned(
                    data.enum_token,
                    "KafkaEvent cannot be derived for an enum: its JSON keys depend on the variant \
                     and can't be checked; derive it on a struct with named fields, one per event kind",
                );
                Vec::new()
            }
            Data::Union(data) => {
                errors.spanned(
                    data.union_token,
                    "KafkaEvent cannot be derived for a union: use a struct with named fields",
                );
                Vec::new()
            }
        };
        Input {
            original: node,
            attrs,
            serde,
            fields,
            is_named_struct,
        }
    }

    pub fn field_named(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field `key = ".."` names (by its Rust name, `r#` optional), if it names one.
    pub fn key_field(&self) -> Option<&Field<'a>> {
        let key = &self.attrs.key.as_ref()?.value;
        self.field_named(key.strip_prefix("r#").unwrap_or(key))
    }

    /// Whether `field` is the key field.
    pub fn is_key(&self, field: &Field<'_>) -> bool {
        self.key_field().is_some_and(|key| key.name == field.name)
    }

    /// The crate path generated code starts from: `::kafka_events` unless `crate = ".."` says
    /// otherwise.
    pub fn krate(&self) -> syn::Path {
        match &self.attrs.krate {
            Some(path) => path.value.clone(),
            None => syn::parse_quote!(::kafka_events),
        }
    }

    /// The naming convention every JSON name must follow.
    pub fn naming(&self) -> RenameRule {
        self.attrs
            .naming
            .as_ref()
            .map_or(RenameRule::SnakeCase, |n| n.value)
    }
}

impl<'a> Field<'a> {
    fn from_syn(node: &'a syn::Field, errors: &mut Errors) -> Self {
        let ident = node.ident.as_ref().expect("named field");
        Field {
            original: node,
            ident,
            name: ident.unraw().to_string(),
            ty: &node.ty,
            serde: SerdeField::parse(&node.attrs),
            event: FieldEventAttrs::parse(&node.attrs, errors),
        }
    }

    /// Whether the field never appears in the JSON object.
    pub fn is_skipped(&self) -> bool {
        self.serde.skip.is_some() || self.serde.skip_serializing.is_some()
    }

    /// The key this field is written under, exactly as serde computes it; `None` when skipped.
    /// A flattened field has no key of its own; callers reject it before asking.
    pub fn json_name<'s>(&'s self, container: &'s SerdeContainer) -> Option<JsonName<'s>> {
        if self.is_skipped() {
            return None;
        }
        if let Some(lit) = &self.serde.rename {
            return Some(JsonName {
                value: lit.value(),
                source: NameSource::Rename(lit),
            });
        }
        match &container.rename_all {
            Some(spanned) => match spanned.value {
                Some(rule) => Some(JsonName {
                    value: rule.apply_to_field(&self.name),
                    source: NameSource::RenameAll(rule, &spanned.lit),
                }),
                // The unknown rule is reported already; keep checking the plain name.
                None => Some(JsonName {
                    value: self.name.clone(),
                    source: NameSource::Ident,
                }),
            },
            None => Some(JsonName {
                value: self.name.clone(),
                source: NameSource::Ident,
            }),
        }
    }
}
