//! The rdkafka backend: [`KafkaConfig`] and [`KafkaProducer`].
//!
//! ```
//! use kafka_events::{KafkaConfig, KafkaProducer, ConfigError};
//!
//! // Loads from TOML, JSON or the environment through serde; unknown keys are errors.
//! let config: KafkaConfig = serde_json::from_str(r#"{
//!     "brokers": ["127.0.0.1:9092"],
//!     "client_id": "billing-api",
//!     "topics": { "audit": "ds.core.config.compliance.1.0.0", "usage": "ds.core.config.billing.1.0.0" },
//!     "properties": { "linger.ms": "10" }
//! }"#)?;
//! let producer = KafkaProducer::new(&config)?;
//!
//! // Mistakes are typed errors that name the field.
//! let bad = KafkaConfig::new(["localhost"]);
//! assert!(matches!(KafkaProducer::new(&bad), Err(ConfigError::InvalidBroker { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod context;
mod replay;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, Producer as _, PurgeConfig, ThreadedProducer};
use rdkafka::util::Timeout;

pub use config::{KafkaConfig, OverflowPolicy};
use context::{Context, Shared, Tag, Waiter, lock, now_micros};
use replay::{Replayer, Signal};

use crate::error::{CloseError, CloseReport, ConfigError, EmitError};
use crate::producer::{
    CloseFuture, Delivery, Message, MessageRef, Producer, SendFuture, header_pairs,
};
use crate::spool::{Spool, SpoolRecovery};
use crate::stats::{Counters, DeliveryStats};
use crate::topic::TopicMap;

/// A [`Producer`] on librdkafka. Share it with an `Arc`.
///
/// - [`emit`](crate::KafkaEvent::emit) waits for the broker's acknowledgement, at most
///   `delivery_timeout_ms`.
/// - [`emit_detached`](crate::KafkaEvent::emit_detached) copies the record into librdkafka's
///   bounded queue and returns; delivery reports are handled on librdkafka's polling thread.
///   A record that can't be delivered goes to the spool (when configured) and is replayed, in
///   order, when a broker is reachable again and on the next start.
/// - While no broker is reachable, detached records go straight to the spool and those waiting
///   in memory are moved there, so a crash of this process loses none of them.
/// - [`close`](Producer::close) stops intake, flushes, and spools (or returns) what is left.
///
/// Awaiting `emit` while librdkafka's queue is full waits on Tokio's timer, so that future needs
/// a Tokio runtime with time enabled; nothing else here depends on the async runtime.
pub struct KafkaProducer {
    inner: ThreadedProducer<Context>,
    shared: Arc<Shared>,
    topics: TopicMap,
    delivery_timeout: Duration,
    overflow: OverflowPolicy,
    max_message_bytes: usize,
    closed: AtomicBool,
    replayer: Mutex<Option<ReplayHandle>>,
    recovery: Option<SpoolRecovery>,
}

