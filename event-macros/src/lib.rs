//! Derive macro for [`kafka-events`](https://docs.rs/kafka-events).
//!
//! Use it through the `kafka-events` crate, which re-exports it together with the runtime trait it
//! implements. The pipeline is: [`ast`] reads the struct, [`attr`] parses `#[event]` strictly and
//! `#[serde]` leniently, [`valid`] checks what needs several facts at once, [`expand`] writes the
//! impl, and [`fallback`] writes a stub impl next to the errors when anything is wrong.

mod ast;
mod attr;
mod case;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `kafka_events::KafkaEvent` for a struct with named fields.
///
/// See the `kafka-events` crate documentation for the attributes and the checks.
#[proc_macro_derive(KafkaEvent, attributes(event))]
pub fn derive_kafka_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
