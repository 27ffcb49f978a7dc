//! `#[event(fast_json)]`: the event's JSON written by code generated for the struct, the same
//! bytes serde's derive and `serde_json` write. Keys (with their commas and colons) and the tag
//! are escaped here, at compile time, into byte literals; each value goes through the field's
//! `#[event(write_json_with)]` function when it has one, else through the runtime's
//! `json::Field`, which writes strings, numbers, booleans, UUIDs and raw JSON itself and
//! anything else through its `Serialize` impl (into a serializer writing `serde_json`'s bytes). What serde's derive does that this can't mirror
//! (`into`, a `remote` type, `getter`, type parameters; `flatten` is refused for every event) is refused with an error.

use kafka_events_rules::MASK;
use kafka_events_rules::json::write_str;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::LitByteStr;
use syn::spanned::Spanned;

use crate::ast::{Field, Input};
use crate::attr::Errors;
use crate::valid::Checked;

/// Reports what `fast_json` can't write the way serde's derive does.
pub fn check(input: &Input, errors: &mut Errors) {
    for field in &input.fields {
        let Some(with) = &field.event.write_json_with else {
            continue;
        };
        if input.attrs.fast_json.is_none() {
            errors.spanned(
                &with.lit,
                "`write_json_with` is what `fast_json` writes the field with: add `fast_json` to \
                 the struct's `#[event(..)]`, or remove `write_json_with`",
            );
        } else if field.event.redact.is_some() {
            errors.spanned(
                &with.lit,
                "a redacted field is written as \"***\": remove `write_json_with`",
            );
        } else if field.is_skipped() {
            errors.spanned(
                &with.lit,
                "a field serde skips is not written: remove `write_json_with`",
            );
        }
    }
    if input.attrs.fast_json.is_none() {
        return;
    }
    let generics = &input.original.generics;
    if let Some(param) = generics.type_params().next() {
        errors.spanned(
            param,
            "`fast_json` is for events without type parameters: the generated writer picks each \
             field's writer by its concrete type; remove `fast_json` or the parameter",
        );
    }
    if let Some(span) = input.serde.into {
        errors.push(syn::Error::new(
            span,
            "`fast_json` can't be used with `#[serde(into = \"..\")]`: serde writes another type; \
             remove `fast_json`",
        ));
    }
    if let Some(remote) = input.serde.remote.as_ref().filter(|r| r.value() != "Self") {
        errors.spanned(
            remote,
            "`fast_json` can't be used with a `remote` type other than `Self`: remove `fast_json`",
        );
    }
    for field in &input.fields {
        // `flatten` is refused for every event (its keys can't be checked).
        if let Some(span) = field.serde.getter {
            errors.push(syn::Error::new(
                span,
                format!(
                    "`fast_json` can't write a field read through a `getter`: remove `fast_json` \
                     from the struct, or `getter` from `{}`",
                    field.name
                ),
            ));
        }
        if let (Some(span), None) = (field.serde.skip_serializing_if, &field.serde.skip_if) {
            errors.push(syn::Error::new(
                span,
                "`fast_json` needs `skip_serializing_if` to name a function, such as \
                 `skip_serializing_if = \"Option::is_none\"`",
            ));
        }
    }
}

