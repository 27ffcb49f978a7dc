//! A record's `PRODUCER` span (`send {topic}`): started when it is emitted, its context written
//! into the record's headers, ended at the broker's acknowledgement or the record's final fate.
//! An awaited record's span lives in its future; a detached one's in [`InFlight`] until its
//! fate is carried out.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue, Value};

use super::context::{inject, span_id_in};
use super::settled::Settled;
use crate::error::EmitError;
use crate::message::{Delivery, Header, Message, MessageRef};
use crate::topic::TopicMap;

/// The longest key recorded as `messaging.kafka.message.key`.
/// The most detached spans waiting for their records' fates; past it a span ends at once
/// (with the `kafka_events.untracked` event, as one whose headers carry no span id), so a lost
/// report can't grow memory.
const MAX_IN_FLIGHT: usize = 1 << 16;
const SHARDS: usize = 16;

/// A record's span, in the context it is the current span of.
pub(super) struct SendSpan(Context);

impl SendSpan {
    pub fn acked(self, partition: i32, offset: i64) {
        let span = self.0.span();
        span.set_attribute(KeyValue::new(
            "messaging.destination.partition.id",
            partition.to_string(),
        ));
        span.set_attribute(KeyValue::new("messaging.kafka.offset", offset));
        span.end();
    }

    fn failed(self, error_type: &str) {
        let span = self.0.span();
        span.set_attribute(KeyValue::new("error.type", error_type.to_owned()));
        span.set_status(Status::error(error_type.to_owned()));
        span.end();
    }

    pub fn settled(self, settled: Settled<'_>) {
        let (event, error) = match settled {
            Settled::Spooled => ("kafka_events.spooled", None),
            Settled::HandedBack => ("kafka_events.handed_back", None),
            Settled::Quarantined(error) => ("kafka_events.quarantined", Some(error)),
            Settled::Dropped(error) => ("kafka_events.dropped", Some(error)),
        };
        self.0.span().add_event(event, Vec::new());
        match error {
            Some(error) => self.failed(error),
            None => self.0.span().end(),
        }
    }
}

/// The spans of detached records whose fate is not carried out yet, by span id. Sharded, and
/// each lock held for one map operation: emitting threads and librdkafka's thread barely meet.
#[derive(Default)]
pub(super) struct InFlight {
    shards: [Mutex<HashMap<u64, Context>>; SHARDS],
    len: AtomicUsize,
}

impl InFlight {
    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Context>> {
        let shard = &self.shards[(id as usize) % SHARDS];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `cx`'s span until its record's fate; false when full.
    fn insert(&self, cx: &Context) -> bool {
        if self.len.load(Relaxed) >= MAX_IN_FLIGHT {
            return false;
        }
        let id = span_id(cx);
        if self.shard(id).insert(id, cx.clone()).is_none() {
            self.len.fetch_add(1, Relaxed);
        }
        true
    }

    fn remove(&self, id: u64) -> Option<SendSpan> {
        let cx = self.shard(id).remove(&id)?;
        self.len.fetch_sub(1, Relaxed);
        Some(SendSpan(cx))
    }

    /// The span of the record with these headers, taken out; `headers` is read only when any
    /// span waits.
    pub fn take_for<'h>(
        &self,
        headers: impl FnOnce() -> Vec<(&'h str, &'h [u8])>,
    ) -> Option<SendSpan> {
        if self.len.load(Relaxed) == 0 {
            return None;
        }
        self.remove(span_id_in(&headers())?)
    }
}

/// A producer's spans: its tracer, the attributes all of them carry, and those waiting for
/// their records' fates.
pub(super) struct Spans {
    /// `None` when the global tracer hands every span its parent's context unchanged (see
    /// [`passes_through`]): then no span is built for a record, whose headers carry its
    /// parent's context as they would anyway.
    pub tracer: Option<BoxedTracer>,
    pub in_flight: InFlight,
    /// `messaging.client.id`.
    pub client_id: Value,
    /// `server.address` and `server.port`: the first bootstrap broker.
    pub server: Option<(Value, i64)>,
}

impl Spans {
    /// The spans of a producer whose tracer is `tracer`: kept unless it passes its parents'
    /// context through (see [`passes_through`]).
    pub fn new(tracer: BoxedTracer, client_id: Value, server: Option<(Value, i64)>) -> Spans {
        Spans {
            tracer: (!passes_through(&tracer)).then_some(tracer),
            in_flight: InFlight::default(),
            client_id,
            server,
        }
    }

