//! [`MemoryProducer`]: a [`Producer`] that keeps every record in memory, for your own tests.
//!
//! ```
//! use std::time::Duration;
//! use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = MemoryProducer::new();
//! let entry = AuditEntry { http_method: "GET".into(), ..AuditEntry::new() };
//! tokio::spawn({
//!     let (producer, entry) = (producer.clone(), entry.clone());
//!     async move { entry.emit(&producer).await }
//! });
//!
//! let records = producer.wait_for(1, Duration::from_secs(5)).await?;
//! assert_eq!(records[0].key_str(), Some(entry.id.to_string().as_str()));
//! assert_eq!(producer.events::<AuditEntry>()?, vec![entry]);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::envelope::{EnvelopeSettings, WireFormats};
use crate::error::CloseReport;
use crate::error::{ConfigError, EmitError};
use crate::event::KafkaEvent;
use crate::message::{Delivery, Message, MessageRef, Record, headers};
use crate::producer::{CloseFuture, Producer, SendFuture};
use crate::topic::TopicMap;

/// Records every message it is sent; clones share the same records.
///
/// Every record lands on partition 0 at the next offset of its topic. Logical topics are mapped
/// like [`KafkaProducer`](crate::KafkaProducer) maps them ([`MemoryProducer::with_topics`]).
///
/// ```
/// use std::time::Duration;
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let service = producer.clone(); // what the code under test holds
/// tokio::spawn(async move {
///     AuditEntry { service: "orders".into(), ..AuditEntry::new() }.emit_detached(&service)
/// });
///
/// // Wait for what is sent in the background, then look at it typed or raw.
/// producer.wait_for(1, Duration::from_secs(5)).await?;
/// assert_eq!(producer.events::<AuditEntry>()?[0].service, "orders");
/// assert_eq!(producer.records()[0].topic, "audit");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryProducer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    arrived: Notify,
    topics: TopicMap,
    wire: WireFormats,
}

#[derive(Default)]
struct State {
    records: Vec<Record>,
    next_offset: BTreeMap<String, i64>,
    closed: bool,
}

/// [`MemoryProducer::wait_for`] ran out of time.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::{AuditEntry, KafkaEvent, MemoryProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// AuditEntry::new().emit_detached(&producer)?;
///
/// let timeout = producer.wait_for(2, Duration::from_millis(50)).await.unwrap_err();
/// assert_eq!((timeout.expected, timeout.received), (2, 1));
/// assert_eq!(timeout.to_string(), "waited 50ms for 2 records, got 1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[error("waited {timeout:?} for {expected} records, got {received}")]
pub struct WaitTimeout {
    /// How many records were awaited.
    pub expected: usize,
    /// How many had arrived.
    pub received: usize,
    /// How long it waited.
    pub timeout: Duration,
}

impl MemoryProducer {
    /// A producer that uses logical topics as they are.
    pub fn new() -> Self {
        Self::default()
    }

    /// A producer that maps logical topics like a configured `KafkaProducer` would.
    pub fn with_topics(topics: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Ok(MemoryProducer {
            shared: Arc::new(Shared {
                topics: TopicMap::new(topics)?,
                ..Shared::default()
            }),
        })
    }

