//! The trace context in headers: written into a record's headers with the application's global
//! text-map propagator, read back from them (to find a record's span), and taken from an HTTP
//! request for the middleware.

use std::marker::PhantomData;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, global};

/// The headers the global propagator writes for `cx` (`traceparent`, `tracestate`, `baggage`
/// with OpenTelemetry's W3C propagators); none with the default no-op propagator.
pub(super) fn inject(cx: &Context) -> Vec<(String, String)> {
    struct Added(Vec<(String, String)>);
    impl Injector for Added {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_owned(), value));
        }
    }
    let mut added = Added(Vec::new());
    global::get_text_map_propagator(|propagator| propagator.inject_context(cx, &mut added));
    added.0
}

/// Record headers as the propagator reads them (names compared without case; values UTF-8).
struct Pairs<'a, 'h>(&'a [(&'h str, &'h [u8])]);

impl Extractor for Pairs<'_, '_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| *name).collect()
    }
}

/// The span id the record's headers carry (its producer span's), as a number.
pub(super) fn span_id_in(headers: &[(&str, &[u8])]) -> Option<u64> {
    let cx = global::get_text_map_propagator(|propagator| propagator.extract(&Pairs(headers)));
    let span = cx.span();
    let context = span.span_context();
    context
        .is_valid()
        .then(|| u64::from_be_bytes(context.span_id().to_bytes()))
}

/// A request's trace context, taken when it arrives: the application's server span when one is
/// current, otherwise what the request's headers carry (read with the global propagator).
/// The layers write its records in it, so their spans are children of the request's.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "middleware"), allow(dead_code))]
pub(crate) struct RequestTrace(Context);

#[cfg_attr(not(feature = "middleware"), allow(dead_code))]
impl RequestTrace {
    /// `header` reads a request header by name.
    pub fn start<'a>(header: impl Fn(&str) -> Option<&'a str>) -> RequestTrace {
        let current = Context::current();
        if current.span().span_context().is_valid() {
            return RequestTrace(current);
        }
        struct Lookup<'f, 'a, F>(&'f F, PhantomData<&'a str>);
        impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Lookup<'_, 'a, F> {
            fn get(&self, key: &str) -> Option<&str> {
                (self.0)(key)
            }
            fn keys(&self) -> Vec<&str> {
                Vec::new()
            }
        }
        RequestTrace(global::get_text_map_propagator(|propagator| {
            propagator.extract_with_context(&current, &Lookup(&header, PhantomData))
        }))
    }

    /// The W3C trace id (32 lowercase hex digits), when the request has a trace.
    pub fn trace_id(&self) -> Option<String> {
        let span = self.0.span();
        let context = span.span_context();
        context.is_valid().then(|| context.trace_id().to_string())
    }

    /// Runs `f` (which emits the request's records) in the request's context.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _attached = self.0.clone().attach();
        f()
    }
}