struct ReplayHandle {
    stop: Arc<Signal>,
    abandon: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl KafkaProducer {
    /// Creates the producer, opening (and checking) the spool when one is configured and
    /// starting to replay what it holds. Nothing is sent yet; an unreachable broker shows up
    /// on the first sends, not here.
    pub fn new(config: &KafkaConfig) -> Result<Self, ConfigError> {
        let topics = TopicMap::new(config.topics.clone())?;
        let overflow = config.overflow_policy()?;
        let client_config = config.client_config()?;
        // Building the native config first names the property librdkafka rejects.
        if let Err(error) = client_config.create_native_config() {
            return Err(match error {
                KafkaError::ClientConfig(_, reason, name, value) => ConfigError::InvalidProperty {
                    name,
                    value,
                    reason,
                },
                other => ConfigError::Client {
                    reason: other.to_string(),
                },
            });
        }
        let (spool, recovery) = match &config.spool {
            Some(spool_config) => {
                let (spool, recovery) = Spool::open(spool_config)?;
                if recovery.records > 0 {
                    tracing::info!(
                        records = recovery.records,
                        dir = %spool.dir().display(),
                        "kafka-events: replaying records spooled by an earlier run"
                    );
                }
                (Some(spool), Some(recovery))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared::new(spool));
        let inner =
            ThreadedProducer::from_config_and_context(&client_config, Context(shared.clone()))
                .map_err(|e| ConfigError::Client {
                    reason: match e {
                        KafkaError::ClientCreation(reason) => reason,
                        other => other.to_string(),
                    },
                })?;
        let replayer = shared.spool.is_some().then(|| {
            let stop = Arc::new(Signal::default());
            let abandon = Arc::new(AtomicBool::new(false));
            let replayer = Replayer {
                producer: inner.clone(),
                shared: shared.clone(),
                stop: stop.clone(),
                abandon: abandon.clone(),
            };
            let thread = std::thread::Builder::new()
                .name("kafka-events-replay".into())
                .spawn(move || replayer.run())
                .expect("spawning the spool replay thread");
            ReplayHandle {
                stop,
                abandon,
                thread,
            }
        });
        Ok(KafkaProducer {
            inner,
            shared,
            topics,
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            overflow,
            max_message_bytes: config.max_message_bytes(),
            closed: AtomicBool::new(false),
            replayer: Mutex::new(replayer),
            recovery,
        })
    }

    /// How many records are queued or awaiting acknowledgement in memory.
    pub fn in_flight(&self) -> usize {
        usize::try_from(self.inner.in_flight_count()).unwrap_or(0)
    }

    /// What the producer did so far.
    pub fn stats(&self) -> DeliveryStats {
        self.shared.counters.snapshot(
            self.in_flight() as u64,
            self.shared.spool.as_ref().map_or(0, Spool::len),
        )
    }

    /// What opening the spool found (records to replay, damage repaired), if there is a spool.
    pub fn spool_recovery(&self) -> Option<&SpoolRecovery> {
        self.recovery.as_ref()
    }

    /// Waits up to `timeout` until nothing is in memory or in the spool, every record handed
    /// over so far being delivered (or dropped). Returns whether that happened in time. Runs on
    /// a thread of its own, not on the async runtime.
    pub async fn wait_delivered(&self, timeout: Duration) -> bool {
        let producer = self.inner.clone();
        let shared = self.shared.clone();
        run_blocking(move || {
            let deadline = std::time::Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let _ = producer.flush(Timeout::After(left.min(Duration::from_millis(200))));
                let spooled = shared.spool.as_ref().map_or(0, Spool::len);
                if producer.in_flight_count() == 0 && spooled == 0 {
                    return true;
                }
                if left.is_zero() {
                    return false;
                }
                if let Some(spool) = &shared.spool {
                    spool.wait_changed(left.min(Duration::from_millis(100)));
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// The underlying rdkafka producer, for what this crate does not cover. Its type follows
    /// the `rdkafka` version this crate depends on.
    pub fn rdkafka(&self) -> &ThreadedProducer<impl rdkafka::producer::ProducerContext + use<>> {
        &self.inner
    }

    fn map_error(&self, error: &KafkaError, topic: &str, size: usize) -> EmitError {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => EmitError::MessageTooLarge {
                size,
                limit: self.max_message_bytes,
            },
            Some(RDKafkaErrorCode::MessageTimedOut) => EmitError::Timeout(self.delivery_timeout),
            Some(RDKafkaErrorCode::QueueFull) => EmitError::QueueFull,
            Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => {
                if self.closed.load(Ordering::Acquire) {
                    EmitError::Closed
                } else {
                    EmitError::Unreachable
                }
            }
            Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition) => {
                EmitError::UnknownTopic {
                    topic: topic.to_owned(),
                }
            }
            _ => EmitError::Broker {
                reason: error.to_string(),
            },
        }
    }

    fn spool_record(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        self.shared.spool_record(message).map_err(|error| {
            Counters::add(&self.shared.counters.dropped, 1);
            EmitError::Spool(error)
        })
    }

    fn stop_replay(&self, abandon: bool) -> Option<JoinHandle<()>> {
        let handle = lock(&self.replayer).take()?;
        if abandon {
            handle.abandon.store(true, Ordering::Release);
        }
        handle.stop.set();
        if let Some(spool) = &self.shared.spool {
            spool.notify();
        }
        Some(handle.thread)
    }
}

pub(crate) fn owned_headers<'a>(
    headers: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
) -> OwnedHeaders {
    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
    for (key, value) in headers {
        owned = owned.insert(rdkafka::message::Header {
            key,
            value: Some(value),
        });
    }
    owned
}

fn is_queue_full(error: &KafkaError) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull)
}

/// Runs blocking librdkafka work on a thread of its own and awaits the result, whatever the
/// async runtime.
async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.await.ok()
}