    /// Writes every event in the `EventJson` envelope with these settings, as a
    /// [`KafkaProducer`](crate::KafkaProducer) configured with `wire_format = "envelope"` does.
    /// Call it on a new producer: clones made before keep their own records and the flat
    /// format.
    ///
    /// ```
    /// use kafka_events::envelope::{EnvelopeSettings, EventJson};
    /// use kafka_events::{KafkaEvent, MemoryProducer, UsageEvent};
    ///
    /// let producer = MemoryProducer::new()
    ///     .with_envelope(EnvelopeSettings::new("billing.usage.api.v1", "billing-api")?);
    /// let usage = UsageEvent::new("billing-api", chrono::Utc::now(), chrono::Utc::now());
    /// usage.emit_detached(&producer)?;
    ///
    /// let record = &producer.records()[0];
    /// assert_eq!(EventJson::from_slice(&record.payload)?.event_type, "usage.report");
    /// // Tests written against the flat format keep working.
    /// assert_eq!(producer.events::<UsageEvent>()?, vec![usage]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_envelope(mut self, settings: EnvelopeSettings) -> Self {
        let wire = WireFormats::envelope_everywhere(settings);
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => shared.wire = wire,
            None => {
                let state = self.state();
                let copied = State {
                    records: state.records.clone(),
                    next_offset: state.next_offset.clone(),
                    closed: state.closed,
                };
                drop(state);
                self.shared = Arc::new(Shared {
                    state: Mutex::new(copied),
                    arrived: Notify::new(),
                    topics: self.shared.topics.clone(),
                    wire,
                });
            }
        }
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the records half-written.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every record so far, in the order they were sent.
    pub fn records(&self) -> Vec<Record> {
        self.state().records.clone()
    }

    /// How many records were sent.
    pub fn len(&self) -> usize {
        self.state().records.len()
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every record.
    pub fn clear(&self) {
        let mut state = self.state();
        state.records.clear();
        state.next_offset.clear();
    }

    /// The records on `T`'s topic decoded as `T`. When `T`'s event types are known (a fixed
    /// `type = ".."`, or `types = [..]` for an `#[event(type)]` field: see
    /// [`KafkaEvent::EVENT_TYPES`]), only records whose `event-type` header is one of them are
    /// taken, so events sharing a topic are told apart; otherwise every record on the topic
    /// must decode as `T`.
    ///
    /// ```
    /// use kafka_events::{AuditEntry, AuthEvent, KafkaEvent, MemoryProducer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = MemoryProducer::new();
    /// // Both go to the `audit` topic.
    /// AuditEntry::new().emit(&producer).await?;
    /// AuthEvent::login_failure("accounts", "mallory", "bad password").emit(&producer).await?;
    ///
    /// let auth = producer.events::<AuthEvent>()?;
    /// assert_eq!(auth.len(), 1);
    /// assert_eq!(auth[0].subject, "mallory");
    /// assert_eq!(producer.events::<AuditEntry>()?.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn events<T>(&self) -> Result<Vec<T>, serde_json::Error>
    where
        T: KafkaEvent + DeserializeOwned,
    {
        let topic = self.shared.topics.resolve(T::TOPIC).unwrap_or(T::TOPIC);
        self.state()
            .records
            .iter()
            .filter(|r| r.topic == topic)
            .filter(|r| {
                let types = match (T::EVENT_TYPES, &T::EVENT_TYPE) {
                    ([], Some(fixed)) => std::slice::from_ref(fixed),
                    (types, _) => types,
                };
                types.is_empty()
                    || r.header(headers::EVENT_TYPE)
                        .is_some_and(|t| types.iter().any(|e| e.as_bytes() == t))
            })
            .map(Record::decode)
            .collect()
    }

    /// Waits until at least `count` records were sent and returns all of them, or fails after
    /// `timeout`.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Record>, WaitTimeout> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so a record arriving in between still wakes us.
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let received = {
                let state = self.state();
                if state.records.len() >= count {
                    return Ok(state.records.clone());
                }
                state.records.len()
            };
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Err(WaitTimeout {
                    expected: count,
                    received,
                    timeout,
                });
            }
        }
    }
}

impl MemoryProducer {
    fn record(&self, message: Message) -> Result<Delivery, EmitError> {
        let topic = self.shared.topics.resolve(&message.topic)?.to_owned();
        let mut state = self.state();
        if state.closed {
            return Err(EmitError::Closed);
        }
        let next = state.next_offset.entry(topic.clone()).or_insert(0);
        let offset = *next;
        *next += 1;
        state.records.push(Record {
            topic: topic.clone(),
            partition: 0,
            offset,
            key: message.key,
            payload: message.payload,
            headers: message.headers,
        });
        drop(state);
        self.shared.arrived.notify_waiters();
        Ok(Delivery {
            topic,
            partition: 0,
            offset,
        })
    }
}

impl Producer for MemoryProducer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(std::future::ready(self.record(message)))
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        self.record(message.into()).map(drop)
    }

    fn close(&self, _timeout: Duration) -> CloseFuture<'_> {
        self.state().closed = true;
        Box::pin(std::future::ready(Ok(CloseReport::default())))
    }

    fn envelope_for(&self, topic: &str) -> Option<&EnvelopeSettings> {
        self.shared.wire.envelope_for(topic)
    }
}
