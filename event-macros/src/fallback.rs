//! When the derive fails: the errors, plus a stub impl so that code using the type does not
//! drown in secondary "`KafkaEvent` is not implemented" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub fn expand(node: &DeriveInput, krate: &syn::Path, error: syn::Error) -> TokenStream {
    let ident = &node.ident;
    let (impl_generics, ty_generics, _) = node.generics.split_for_impl();
    let private = quote!(#krate::__private);
    let errors = error.to_compile_error();
    quote! {
        #errors

        #[automatically_derived]
        impl #impl_generics #private::KafkaEvent for #ident #ty_generics
        where
            #ident #ty_generics: #private::Serialize,
        {
            const TOPIC: &'static str = "";
            const FIELD_NAMES: &'static [&'static str] = &[];
            const EVENT_TYPE: #private::Option<&'static str> = #private::None;

            fn key(&self) -> #private::Key<'_> {
                ::core::unreachable!("KafkaEvent derive failed to compile")
            }
        }
    }
}
