//! The producer's instruments. `messaging.client.operation.duration` is recorded as records are
//! acknowledged; everything else is read from the producer's [`DeliveryStats`] when the
//! application's meter reader collects, so the numbers are the ones `stats()` gives.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Histogram, Meter};

use crate::stats::DeliveryStats;

/// `messaging.client.operation.duration`'s explicit bucket boundaries, in seconds, from the
/// messaging metrics conventions.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The first bootstrap broker: `server.address` and `server.port`.
pub(super) type Server = Option<(opentelemetry::Value, i64)>;

pub(super) struct Instruments {
    duration: Histogram<f64>,
    /// What every point of this producer carries.
    attributes: Vec<KeyValue>,
}

/// The attributes every messaging metric of a producer carries: the system, the operation,
/// the client id and, when known, the server (as the conventions ask "if available").
fn common(client_id: &opentelemetry::Value, server: &Server) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.operation.name", "send"),
        KeyValue::new("messaging.client.id", client_id.clone()),
    ];
    if let Some((address, port)) = server {
        attributes.push(KeyValue::new("server.address", address.clone()));
        attributes.push(KeyValue::new("server.port", *port));
    }
    attributes
}

impl Instruments {
    pub fn new(meter: &Meter, client_id: &opentelemetry::Value, server: &Server) -> Instruments {
        Instruments {
            duration: meter
                .f64_histogram("messaging.client.operation.duration")
                .with_unit("s")
                .with_description(
                    "Duration of messaging operation initiated by a producer or consumer client.",
                )
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            attributes: common(client_id, server),
        }
    }

    /// A send took `seconds`, from librdkafka taking the record to the broker's acknowledgement.
    pub fn duration(&self, seconds: f64) {
        self.duration.record(seconds, &self.attributes);
    }
}

type Stats = Arc<dyn Fn() -> Option<DeliveryStats> + Send + Sync>;

/// What one observable instrument reports: its values, each with its own attribute if any.
type Read = fn(&DeliveryStats) -> Vec<(u64, Option<KeyValue>)>;

/// Counters (monotonic sums) and gauges read from [`DeliveryStats`].
enum Kind {
    Counter,
    Gauge,
}

/// Every observable instrument: name, kind, unit, values (descriptions in [`description`]).
#[rustfmt::skip]
const OBSERVED: &[(&str, Kind, &str, Read)] = &[
    ("messaging.client.sent.messages", Kind::Counter, "{message}", sent),
    ("kafka_events.queue.records", Kind::Gauge, "{record}", |s| one(s.queue_depth)),
    ("kafka_events.spool.records", Kind::Gauge, "{record}", |s| one(s.spool_depth)),
    ("kafka_events.queue.bytes", Kind::Gauge, "By", |s| one(s.queue_bytes)),
    ("kafka_events.spool.bytes", Kind::Gauge, "By", |s| one(s.spool_bytes)),
    ("kafka_events.spool.unreadable", Kind::Gauge, "{segment}", |s| one(s.spool_unreadable)),
    ("kafka_events.spool.fsync_failures", Kind::Counter, "{fsync}", |s| one(s.spool_fsync_failures)),
    ("kafka_events.records.spooled", Kind::Counter, "{record}", |s| one(s.spooled)),
    ("kafka_events.records.replayed", Kind::Counter, "{record}", |s| one(s.replayed)),
    ("kafka_events.records.quarantined", Kind::Counter, "{record}", |s| one(s.quarantined)),
    ("kafka_events.records.dropped", Kind::Counter, "{record}", dropped),
    ("kafka_events.brokers.reachable", Kind::Gauge, "1", |s| one(u64::from(!s.brokers_down))),
];

fn one(value: u64) -> Vec<(u64, Option<KeyValue>)> {
    vec![(value, None)]
}

/// Sent: delivered, and given up (quarantined or dropped) with `error.type`.
fn sent(s: &DeliveryStats) -> Vec<(u64, Option<KeyValue>)> {
    let error = |e: &'static str| Some(KeyValue::new("error.type", e));
    vec![
        (s.delivered, None),
        (s.quarantined, error("quarantined")),
        (s.dropped, error("dropped")),
    ]
}

/// Dropped, by `kafka_events.drop.reason`.
fn dropped(s: &DeliveryStats) -> Vec<(u64, Option<KeyValue>)> {
    s.dropped_by
        .reasons()
        .into_iter()
        .map(|(reason, n)| (n, Some(KeyValue::new("kafka_events.drop.reason", reason))))
        .collect()
}

fn description(name: &str) -> &'static str {
    match name {
        "messaging.client.sent.messages" => {
            "Number of messages producer attempted to send to the broker."
        }
        "kafka_events.queue.records" => {
            "Records in librdkafka's queue or awaiting acknowledgement, or waiting in memory."
        }
        "kafka_events.spool.records" => {
            "Records in the spool, being replayed or waiting to be: the replay backlog."
        }
        "kafka_events.queue.bytes" => {
            "Bytes of the records counted in kafka_events.queue.records: keys and payloads in librdkafka, whole records waiting for it."
        }
        "kafka_events.spool.bytes" => {
            "Bytes the spool's segments holding records not yet done take on disk."
        }
        "kafka_events.spool.unreadable" => {
            "Spool segments whose file could not be read at their last try; their records wait."
        }
        "kafka_events.spool.fsync_failures" => {
            "fsyncs of the spool that failed; the segment is written anew, its records not counted as on disk until then."
        }
        "kafka_events.records.spooled" => "Records written to the spool.",
        "kafka_events.records.replayed" => {
            "Records sent from the spool that the broker acknowledged."
        }
        "kafka_events.records.quarantined" => {
            "Records the broker refused for good, moved to the spool's quarantine."
        }
        "kafka_events.records.dropped" => {
            "Records given up, each logged as an error, by kafka_events.drop.reason."
        }
        "kafka_events.brokers.reachable" => {
            "1 while a broker answers, 0 while librdkafka reports every broker down."
        }
        _ => "",
    }
}

/// Registers the observable instruments read from `stats`, each point with the producer's
/// `messaging.client.id` (producers with distinct client ids report apart; two with the same one
/// observe the same points, and the last observation wins). They live as long
/// as the meter provider; once the producer is gone they observe nothing.
pub(super) fn observe(
    meter: &Meter,
    client_id: &opentelemetry::Value,
    server: &Server,
    stats: Stats,
) {
    for (name, kind, unit, read) in OBSERVED {
        let (stats, read, base) = (stats.clone(), *read, common(client_id, server));
        let callback = move |observer: &dyn AsyncInstrument<u64>| {
            let Some(stats) = stats() else { return };
            for (value, extra) in read(&stats) {
                let mut attributes = base.clone();
                attributes.extend(extra);
                observer.observe(value, &attributes);
            }
        };
        // The same chain on two builder types.
        macro_rules! register {
            ($builder:expr) => {
                $builder
                    .with_unit(*unit)
                    .with_description(description(name))
                    .with_callback(callback)
                    .build()
            };
        }
        match kind {
            Kind::Counter => drop(register!(meter.u64_observable_counter(*name))),
            Kind::Gauge => drop(register!(meter.u64_observable_gauge(*name))),
        }
    }
}
