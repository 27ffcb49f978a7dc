//! Feature `otel`, with the OpenTelemetry SDK's in-memory exporters installed as the global
//! providers (once per test binary) and the W3C propagators: every record carries the context
//! of its emit, its `PRODUCER` span ends at its acknowledgement or fate with the conventions'
//! attributes, the instruments say what `stats()` says, and the middleware's records join the
//! request's trace.

#[path = "support/go.rs"]
mod go;
#[path = "support/records.rs"]
mod records;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use kafka_events::middleware::AuditLayer;
use kafka_events::testing::{EmbeddedKafka, read_topic};
use kafka_events::{
    AuditEntry, DeliveryStats, EmitError, KafkaConfig, KafkaEvent, KafkaProducer, OverflowPolicy,
    Producer, Record, SpoolConfig,
};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{
    FutureExt as _, SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, Value, global};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use records::record_of;
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(30);

struct Otel {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    meters: SdkMeterProvider,
    tracers: SdkTracerProvider,
}

/// The SDK, installed once, before any producer is created (a producer takes the global
/// providers when it is created).
fn otel() -> &'static Otel {
    static OTEL: OnceLock<Otel> = OnceLock::new();
    OTEL.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let tracers = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        global::set_tracer_provider(tracers.clone());
        let metrics = InMemoryMetricExporter::default();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        global::set_meter_provider(meters.clone());
        global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
        Otel {
            spans,
            metrics,
            meters,
            tracers,
        }
    })
}

/// A span of the test's own (an application's), to emit in.
fn parent(name: &'static str) -> Context {
    let tracer = otel().tracers.tracer("test");
    Context::current_with_span(tracer.start(name))
}

fn ids(cx: &Context) -> (TraceId, SpanId) {
    let span = cx.span();
    let context = span.span_context();
    (context.trace_id(), context.span_id())
}

/// The trace and span ids of a record's `traceparent` (W3C: `00-<trace>-<span>-<flags>`).
fn traceparent(record: &Record) -> (TraceId, SpanId) {
    let value = record
        .header_str("traceparent")
        .unwrap_or_else(|| panic!("no traceparent: {:?}", record.headers));
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!((parts.len(), parts[0]), (4, "00"), "{value}");
    (
        TraceId::from_hex(parts[1]).unwrap(),
        SpanId::from_hex(parts[2]).unwrap(),
    )
}

fn finished() -> Vec<SpanData> {
    otel().spans.get_finished_spans().unwrap()
}

fn span_of(id: SpanId) -> Option<SpanData> {
    finished()
        .into_iter()
        .find(|s| s.span_context.span_id() == id)
}

fn attribute<'s>(span: &'s SpanData, key: &str) -> Option<&'s Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn start(topic_partitions: i32) -> EmbeddedKafka {
    otel();
    let kafka = EmbeddedKafka::start().expect("embedded broker starts");
    kafka.create_topic("audit", topic_partitions).unwrap();
    kafka
}

fn config(kafka: &EmbeddedKafka, client_id: &str) -> KafkaConfig {
    kafka
        .producer_config()
        .client_id(client_id)
        .delivery_timeout(Duration::from_secs(3))
        .property("reconnect.backoff.max.ms", "200")
}

/// The span of `record`, checked against the conventions and the record's place.
fn check_send_span(record: &Record, parent: &Context) -> SpanData {
    let (trace_id, span_id) = traceparent(record);
    let (parent_trace, parent_span) = ids(parent);
    assert_eq!(
        trace_id, parent_trace,
        "the record carries its emit's trace"
    );
    let span = span_of(span_id).expect("the traceparent is the record's own span's");
    assert_eq!(span.parent_span_id, parent_span);
    assert_eq!(span.span_kind, SpanKind::Producer);
    assert_eq!(span.name, "send audit");
    let text = |key| attribute(&span, key).map(|v| v.as_str().into_owned());
    assert_eq!(text("messaging.system").as_deref(), Some("kafka"));
    assert_eq!(text("messaging.operation.name").as_deref(), Some("send"));
    assert_eq!(text("messaging.operation.type").as_deref(), Some("send"));
    assert_eq!(text("messaging.destination.name").as_deref(), Some("audit"));
    assert_eq!(
        text("messaging.kafka.message.key"),
        record.key_str().map(str::to_owned)
    );
    assert!(text("messaging.client.id").is_some());
    assert_eq!(text("server.address").as_deref(), Some("127.0.0.1"));
    span
}

