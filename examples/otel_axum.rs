//! Feature `otel` in an axum service: the W3C propagators, a tracer provider with the batch
//! span processor, a meter provider read by a Prometheus endpoint (`GET /metrics`), and a
//! server span per request, so every audit record carries the request's trace.
//!
//! ```text
//! cargo run --example otel_axum --features otel               # embedded broker, 127.0.0.1:3001
//! cargo run --example otel_axum --features otel -- --smoke    # one traced request, /metrics, exits
//! curl -s localhost:3001/orders/42 -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
//! curl -s localhost:3001/metrics
//! ```
//!
//! Spans and metrics go to an OTLP collector over HTTP (`opentelemetry-otlp`) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318`),
//! spans to stdout otherwise, so the smoke run needs no collector.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use kafka_events::middleware::AuditLayer;
use kafka_events::testing::EmbeddedKafka;
use kafka_events::{KafkaConfig, KafkaProducer, Producer};
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator};
use opentelemetry::trace::{FutureExt as _, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, global};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower::ServiceExt;

/// The Prometheus text exposition of the last collection, rendered as the reader exports it.
#[derive(Clone, Default)]
struct Prometheus(Arc<Mutex<String>>);

impl PushMetricExporter for Prometheus {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        *self.0.lock().unwrap() = render(metrics);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// OpenTelemetry names as Prometheus names: `.` → `_`, the unit appended (`_seconds`,
/// `_total` for counters), attributes as labels.
fn render(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    for metric in metrics.scope_metrics().flat_map(|s| s.metrics()) {
        let base = metric.name().replace('.', "_");
        let labels = |attributes: Vec<&opentelemetry::KeyValue>| {
            let pairs: Vec<String> = attributes
                .iter()
                .map(|kv| {
                    // The exposition format's escapes for a label value.
                    let value = kv
                        .value
                        .to_string()
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{}=\"{value}\"", kv.key.as_str().replace('.', "_"))
                })
                .collect();
            pairs.join(",")
        };
        match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                let _ = writeln!(out, "# TYPE {base}_total counter");
                for p in sum.data_points() {
                    let _ = writeln!(
                        out,
                        "{base}_total{{{}}} {}",
                        labels(p.attributes().collect()),
                        p.value()
                    );
                }
            }
            AggregatedMetrics::U64(MetricData::Gauge(gauge)) => {
                let _ = writeln!(out, "# TYPE {base} gauge");
                for p in gauge.data_points() {
                    let _ = writeln!(
                        out,
                        "{base}{{{}}} {}",
                        labels(p.attributes().collect()),
                        p.value()
                    );
                }
            }
            AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                let name = format!("{base}_seconds");
                let _ = writeln!(out, "# TYPE {name} histogram");
                for p in histogram.data_points() {
                    let labels = labels(p.attributes().collect());
                    let mut cumulative = 0;
                    let bounds = p.bounds().map(|b| b.to_string()).chain(["+Inf".to_owned()]);
                    for (bound, count) in bounds.zip(p.bucket_counts()) {
                        cumulative += count;
                        let _ =
                            writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
                    }
                    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", p.sum());
                    let _ = writeln!(out, "{name}_count{{{labels}}} {}", p.count());
                }
            }
            _ => {}
        }
    }
    out
}

/// The application's server span: a child of the request's `traceparent`, current while the
/// inner layers and the handler run (an HTTP instrumentation crate does the same).
async fn server_span(request: Request, next: Next) -> Response {
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    let parent = global::get_text_map_propagator(|p| p.extract(&Headers(request.headers())));
    let tracer = global::tracer("orders-api");
    let span = tracer
        .span_builder(format!("{} {}", request.method(), request.uri().path()))
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &parent);
    next.run(request)
        .with_context(Context::current_with_span(span))
        .await
}

async fn metrics(State((meters, text)): State<(SdkMeterProvider, Prometheus)>) -> String {
    // Collect now: the observable instruments read the producer's stats() at this moment.
    // The collection runs the callbacks and the exporter: off the async worker.
    let _ = tokio::task::spawn_blocking(move || meters.force_flush()).await;
    text.0.lock().unwrap().clone()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Propagators, tracer and meter providers: installed before the producer is created
    //    (it takes the global providers then).
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    // Spans and metrics go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT names one
    // (e.g. http://127.0.0.1:4318); spans to stdout otherwise. Metrics are also served at
    // `/metrics` for Prometheus either way.
    let otlp = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let tracers = if otlp {
        SdkTracerProvider::builder().with_batch_exporter(
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()?,
        )
    } else {
        SdkTracerProvider::builder()
            .with_batch_exporter(opentelemetry_stdout::SpanExporter::default())
    }
    .build();
    global::set_tracer_provider(tracers.clone());
    let prometheus = Prometheus::default();
    let mut meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(prometheus.clone()).build());
    if otlp {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .build()?;
        meters = meters.with_reader(PeriodicReader::builder(exporter).build());
    }
    let meters = meters.build();
    global::set_meter_provider(meters.clone());

    // 2. The producer and the layers, as without OpenTelemetry.
    let embedded;
    let config = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => KafkaConfig::new(brokers.split(',')),
        Err(_) => {
            embedded = EmbeddedKafka::start()?;
            embedded.create_topic("audit", 1)?;
            embedded.producer_config()
        }
    };
    let producer = Arc::new(KafkaProducer::new(&config.client_id("orders-api"))?);
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u64>| async move { format!("order {id}") }),
        )
        .layer(AuditLayer::new(producer.clone()).service_name("orders-api"))
        .layer(middleware::from_fn(server_span))
        .route(
            "/metrics",
            get(metrics).with_state((meters.clone(), prometheus)),
        );

    if std::env::args().any(|a| a == "--smoke") {
        let traced = Request::get("/orders/42")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Body::empty())?;
        app.clone().oneshot(traced).await?;
        producer.wait_delivered(Duration::from_secs(10)).await;
        let metrics = app
            .oneshot(Request::get("/metrics").body(Body::empty())?)
            .await?;
        let body = axum::body::to_bytes(metrics.into_body(), 1 << 20).await?;
        print!("{}", String::from_utf8_lossy(&body));
    } else {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
        println!("listening on http://127.0.0.1:3001 (GET /orders/{{id}}, GET /metrics)");
        axum::serve(listener, app).await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    tracers.shutdown()?;
    meters.shutdown()?;
    Ok(())
}