impl Producer for KafkaProducer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(EmitError::Closed);
            }
            let topic = self.topics.resolve(&message.topic)?;
            let id = self.shared.next_waiter.fetch_add(1, Ordering::Relaxed);
            let (reply, rx) = tokio::sync::oneshot::channel();
            self.shared.waiters().insert(
                id,
                Waiter {
                    enqueued_at: now_micros(),
                    reply,
                },
            );
            let deadline = tokio::time::Instant::now() + self.delivery_timeout;
            let mut record = BaseRecord::with_opaque_to(topic, Tag::Emit(id).encode())
                .key(&message.key[..])
                .payload(&message.payload[..])
                .headers(owned_headers(header_pairs(&message.headers)));
            let room = &self.shared.room;
            let _waiting = room.waiting();
            loop {
                // Registered before the attempt, so room freed in between still wakes us.
                let freed = room.freed_async.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                match self.inner.send(record) {
                    Ok(()) => break,
                    Err((error, back)) if is_queue_full(&error) => {
                        if tokio::time::timeout_at(deadline, freed).await.is_err() {
                            self.shared.waiters().remove(&id);
                            return Err(EmitError::QueueFull);
                        }
                        record = back;
                    }
                    Err((error, _)) => {
                        self.shared.waiters().remove(&id);
                        return Err(self.map_error(&error, topic, message.payload.len()));
                    }
                }
            }
            Counters::add(&self.shared.counters.enqueued, 1);
            match rx.await {
                Ok(Ok((partition, offset))) => Ok(Delivery {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                }),
                Ok(Err(error)) => Err(self.map_error(&error, topic, message.payload.len())),
                Err(_) => Err(EmitError::Closed),
            }
        })
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(EmitError::Closed);
        }
        let topic = self.topics.resolve(message.topic)?;
        let message = MessageRef { topic, ..message };
        if self.shared.spool.is_some() && self.shared.brokers_down.load(Ordering::Acquire) {
            return self.spool_record(message);
        }
        let record = || {
            BaseRecord::with_opaque_to(topic, Tag::Detached(now_micros()).encode())
                .key(message.key)
                .payload(message.payload)
                .headers(owned_headers(message.headers.iter().copied()))
        };
        let refused = match self.inner.send(record()) {
            Ok(()) => None,
            Err((error, _)) => Some(error),
        };
        let Some(error) = refused else {
            Counters::add(&self.shared.counters.enqueued, 1);
            return Ok(());
        };
        if !is_queue_full(&error) {
            return Err(self.map_error(&error, topic, message.payload.len()));
        }
        match self.overflow {
            OverflowPolicy::Spool => self.spool_record(message),
            OverflowPolicy::DropNewest => {
                Counters::add(&self.shared.counters.dropped, 1);
                Err(EmitError::QueueFull)
            }
            OverflowPolicy::Block { timeout_ms } => {
                let sent = self
                    .shared
                    .room
                    .wait_for(Duration::from_millis(timeout_ms), || {
                        match self.inner.send(record()) {
                            Ok(()) => Some(Ok(())),
                            Err((error, _)) if is_queue_full(&error) => None,
                            Err((error, _)) => Some(Err(error)),
                        }
                    });
                match sent {
                    Some(Ok(())) => {
                        Counters::add(&self.shared.counters.enqueued, 1);
                        Ok(())
                    }
                    Some(Err(error)) => Err(self.map_error(&error, topic, message.payload.len())),
                    None => {
                        Counters::add(&self.shared.counters.dropped, 1);
                        Err(EmitError::QueueFull)
                    }
                }
            }
        }
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        self.closed.store(true, Ordering::Release);
        let producer = self.inner.clone();
        let shared = self.shared.clone();
        let replay = self.stop_replay(false);
        Box::pin(async move {
            let spooled_before = shared.counters.snapshot(0, 0).spooled;
            let report = run_blocking(move || {
                shared.closing.store(true, Ordering::Release);
                if producer.flush(Timeout::After(timeout)).is_err() {
                    // What is left is failed on purpose: the delivery callback spools it (or
                    // keeps it for the caller), rather than librdkafka dropping it on exit.
                    producer.purge(PurgeConfig::default().queue().inflight());
                    let _ = producer.flush(Timeout::After(Duration::from_secs(5)));
                }
                if let Some(thread) = replay {
                    let _ = thread.join();
                }
                if let Some(spool) = &shared.spool {
                    spool.sync();
                }
                let returned = std::mem::take(&mut *lock(&shared.returned));
                let spooled = shared.counters.snapshot(0, 0).spooled - spooled_before;
                (returned, spooled)
            })
            .await;
            match report {
                Some((returned, _)) if !returned.is_empty() => Err(CloseError::Undelivered {
                    messages: returned,
                    timeout,
                }),
                Some((_, spooled)) => Ok(CloseReport { spooled }),
                None => Ok(CloseReport::default()),
            }
        })
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        let at_risk = self.in_flight();
        if at_risk > 0 && !self.closed.load(Ordering::Acquire) {
            if self.shared.spool.is_some() {
                tracing::warn!(
                    at_risk,
                    "KafkaProducer dropped without close(): undelivered records go to the spool"
                );
            } else {
                tracing::warn!(
                    at_risk,
                    "KafkaProducer dropped without close() and without a spool: undelivered records are lost"
                );
            }
        }
        if let Some(thread) = self.stop_replay(true) {
            let _ = thread.join();
        }
        // Dropping `inner` purges librdkafka's queues; the delivery callback spools the purged
        // detached records.
    }
}

