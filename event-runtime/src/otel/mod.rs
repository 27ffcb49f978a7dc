//! OpenTelemetry (feature `otel`): the W3C trace context on every record, a `PRODUCER` span per
//! record, and messaging metrics, by OpenTelemetry's messaging semantic conventions (v1.44,
//! `messaging-spans.md`, `kafka.md`, `messaging-metrics.md`).
//!
//! Only the `opentelemetry` API crate is used: the application installs the SDK, its tracer
//! and meter providers and its text-map propagator (`global::set_text_map_propagator`; without
//! one, OpenTelemetry's default writes no header). With none installed every call here is the
//! API's no-op.
//!
//! The send path enters this module through a few narrow functions, each a no-op in
//! `off.rs` (the same names, compiled without the feature):
//!
//! - [`detached`] and [`awaited`] (from `kafka/producer.rs`, when a record is emitted): start
//!   the record's span as a child of the current context, and add that span's context to the
//!   record's headers, which stay with it in the spool;
//! - [`Telemetry::settled`] and [`Telemetry::acked`] (from `kafka/apply.rs` and
//!   `kafka/delivery.rs`, where a record's fate is carried out): end its span;
//! - [`Telemetry::observe`] (once per producer): its `stats()` as observable instruments;
//! - [`RequestTrace`] (from the middleware): a request's trace context.
//!
//! The span of a detached record travels beside it, in a table keyed by the span id its
//! `traceparent` carries; the fate's code finds it from the record's headers (librdkafka hands
//! them back in the delivery report). Only recording spans enter the table, so with no SDK it
//! stays empty and nothing is looked up.

mod context;
mod metrics;
mod settled;
mod span;

use std::future::Future;
use std::sync::Arc;

use opentelemetry::global;
use opentelemetry::{InstrumentationScope, Value};

#[cfg_attr(not(feature = "middleware"), allow(unused_imports))]
pub(crate) use context::RequestTrace;
pub(crate) use settled::Settled;

use crate::error::EmitError;
use crate::message::{Delivery, Message, MessageRef};
use crate::stats::DeliveryStats;
use crate::topic::TopicMap;

/// Instrumentation scope name of the spans and instruments.
const SCOPE: &str = "kafka-events";
/// The semantic conventions the names follow.
const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";

/// A producer's telemetry: its spans and its instruments.
pub(crate) struct Telemetry {
    spans: span::Spans,
    metrics: metrics::Instruments,
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(SCHEMA_URL)
        .build()
}

impl Telemetry {
    /// Takes the global tracer and meter providers as they are now: install them before
    /// creating the producer.
    pub fn new(client_id: &str, brokers: &[String]) -> Telemetry {
        let server = brokers.first().map(|broker| {
            let (host, port) = broker.rsplit_once(':').unwrap_or((broker, "9092"));
            (
                Value::from(host.trim_matches(['[', ']']).to_owned()),
                port.parse().unwrap_or(9092),
            )
        });
        let client_id = Value::from(client_id.to_owned());
        Telemetry {
            metrics: metrics::Instruments::new(
                &global::meter_with_scope(scope()),
                &client_id,
                &server,
            ),
            spans: span::Spans::new(global::tracer_with_scope(scope()), client_id, server),
        }
    }

    /// Reports the producer's [`DeliveryStats`] as observable instruments; `stats` returns
    /// `None` once the producer is gone.
    pub fn observe(&self, stats: impl Fn() -> Option<DeliveryStats> + Send + Sync + 'static) {
        let meter = global::meter_with_scope(scope());
        metrics::observe(
            &meter,
            &self.spans.client_id,
            &self.spans.server,
            Arc::new(stats),
        );
    }

    /// The broker acknowledged a record, at `partition` and `offset`, `seconds` after it was
    /// handed to librdkafka (when that is known). `headers` is called only when a span may be
    /// waiting for it.
    pub fn acked<'h>(
        &self,
        headers: impl FnOnce() -> Vec<(&'h str, &'h [u8])>,
        partition: i32,
        offset: i64,
        seconds: Option<f64>,
    ) {
        if let Some(seconds) = seconds {
            self.metrics.duration(seconds);
        }
        if let Some(span) = self.spans.in_flight.take_for(headers) {
            span.acked(partition, offset);
        }
    }

    /// A record's fate took it away from librdkafka (spooled, quarantined, handed back,
    /// dropped): its span says so and ends.
    pub fn settled(&self, headers: &[(&str, &[u8])], settled: Settled<'_>) {
        if let Some(span) = self.spans.in_flight.take_for(|| headers.to_vec()) {
            span.settled(settled);
        }
    }
}

/// A detached emit (see [`span::detached`]).
pub(crate) fn detached(
    telemetry: &Telemetry,
    topics: &TopicMap,
    message: MessageRef<'_>,
    send: impl FnOnce(MessageRef<'_>) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    span::detached(&telemetry.spans, topics, message, send)
}

/// An awaited emit (see [`span::awaited`]).
pub(crate) fn awaited<'a, F>(
    telemetry: &Telemetry,
    topics: &TopicMap,
    message: Message,
    send: impl FnOnce(Message) -> F,
) -> impl Future<Output = Result<Delivery, EmitError>> + Send + 'a
where
    F: Future<Output = Result<Delivery, EmitError>> + Send + 'a,
{
    span::awaited(&telemetry.spans, topics, message, send)
}