fn check_acked_at(span: &SpanData, record: &Record) {
    let partition = record.partition.to_string();
    assert_eq!(
        attribute(span, "messaging.destination.partition.id").map(|v| v.as_str().into_owned()),
        Some(partition)
    );
    assert_eq!(
        attribute(span, "messaging.kafka.offset"),
        Some(&Value::I64(record.offset))
    );
    assert_eq!(span.status, Status::Unset);
    assert!(attribute(span, "error.type").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaited_and_detached_records_carry_their_emits_context_and_spans_end_at_the_ack() {
    let kafka = start(3);
    let producer = KafkaProducer::new(&config(&kafka, "otel-acked")).unwrap();
    let (awaited, detached) = (AuditEntry::new(), AuditEntry::new());
    let awaited_parent = parent("awaiting handler");
    // The context current when `emit` is called (it sends before it returns the future).
    let sending = {
        let _current = awaited_parent.clone().attach();
        awaited.emit(&producer)
    };
    let delivery = sending.await.unwrap();
    let detached_parent = parent("detached handler");
    {
        let _current = detached_parent.clone().attach();
        detached.emit_detached(&producer).unwrap();
    }
    assert!(producer.wait_delivered(WAIT).await);
    let records = read_topic(kafka.bootstrap_servers(), "audit", 2, WAIT).unwrap();

    let record = record_of(&records, &awaited);
    assert_eq!(
        (record.partition, record.offset),
        (delivery.partition, delivery.offset)
    );
    let span = check_send_span(record, &awaited_parent);
    check_acked_at(&span, record);
    // The record's own headers are still there, first.
    assert_eq!(record.headers[0].name, "content-type");
    assert_eq!(record.header_str("event-type"), Some("audit.log"));

    let record = record_of(&records, &detached);
    let (_, span_id) = traceparent(record);
    // Ended on librdkafka's thread, as the report came: seen once the report is in.
    assert!(
        producer
            .wait_until(WAIT, |_| span_of(span_id).is_some())
            .await
    );
    let span = check_send_span(record, &detached_parent);
    check_acked_at(&span, record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_replayed_after_an_outage_keeps_the_context_of_its_emit() {
    let kafka = start(1);
    let spool = tempfile::tempdir().unwrap();
    // The outage: no broker answers this producer (nothing listens on port 1). (Not
    // `all_down` and `all_up`: librdkafka's mock broker aborts the process when the port it
    // listens on again was taken meanwhile, which concurrent tests' connections can do.)
    let down = KafkaProducer::new(
        &KafkaConfig::new(["127.0.0.1:1"])
            .client_id("otel-replay")
            .spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    assert!(down.wait_until(WAIT, |s| s.brokers_down).await);
    let entry = AuditEntry::new();
    let emitted_in = parent("handler during the outage");
    {
        let _current = emitted_in.clone().attach();
        entry.emit_detached(&down).unwrap();
    }
    assert!(down.wait_until(WAIT, |s| s.spooled == 1).await);
    let _ = down.close(Duration::from_secs(1)).await;
    drop(down);
    // The next run reaches a broker and replays the spool, on its watch thread, in no
    // context of the emit's.
    let up =
        KafkaProducer::new(&config(&kafka, "otel-replay").spool(SpoolConfig::new(spool.path())))
            .unwrap();
    assert!(
        up.wait_until(WAIT, |s| s.replayed == 1).await,
        "{:?}",
        up.stats()
    );
    let records = read_topic(kafka.bootstrap_servers(), "audit", 1, WAIT).unwrap();
    let record = record_of(&records, &entry);
    let span = check_send_span(record, &emitted_in);
    // Its span ended when the record went to the spool, and says so.
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["kafka_events.spooled"]);
    assert!(attribute(&span, "messaging.kafka.offset").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_ahead_ends_its_span_as_spooled_when_its_first_attempt_fails() {
    let kafka = start(1);
    let spool = tempfile::tempdir().unwrap();
    // Written ahead to the spool, then sent to a broker that answers too late: the first
    // attempt times out, and the record waits in the spool for the next.
    let producer = KafkaProducer::new(
        &config(&kafka, "otel-write-ahead")
            .delivery_timeout(Duration::from_millis(300))
            .spool(SpoolConfig::new(spool.path()).durability(kafka_events::Durability::WriteAhead)),
    )
    .unwrap();
    kafka.set_latency(Duration::from_secs(2)).unwrap();
    let emitted_in = parent("write-ahead handler");
    {
        let _current = emitted_in.clone().attach();
        AuditEntry::new().emit_detached(&producer).unwrap();
    }
    assert!(
        producer.wait_until(WAIT, |s| s.failed >= 1).await,
        "{:?}",
        producer.stats()
    );
    let (trace_id, parent_id) = ids(&emitted_in);
    let deadline = std::time::Instant::now() + WAIT;
    let span = loop {
        let ended: Vec<SpanData> = finished()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id && s.parent_span_id == parent_id)
            .collect();
        if let Some(span) = ended.into_iter().next() {
            break span;
        }
        // The span ends on librdkafka's report, just after `failed` is counted.
        assert!(std::time::Instant::now() < deadline, "the span never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let events: Vec<&str> = span.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["kafka_events.spooled"]);
    drop(producer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_s_span_has_error_type() {
    let kafka = start(1);
    kafka.all_down().unwrap();
    let producer = KafkaProducer::new(
        &config(&kafka, "otel-refused")
            .max_queued(1, 1 << 20)
            .overflow(OverflowPolicy::DropNewest),
    )
    .unwrap();
    let refused_in = parent("refused");
    let _current = refused_in.clone().attach();
    AuditEntry::new().emit_detached(&producer).unwrap();
    let error = AuditEntry::new().emit_detached(&producer).unwrap_err();
    assert!(matches!(error, EmitError::QueueFull), "{error:?}");
    let (trace_id, parent_id) = ids(&refused_in);
    let refused: Vec<SpanData> = finished()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id && s.parent_span_id == parent_id)
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the queued one has not ended: {refused:?}"
    );
    assert_eq!(
        attribute(&refused[0], "error.type"),
        Some(&Value::from("queue_full"))
    );
    assert!(matches!(refused[0].status, Status::Error { .. }));
}

/// The value of `name` for the producer `client`, with `error.type` = `error` (or, for the
/// dropped records, `kafka_events.drop.reason` = `error`).
fn metric(batch: &ResourceMetrics, name: &str, client: &str, error: Option<&str>) -> Option<u64> {
    let matches = |attributes: Vec<&KeyValue>| {
        let get = |key: &str| {
            attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.as_str().into_owned())
        };
        get("messaging.client.id").as_deref() == Some(client)
            && get("error.type")
                .or_else(|| get("kafka_events.drop.reason"))
                .as_deref()
                == error
            && get("messaging.system").as_deref() == Some("kafka")
    };
    let metric = batch
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .find(|m| m.name() == name)?;
    match metric.data() {
        AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
            .data_points()
            .find(|p| matches(p.attributes().collect()))
            .map(|p| p.value()),
        AggregatedMetrics::U64(MetricData::Gauge(gauge)) => gauge
            .data_points()
            .find(|p| matches(p.attributes().collect()))
            .map(|p| p.value()),
        AggregatedMetrics::F64(MetricData::Histogram(histogram)) => histogram
            .data_points()
            .find(|p| matches(p.attributes().collect()))
            .map(|p| p.count()),
        _ => None,
    }
}

/// Every instrument read from `stats`, for the producer `client`.
fn check_metrics(batch: &ResourceMetrics, client: &str, stats: &DeliveryStats) {
    let m = |name, error| metric(batch, name, client, error);
    assert_eq!(
        m("messaging.client.sent.messages", None),
        Some(stats.delivered)
    );
    assert_eq!(
        m("messaging.client.sent.messages", Some("dropped")),
        Some(stats.dropped)
    );
    assert_eq!(
        m("messaging.client.sent.messages", Some("quarantined")),
        Some(stats.quarantined)
    );
    assert_eq!(
        m("kafka_events.queue.records", None),
        Some(stats.queue_depth)
    );
    assert_eq!(
        m("kafka_events.spool.records", None),
        Some(stats.spool_depth)
    );
    assert_eq!(m("kafka_events.queue.bytes", None), Some(stats.queue_bytes));
    assert_eq!(m("kafka_events.spool.bytes", None), Some(stats.spool_bytes));
    assert_eq!(
        m("kafka_events.spool.unreadable", None),
        Some(stats.spool_unreadable)
    );
    assert_eq!(
        m("kafka_events.spool.fsync_failures", None),
        Some(stats.spool_fsync_failures)
    );
    assert_eq!(m("kafka_events.records.spooled", None), Some(stats.spooled));
    assert_eq!(
        m("kafka_events.records.replayed", None),
        Some(stats.replayed)
    );
    for (reason, count) in stats.dropped_by.reasons() {
        let dropped = m("kafka_events.records.dropped", Some(reason));
        assert_eq!(dropped, Some(count), "{reason}");
    }
    assert_eq!(
        m("kafka_events.records.quarantined", None),
        Some(stats.quarantined)
    );
    assert_eq!(
        m("kafka_events.brokers.reachable", None),
        Some(u64::from(!stats.brokers_down))
    );
    if stats.latency_samples > 0 {
        assert_eq!(
            m("messaging.client.operation.duration", None),
            Some(stats.latency_samples)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instruments_say_what_stats_says_after_deliveries_an_outage_and_drops() {
    // Delivered, then spooled in an outage.
    let kafka = start(1);
    let spool = tempfile::tempdir().unwrap();
    let spooling = KafkaProducer::new(
        &config(&kafka, "otel-metrics-spool").spool(SpoolConfig::new(spool.path())),
    )
    .unwrap();
    for _ in 0..3 {
        AuditEntry::new().emit_detached(&spooling).unwrap();
    }
    assert!(spooling.wait_delivered(WAIT).await);
    kafka.all_down().unwrap();
    assert!(spooling.wait_until(WAIT, |s| s.brokers_down).await);
    for _ in 0..2 {
        AuditEntry::new().emit_detached(&spooling).unwrap();
    }
    assert!(spooling.wait_until(WAIT, |s| s.spooled == 2).await);
    // Dropped: a full queue under `drop_newest`, no broker.
    let other = start(1);
    other.all_down().unwrap();
    let dropping = KafkaProducer::new(
        &config(&other, "otel-metrics-drop")
            .max_queued(2, 1 << 20)
            .overflow(OverflowPolicy::DropNewest)
            .delivery_timeout(Duration::from_secs(600)),
    )
    .unwrap();
    for _ in 0..5 {
        let _ = AuditEntry::new().emit_detached(&dropping);
    }
    // librdkafka counts a refused record in its queue for a moment.
    assert!(dropping.wait_until(WAIT, |s| s.queue_depth == 2).await);

    let before = (spooling.stats(), dropping.stats());
    otel().metrics.reset();
    otel().meters.force_flush().unwrap();
    let after = (spooling.stats(), dropping.stats());
    assert_eq!(before, after, "nothing moved while the metrics were read");
    let (spooled, dropped) = after;
    assert_eq!(
        (spooled.delivered, spooled.spooled, spooled.spool_depth),
        (3, 2, 2),
        "{spooled:?}"
    );
    assert!(spooled.brokers_down);
    assert_eq!(
        (dropped.dropped, dropped.queue_depth),
        (3, 2),
        "{dropped:?}"
    );
    assert_eq!(dropped.dropped_by.overflow, 3, "{dropped:?}");
    let batches = otel().metrics.get_finished_metrics().unwrap();
    let batch = batches.last().expect("one collection");
    check_metrics(batch, "otel-metrics-spool", &spooled);
    check_metrics(batch, "otel-metrics-drop", &dropped);
}

/// An application's server span, as its HTTP instrumentation would start it: a child of the
/// request's `traceparent`, current while the inner service runs.
async fn server_span(
    request: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let incoming = global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http_headers(request.headers()))
    });
    let tracer = otel().tracers.tracer("http");
    let span = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &incoming);
    let cx = incoming.with_span(span);
    let response = next.run(request).with_context(cx.clone()).await;
    *SERVER_SPAN.lock().unwrap() = Some(ids(&cx).1);
    response
}

static SERVER_SPAN: std::sync::Mutex<Option<SpanId>> = std::sync::Mutex::new(None);

/// Request headers as the propagator reads them.
fn opentelemetry_http_headers(
    headers: &axum::http::HeaderMap,
) -> impl opentelemetry::propagation::Extractor + '_ {
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    Headers(headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_entry_joins_the_request_s_trace() {
    let kafka = start(1);
    let producer = Arc::new(KafkaProducer::new(&config(&kafka, "otel-audit")).unwrap());
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let remote_parent = "00f067aa0ba902b7";
    let request = || {
        Request::get("/orders")
            .header("traceparent", format!("00-{trace_id}-{remote_parent}-01"))
            .body(Body::empty())
            .unwrap()
    };
    let handler = || async { "ok" };

    // With the application's server span: the entry's span is its child.
    let app = Router::new()
        .route("/orders", get(handler))
        .layer(AuditLayer::new(producer.clone()).service_name("orders-api"))
        .layer(axum::middleware::from_fn(server_span));
    assert!(app.oneshot(request()).await.unwrap().status().is_success());
    // Without one: the entry's span is a child of the request's `traceparent`.
    let app = Router::new()
        .route("/orders", get(handler))
        .layer(AuditLayer::new(producer.clone()).service_name("orders-api"));
    assert!(app.oneshot(request()).await.unwrap().status().is_success());

    assert!(producer.wait_delivered(WAIT).await);
    let records = read_topic(kafka.bootstrap_servers(), "audit", 2, WAIT).unwrap();
    let server = SERVER_SPAN.lock().unwrap().expect("the server span ran");
    let remote_parent = SpanId::from_hex(remote_parent).unwrap();
    for (record, parent) in records.iter().zip([server, remote_parent]) {
        let (trace, span_id) = traceparent(record);
        assert_eq!(trace.to_string(), trace_id);
        let entry: AuditEntry = record.decode().unwrap();
        // No `x-correlation-id`: the trace id, where the Go consumers already look.
        assert_eq!(entry.correlation_id, trace_id);
        assert!(
            producer
                .wait_until(WAIT, |_| span_of(span_id).is_some())
                .await
        );
        let span = span_of(span_id).unwrap();
        assert_eq!(span.parent_span_id, parent);
        assert_eq!(span.span_context.trace_id().to_string(), trace_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_users_need_nothing_special() {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let kafka = start(1);
    let producer = KafkaProducer::new(&config(&kafka, "otel-tracing")).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(otel().tracers.tracer("tracing")));
    let entry = AuditEntry::new();
    let expected = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("handler");
        let _entered = span.enter();
        entry.emit_detached(&producer).unwrap();
        span.context().span().span_context().trace_id()
    });
    assert!(producer.wait_delivered(WAIT).await);
    let records = read_topic(kafka.bootstrap_servers(), "audit", 1, WAIT).unwrap();
    let (trace, _) = traceparent(record_of(&records, &entry));
    assert_eq!(trace, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_consumer_decodes_every_record_and_reads_its_trace_id() {
    let Some(go) = go::build("tests/go/traceparent") else {
        return;
    };
    let kafka = start(1);
    kafka.create_topic("usage", 1).unwrap();
    let producer = Arc::new(KafkaProducer::new(&config(&kafka, "otel-go")).unwrap());
    // Through the layers, with an incoming traceparent: an audit entry and a usage event.
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let app = Router::new()
        .route("/orders", get(|| async { "ok" }))
        .layer(kafka_events::middleware::UsageLayer::new(producer.clone()).service_name("orders"))
        .layer(AuditLayer::new(producer.clone()).service_name("orders"));
    let request = Request::get("/orders")
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .body(Body::empty())
        .unwrap();
    assert!(app.oneshot(request).await.unwrap().status().is_success());
    // Emitted in an application's span: awaited and detached.
    let handler = parent("go handler");
    let sending = {
        let _current = handler.clone().attach();
        kafka_events::AuthEvent::login_failure("accounts", "mallory", "bad password")
            .emit_detached(&*producer)
            .unwrap();
        kafka_events::AuthEvent::login_success("accounts", "alice").emit(&*producer)
    };
    sending.await.unwrap();
    assert!(producer.wait_delivered(WAIT).await);

    let mut records = read_topic(kafka.bootstrap_servers(), "audit", 3, WAIT).unwrap();
    records.extend(read_topic(kafka.bootstrap_servers(), "usage", 1, WAIT).unwrap());
    let input: String = records
        .iter()
        .map(|r| {
            let headers: serde_json::Map<String, serde_json::Value> = r
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8(h.value.to_vec()).unwrap();
                    (h.name.to_string(), value.into())
                })
                .collect();
            let name = format!("{}/{}@{}", r.topic, r.header_str("event-type").unwrap(), r.offset);
            let line = serde_json::json!({ "name": name, "headers": headers, "payload": r.json().unwrap() });
            line.to_string() + "\n"
        })
        .collect();
    let (code, out) = go::run(&go, &[], &input);
    assert_eq!(code, 0, "{out}");
    let read: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(read.len(), 4, "every record: {read:?}");
    let handler_trace = ids(&handler).0.to_string();
    for (record, go) in records.iter().zip(&read) {
        let (trace, span) = traceparent(record);
        assert_eq!(go["trace_id"], trace.to_string());
        assert_eq!(go["parent_id"], span.to_string());
        let expected = match record.header_str("event-type") {
            Some("audit.log" | "usage.record") => trace_id,
            _ => handler_trace.as_str(),
        };
        assert_eq!(go["trace_id"], expected, "{go}");
        if record.header_str("event-type") == Some("audit.log") {
            assert_eq!(go["correlation_id"], trace_id);
        }
    }
}