#[cfg(test)]
mod tests {
    use super::config::check_broker;
    use super::*;

    #[test]
    fn broker_addresses() {
        for good in [
            "127.0.0.1:9092",
            "kafka-0.kafka:9092",
            "[::1]:9092",
            "SSL://host:9093",
        ] {
            assert_eq!(check_broker(good), Ok(()), "{good}");
        }
        for bad in [
            "localhost",
            ":9092",
            "host:0",
            "host:99999",
            "host:port",
            "a b:1",
        ] {
            assert!(check_broker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        assert!(matches!(
            KafkaProducer::new(&KafkaConfig::default()),
            Err(ConfigError::NoBrokers)
        ));
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("no.such", "1"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "no.such"),
            "{err}"
        );
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("acks", "maybe"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "acks"),
            "{err}"
        );
        let err = KafkaProducer::new(
            &KafkaConfig::new(["127.0.0.1:9092"]).property("bootstrap.servers", "x:1"),
        )
        .err()
        .unwrap();
        assert!(matches!(
            err,
            ConfigError::ReservedProperty {
                field: "brokers",
                ..
            }
        ));
        let err = KafkaProducer::new(
            &KafkaConfig::new(["127.0.0.1:9092"]).overflow(OverflowPolicy::Spool),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ConfigError::SpoolRequired), "{err}");
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_typos() {
        let config: KafkaConfig = serde_json::from_str(
            r#"{"brokers": ["h:1"], "overflow": {"block": {"timeout_ms": 50}}, "spool": {"dir": "/tmp/x", "fsync": "always"}}"#,
        )
        .unwrap();
        assert_eq!(config.client_id, "kafka-events");
        assert_eq!(config.delivery_timeout_ms, 5_000);
        assert_eq!(
            config.overflow,
            Some(OverflowPolicy::Block { timeout_ms: 50 })
        );
        assert_eq!(config.spool.unwrap().fsync, crate::FsyncPolicy::Always);
        let typo = serde_json::from_str::<KafkaConfig>(r#"{"broker": ["h:1"]}"#).unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `broker`"),
            "{typo}"
        );
        let policy: OverflowPolicy = serde_json::from_str(r#""drop_newest""#).unwrap();
        assert_eq!(policy, OverflowPolicy::DropNewest);
    }
}
