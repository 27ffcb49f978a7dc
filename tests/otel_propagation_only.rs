//! Feature `otel` with the W3C propagator installed and no tracer provider (a service that passes
//! traces on without recording any): the global tracer is OpenTelemetry's no-op, no span of the
//! producer's is built, and every record carries the context it was emitted in, unchanged. A
//! test binary of its own: the global providers are the process's, and `tests/otel.rs` installs
//! the SDK.

#[path = "support/records.rs"]
mod records;

use std::time::Duration;

use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, global};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use records::record_of;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn records_carry_the_context_they_were_emitted_in_when_no_tracer_records() {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    kafka.create_topic("audit", 1).unwrap();
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();

    // A request's context, as a server that records nothing took it from `traceparent`.
    let incoming = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    let (awaited, detached, outside) = (AuditEntry::new(), AuditEntry::new(), AuditEntry::new());
    // The context current when `emit` is called (it sends before it returns the future).
    let sending = {
        let _current = incoming.clone().attach();
        awaited.emit(&producer)
    };
    sending.await.unwrap();
    {
        let _current = incoming.clone().attach();
        detached.emit_detached(&producer).unwrap();
    }
    outside.emit_detached(&producer).unwrap();
    assert!(producer.wait_delivered(WAIT).await);

    let records = read_topic(kafka.bootstrap_servers(), "audit", 3, WAIT).unwrap();
    for entry in [&awaited, &detached] {
        assert_eq!(
            record_of(&records, entry).header_str("traceparent"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            "the incoming context, passed on as it came"
        );
    }
    // Emitted in no context: nothing to pass on.
    let record = record_of(&records, &outside);
    assert_eq!(
        record.header_str("traceparent"),
        None,
        "{:?}",
        record.headers
    );
    assert_eq!(
        record.headers.len(),
        2,
        "content-type and event-type only: {:?}",
        record.headers
    );
}