    /// Starts a record's span as a child of the current context: the headers the global
    /// propagator writes for it, and its context when it records. Its name and attributes are
    /// written only then (no allocation for them under a no-op tracer); a sampler sees the
    /// name `send` and the kind.
    fn start(
        &self,
        topics: &TopicMap,
        topic: &str,
        key: &[u8],
    ) -> (Vec<(String, String)>, Option<Context>) {
        Context::map_current(|parent| {
            let Some(tracer) = &self.tracer else {
                return (inject(parent), None);
            };
            let span = tracer.build_with_context(
                tracer
                    .span_builder(Cow::Borrowed("send"))
                    .with_kind(SpanKind::Producer),
                parent,
            );
            if !span.is_recording() {
                // What a no-op tracer's span carries anyway: the parent's context.
                return (inject(parent), None);
            }
            let cx = parent.with_span(self.describe(span, topics, topic, key));
            (inject(&cx), Some(cx))
        })
    }

    /// A recording span, named and with its attributes.
    fn describe<S: opentelemetry::trace::Span>(
        &self,
        mut span: S,
        topics: &TopicMap,
        topic: &str,
        key: &[u8],
    ) -> S {
        // The physical topic; an unmapped one is refused by the send, and named as it is.
        let topic = topics.resolve(topic).unwrap_or(topic);
        span.update_name(format!("send {topic}"));
        let mut attributes = vec![
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.operation.name", "send"),
            KeyValue::new("messaging.operation.type", "send"),
            KeyValue::new("messaging.destination.name", topic.to_owned()),
            KeyValue::new("messaging.client.id", self.client_id.clone()),
        ];
        if let Some((address, port)) = &self.server {
            attributes.push(KeyValue::new("server.address", address.clone()));
            attributes.push(KeyValue::new("server.port", *port));
        }
        if let Some(key) = recordable_key(key) {
            attributes.push(KeyValue::new("messaging.kafka.message.key", key.to_owned()));
        }
        span.set_attributes(attributes);
        span
    }
}

/// Whether `tracer` hands a span its parent's context unchanged, as OpenTelemetry's no-op
/// tracer does (the global one when no provider is installed); an SDK gives every span an id of
/// its own. Asked once, of a made-up parent in a context where telemetry is suppressed: an SDK
/// builds nothing there, so nothing of the question reaches an exporter. (A tracer of another
/// kind that passed its parent's context through when telemetry is suppressed but recorded
/// otherwise would be taken for a no-op.)
fn passes_through(tracer: &impl Tracer) -> bool {
    let parent = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new()
        .with_remote_span_context(parent.clone())
        .with_telemetry_suppressed();
    let span = tracer.build_with_context(tracer.span_builder("kafka-events probe"), &cx);
    !span.is_recording() && *span.span_context() == parent
}

/// Whether the headers the propagator wrote carry span `id`.
fn carries(added: &[(String, String)], id: u64) -> bool {
    let pairs: Vec<(&str, &[u8])> = added
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    span_id_in(&pairs) == Some(id)
}

/// The span id of `cx`'s span, as the table's key.
fn span_id(cx: &Context) -> u64 {
    u64::from_be_bytes(cx.span().span_context().span_id().to_bytes())
}

/// The key as text, when it may be recorded: only a UUID or a decimal integer (what the models
/// and most events are keyed by). Anything else may be a secret or personal data that no name
/// rule can tell from an identifier (an API token, a JWT, an e-mail address), so it is left out.
fn recordable_key(key: &[u8]) -> Option<&str> {
    let key = std::str::from_utf8(key).ok()?;
    let integer = |text: &str| {
        let digits = text.strip_prefix('-').unwrap_or(text);
        !digits.is_empty() && digits.len() <= 39 && digits.bytes().all(|b| b.is_ascii_digit())
    };
    (uuid::Uuid::try_parse(key).is_ok() || integer(key)).then_some(key)
}

/// A detached emit: `send` gets the record with its span's context in its headers. A refusal
/// ends the span at once; otherwise it waits in [`InFlight`] for the record's fate (put there
/// first: the report may come before `send` returns).
pub(super) fn detached(
    telemetry: &Spans,
    topics: &TopicMap,
    message: MessageRef<'_>,
    send: impl FnOnce(MessageRef<'_>) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    let (added, cx) = telemetry.start(topics, message.topic, message.key);
    let spans = &telemetry.in_flight;
    // Found again by the span id its headers carry: without one (no propagator installed, or
    // one that writes no span id) the span could never be found, so it is not kept.
    let tracked = cx
        .as_ref()
        .is_some_and(|cx| carries(&added, span_id(cx)) && spans.insert(cx));
    if let (Some(cx), false) = (&cx, tracked) {
        cx.span().add_event("kafka_events.untracked", Vec::new());
        cx.span().end();
    }
    let result = if added.is_empty() {
        send(message)
    } else {
        let mut headers: Vec<(&str, &[u8])> =
            Vec::with_capacity(message.headers.len() + added.len());
        headers.extend(
            message
                .headers
                .iter()
                .filter(|(name, _)| !added.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))),
        );
        headers.extend(added.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        send(MessageRef {
            headers: &headers,
            ..message
        })
    };
    if let (Err(error), Some(cx), true) = (&result, &cx, tracked)
        && let Some(span) = spans.remove(span_id(cx))
    {
        span.failed(error_type(error));
    }
    result
}