/// The `write_json` method, when the struct asks for it.
pub fn write_json_fn(input: &Input, checked: &Checked, private: &TokenStream) -> TokenStream {
    if input.attrs.fast_json.is_none() {
        return TokenStream::new();
    }
    let mut body = Vec::new();
    let mut commas = Commas::None;
    if let Some((tag, value)) = &checked.tag {
        let mut bytes = key_bytes(tag);
        write_str(&mut bytes, value);
        body.push(push_bytes(&bytes, Span::call_site()));
        commas = Commas::Written;
    }
    for field in &input.fields {
        let Some(name) = field.json_name(&input.serde) else {
            continue;
        };
        let key = key_bytes(&name.value);
        let value = write_value(field, private);
        let span = field.original.span();
        match &field.serde.skip_if {
            None => {
                let prefix = commas.before(&key, span);
                commas = Commas::Written;
                body.push(quote!(#prefix #value));
            }
            Some(skip) => {
                let member = field.ident;
                let prefix = commas.before(&key, span);
                let note = commas.after_optional();
                body.push(quote_spanned! {span=>
                    if !#skip(&self.#member) {
                        #prefix
                        #value
                        #note
                    }
                });
                if commas != Commas::Written {
                    commas = Commas::Tracked;
                }
            }
        }
    }
    let tracked = body_tracks(&input.fields, checked);
    let first = tracked.then(|| quote!(let mut __kafka_events_first = true;));
    quote! {
        #[inline]
        #[allow(unused_assignments)]
        fn write_json(
            &self,
            __kafka_events_out: &mut #private::Vec<u8>,
        ) -> #private::Result<(), #private::JsonError> {
            #[allow(unused_imports)]
            use #private::json::{ViaSerde as _, ViaWriteJson as _};
            #first
            __kafka_events_out.push(b'{');
            #(#body)*
            __kafka_events_out.push(b'}');
            #private::Result::Ok(())
        }
    }
}

/// Whether a comma goes before the next key: known at compile time until a field that may be
/// skipped comes before any that is always written; from then on, tracked at run time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commas {
    /// Nothing written yet: no comma.
    None,
    /// Something written: a comma.
    Written,
    /// Known at run time only (`first`).
    Tracked,
}

impl Commas {
    /// What writes the key (and the comma before it).
    fn before(self, key: &[u8], span: Span) -> TokenStream {
        match self {
            Commas::None => push_bytes(key, span),
            Commas::Written => {
                let mut with_comma = vec![b','];
                with_comma.extend_from_slice(key);
                push_bytes(&with_comma, span)
            }
            Commas::Tracked => {
                let key = push_bytes(key, span);
                quote! {
                    if !__kafka_events_first {
                        __kafka_events_out.push(b',');
                    }
                    #key
                }
            }
        }
    }

    /// What a field that may be skipped records once it is written.
    fn after_optional(self) -> TokenStream {
        match self {
            Commas::Written => TokenStream::new(),
            Commas::None | Commas::Tracked => quote!(__kafka_events_first = false;),
        }
    }
}

/// Whether the writer needs `first`: some field that may be skipped comes before any field
/// that is always written (and before the tag).
fn body_tracks(fields: &[Field], checked: &Checked) -> bool {
    checked.tag.is_none()
        && fields
            .iter()
            .find(|f| !f.is_skipped())
            .is_some_and(|f| f.serde.skip_if.is_some())
}

/// `"name":` as `serde_json` writes an object key.
fn key_bytes(name: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(name.len() + 3);
    write_str(&mut bytes, name);
    bytes.push(b':');
    bytes
}

fn push_bytes(bytes: &[u8], span: Span) -> TokenStream {
    let literal = LitByteStr::new(bytes, span);
    quote!(__kafka_events_out.extend_from_slice(#literal);)
}

/// What writes the field's value: the mask, its `write_json_with` function, its `serialize_with`
/// function, or its type's writer.
fn write_value(field: &Field, private: &TokenStream) -> TokenStream {
    let span = field.original.ty.span();
    if field.event.redact.is_some() {
        let mut mask = Vec::new();
        write_str(&mut mask, MASK);
        return push_bytes(&mask, span);
    }
    let member = field.ident;
    if let Some(with) = &field.event.write_json_with {
        // `let _: ()`: a function returning something (a `Result` the call would drop) is
        // refused, at the attribute.
        let (path, span) = (&with.value, with.lit.span());
        return quote_spanned! {span=>
            let _: () = #path(&self.#member, __kafka_events_out);
        };
    }
    match &field.serde.serialize_with {
        Some(with) => quote_spanned! {span=>
            #private::json::serialize_with(
                __kafka_events_out,
                |__kafka_events_serializer| #with(&self.#member, __kafka_events_serializer),
            )?;
        },
        None => quote_spanned! {span=>
            (&#private::json::Field(&self.#member)).__kafka_events_write(__kafka_events_out)?;
        },
    }
}
