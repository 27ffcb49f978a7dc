//! Writes the impl for a validated struct. Nothing here can fail.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::ast::Input;
use crate::attr::Errors;
use crate::fallback;
use crate::json;
use crate::valid::{self, Checked, EventType};

pub fn derive(node: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let input = Input::from_syn(node, &mut errors);
    let krate = input.krate();
    let checked = if input.is_named_struct {
        valid::validate(&input, &mut errors)
    } else {
        None
    };
    json::check(&input, &mut errors);
    match (errors.into_result(), checked) {
        (Ok(()), Some(checked)) => impl_event(&input, &checked, &krate),
        (Err(error), _) => fallback::expand(node, &krate, error),
        (Ok(()), None) => fallback::expand(
            node,
            &krate,
            syn::Error::new_spanned(&node.ident, "KafkaEvent could not be derived"),
        ),
    }
}

fn impl_event(input: &Input, checked: &Checked, krate: &syn::Path) -> TokenStream {
    let ident = &input.original.ident;
    let (impl_generics, ty_generics, where_clause) = input.original.generics.split_for_impl();
    let private = quote!(#krate::__private);

    let key = checked.key;
    let key_member = key.ident;
    let key_ty = key.ty;
    // Spanned at the field type, so "`f64` cannot be a Kafka event key" points there.
    let to_key = quote_spanned!(key_ty.span()=> <#key_ty as #private::EventKey>::to_key);

    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if mentions_type_param(key_ty, &input.original.generics) {
        // A generic key type is a key only when its parameters say so.
        predicates.push(quote_spanned!(key_ty.span()=> #key_ty: #private::EventKey));
    }
    if !input.original.generics.params.is_empty() {
        // Generic events serialize only when their parameters do; serde's derive adds exactly
        // those bounds, so ask for the outcome rather than repeating them.
        predicates.push(quote!(#ident #ty_generics: #private::Serialize));
    }

    let topic = checked.topic;
    let names = &checked.field_names;
    let redacted = &checked.redacted;
    let redacted_const = if redacted.is_empty() {
        TokenStream::new()
    } else {
        quote!(const REDACTED: &'static [&'static str] = &[#(#redacted),*];)
    };
    let (const_type, types, type_fn) = match checked.event_type {
        EventType::None => (quote!(#private::None), quote!(&[]), TokenStream::new()),
        EventType::Const(lit) => (
            quote!(#private::Some(#lit)),
            quote!(&[#lit]),
            TokenStream::new(),
        ),
        EventType::Field(field, values) => {
            let member = field.ident;
            let ty = field.ty;
            let as_str = quote_spanned!(ty.span()=> <#ty as #private::AsRef<str>>::as_ref);
            (
                quote!(#private::None),
                quote!(&[#(#values),*]),
                quote! {
                    #[inline]
                    fn event_type(&self) -> #private::Option<&str> {
                        #private::Some(#as_str(&self.#member))
                    }
                },
            )
        }
    };

    let key_name = &checked.key_name;
    let tag_const = match &checked.tag {
        Some((tag, value)) => quote! {
            const TAG: #private::Option<(&'static str, &'static str)> =
                #private::Some((#tag, #value));
        },
        None => TokenStream::new(),
    };
    let (contract_const, contract_file) = match &checked.contract {
        Some(contract) => {
            let path = contract.path;
            let env = kafka_events_rules::contract::CONTRACTS_ENV;
            // Including the file makes cargo rebuild this crate when the contract changes, and
            // reading the variable when it is set or unset, so the check runs against the
            // committed file, not the one of the last build.
            let tracked = contract.file.as_ref().map(|file| {
                let file = file.to_string_lossy();
                quote! {
                    const _: &[u8] = ::core::include_bytes!(#file);
                    const _: ::core::option::Option<&str> = ::core::option_env!(#env);
                }
            });
            (
                quote!(const CONTRACT: #private::Option<&'static str> = #private::Some(#path);),
                tracked.unwrap_or_default(),
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    };

    let envelope_fns = match &input.attrs.envelope_with {
        Some(with) => {
            let module = &with.value;
            let fields = quote_spanned!(with.lit.span()=> #module::fields);
            let write = quote_spanned!(with.lit.span()=> #module::write_payload);
            quote! {
                #[inline]
                fn envelope_fields(&self) -> #private::EnvelopeFields<'_> {
                    #fields(self)
                }

                #[inline]
                fn write_envelope_payload(
                    &self,
                    out: &mut #private::Vec<u8>,
                ) -> #private::Result<(), #private::JsonError> {
                    #write(self, out)
                }
            }
        }
        None => TokenStream::new(),
    };

    let write_json = json::write_json_fn(input, checked, &private);

    quote! {
        #contract_file

        #[automatically_derived]
        impl #impl_generics #private::KafkaEvent for #ident #ty_generics
        where
            #(#predicates,)*
        {
            const TOPIC: &'static str = #topic;
            const FIELD_NAMES: &'static [&'static str] = &[#(#names),*];
            const EVENT_TYPE: #private::Option<&'static str> = #const_type;
            const EVENT_TYPES: &'static [&'static str] = #types;
            const KEY_FIELD: #private::Option<&'static str> = #private::Some(#key_name);
            #redacted_const
            #tag_const
            #contract_const

            #[inline]
            fn key(&self) -> #private::Key<'_> {
                #to_key(&self.#key_member)
            }

            #type_fn

            #write_json

            #envelope_fns
        }
    }
}

fn mentions_type_param(ty: &syn::Type, generics: &syn::Generics) -> bool {
    fn walk(tokens: TokenStream, params: &[&syn::Ident]) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => params.contains(&&ident),
            proc_macro2::TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    let params: Vec<&syn::Ident> = generics.type_params().map(|p| &p.ident).collect();
    !params.is_empty() && walk(quote!(#ty), &params)
}