/// An awaited emit: the record gets its span's context in its headers; the span ends when the
/// future resolves (or is dropped, the caller no longer waiting).
pub(super) fn awaited<'a, F>(
    telemetry: &Spans,
    topics: &TopicMap,
    mut message: Message,
    send: impl FnOnce(Message) -> F,
) -> impl Future<Output = Result<Delivery, EmitError>> + Send + 'a
where
    F: Future<Output = Result<Delivery, EmitError>> + Send + 'a,
{
    let (added, cx) = telemetry.start(topics, &message.topic, &message.key);
    if !added.is_empty() {
        message
            .headers
            .retain(|h| !added.iter().any(|(n, _)| n.eq_ignore_ascii_case(&h.name)));
        message
            .headers
            .extend(added.into_iter().map(|(n, v)| Header::new(n, v)));
    }
    let span = cx.map(SendSpan);
    let sending = send(message);
    async move {
        let result = sending.await;
        if let Some(span) = span {
            match &result {
                Ok(delivery) => span.acked(delivery.partition, delivery.offset),
                Err(error) => span.failed(error_type(error)),
            }
        }
        result
    }
}

/// `error.type` of a refusal: low-cardinality, one value per variant.
fn error_type(error: &EmitError) -> &'static str {
    match error {
        EmitError::Serialize(_) => "serialize",
        EmitError::UnmappedTopic { .. } => "unmapped_topic",
        EmitError::MessageTooLarge { .. } => "message_too_large",
        EmitError::InvalidRecord { .. } => "invalid_record",
        EmitError::Timeout(_) => "timeout",
        EmitError::QueueFull => "queue_full",
        EmitError::UnknownTopic { .. } => "unknown_topic",
        EmitError::Unreachable => "unreachable",
        EmitError::Authentication { .. } => "authentication",
        EmitError::Tls { .. } => "tls",
        EmitError::Fatal { .. } => "fatal",
        EmitError::Closed => "closed",
        EmitError::Spool(_) => "spool",
        EmitError::Rejected { .. } => "rejected",
        EmitError::Broker { .. } => "_OTHER",
        #[allow(unreachable_patterns)]
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use opentelemetry::trace::noop::{NoopSpan, NoopTracer};
    use opentelemetry::trace::{SpanBuilder, Tracer};
    use opentelemetry::{Context, Value};

    use super::{BoxedTracer, Spans, passes_through, recordable_key};
    use crate::topic::TopicMap;

    /// OpenTelemetry's no-op tracer, counting the spans asked of it.
    struct Counting(Arc<AtomicUsize>);

    impl Tracer for Counting {
        type Span = NoopSpan;

        fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> NoopSpan {
            self.0.fetch_add(1, Relaxed);
            NoopTracer::new().build_with_context(builder, parent_cx)
        }
    }

    #[test]
    fn under_the_no_op_tracer_a_record_gets_no_span_and_its_parents_context() {
        let built = Arc::new(AtomicUsize::new(0));
        let counting = Counting(built.clone());
        let spans = Spans::new(
            BoxedTracer::new(Box::new(counting)),
            Value::from("test"),
            None,
        );
        // The question itself.
        assert_eq!(built.load(Relaxed), 1);
        let (added, cx) = spans.start(&TopicMap::default(), "audit", b"1");
        assert!(added.is_empty() && cx.is_none());
        assert_eq!(built.load(Relaxed), 1, "no span built for the record");
    }

    #[test]
    fn the_no_op_tracer_passes_its_parents_context_through() {
        assert!(passes_through(&NoopTracer::new()));
        // What the global tracer is with no provider installed (no test in this crate
        // installs one).
        assert!(passes_through(&opentelemetry::global::tracer(
            "kafka-events test"
        )));
    }

    #[test]
    fn a_key_is_recorded_only_when_it_is_a_uuid_or_an_integer() {
        assert_eq!(
            recordable_key(b"4bf92f35-77b3-4da6-a3ce-929d0e0e4736"),
            Some("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")
        );
        assert_eq!(
            recordable_key(b"3642659064481700"),
            Some("3642659064481700")
        );
        assert_eq!(recordable_key(b"-7"), Some("-7"));
        // Secrets and personal data no name rule recognises, and anything else.
        for other in [
            &b"sk_live_4eC39HqLyjWDarjtT1zdp7dc"[..],
            b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            b"AKIAIOSFODNN7EXAMPLE",
            b"alice@example.com",
            b"order-42",
            b"api_key",
            b"-",
            b"",
            &[0xff, 0xfe],
            &[b'1'; 40],
        ] {
            assert_eq!(recordable_key(other), None, "{other:?}");
        }
    }
}
