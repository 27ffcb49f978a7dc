//! An in-process Kafka-protocol broker for tests and demos, and a reader to consume topics back.
//!
//! [`EmbeddedKafka`] wraps librdkafka's mock cluster: real Kafka protocol over TCP on 127.0.0.1,
//! no JVM, no container. It does not persist anything and does not dedupe idempotent retries.
//!
//! ```
//! use std::time::Duration;
//! use kafka_events::testing::{EmbeddedKafka, read_topic};
//! use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kafka = EmbeddedKafka::start()?;
//! kafka.create_topic("audit", 3)?;
//! let producer = KafkaProducer::new(&kafka.producer_config())?;
//!
//! let entry = AuditEntry::new();
//! let delivery = entry.emit(&producer).await?;
//!
//! let records = read_topic(kafka.bootstrap_servers(), "audit", 1, Duration::from_secs(10))?;
//! assert_eq!(records[0].partition, delivery.partition);
//! assert_eq!(records[0].decode::<AuditEntry>()?, entry);
//! # Ok(())
//! # }
//! ```

use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message as _};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, Producer as _};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::kafka::KafkaConfig;
use crate::message::{Header, Record};

/// Errors from [`EmbeddedKafka`] and [`read_topic`].
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, TestingError, read_topic};
///
/// let kafka = EmbeddedKafka::start()?;
/// let read = read_topic(kafka.bootstrap_servers(), "never-created", 1, Duration::from_secs(5));
/// assert!(matches!(read, Err(TestingError::Read { topic, .. }) if topic == "never-created"));
/// # Ok::<(), TestingError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// The mock cluster could not start.
    #[error("the embedded broker could not start: {0}")]
    Start(String),
    /// The mock cluster rejected an operation.
    #[error("the embedded broker rejected `{operation}`: {reason}")]
    Operation {
        /// What was asked.
        operation: String,
        /// What librdkafka said.
        reason: String,
    },
    /// The broker thread has stopped.
    #[error("the embedded broker has stopped")]
    Stopped,
    /// Reading a topic back failed.
    #[error("reading topic `{topic}` failed: {reason}")]
    Read {
        /// The topic.
        topic: String,
        /// What librdkafka said.
        reason: String,
    },
}

/// A retriable Produce failure to inject with [`EmbeddedKafka::fail_produce_requests`].
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, ProduceFault, read_topic};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kafka = EmbeddedKafka::start()?;
/// kafka.create_topic("audit", 1)?;
/// let config = kafka.producer_config().property("max.in.flight.requests.per.connection", "1");
/// let producer = KafkaProducer::new(&config)?;
///
/// // The next two Produce requests fail; librdkafka retries, and the emit succeeds anyway.
/// kafka.fail_produce_requests(&[
///     ProduceFault::LeaderNotAvailable,
///     ProduceFault::NotEnoughReplicas,
/// ])?;
/// let entry = AuditEntry::new();
/// entry.emit(&producer).await?;
///
/// let records = read_topic(kafka.bootstrap_servers(), "audit", 1, Duration::from_secs(10))?;
/// assert_eq!(records[0].decode::<AuditEntry>()?, entry);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProduceFault {
    /// The partition has no leader for a moment.
    LeaderNotAvailable,
    /// The broker timed the request out.
    RequestTimedOut,
    /// Too few in-sync replicas for `acks=all`.
    NotEnoughReplicas,
    /// The broker drops the connection.
    Disconnect,
}

impl ProduceFault {
    fn code(self) -> RDKafkaRespErr {
        match self {
            ProduceFault::LeaderNotAvailable => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE
            }
            ProduceFault::RequestTimedOut => RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            ProduceFault::NotEnoughReplicas => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS
            }
            ProduceFault::Disconnect => RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
        }
    }
}

type Reply = mpsc::Sender<Result<(), TestingError>>;

enum Command {
    CreateTopic(String, i32, Reply),
    BrokerDown(i32, Reply),
    BrokerUp(i32, Reply),
    FailProduce(Vec<ProduceFault>, Reply),
    Latency(i32, Duration, Reply),
}

/// An in-process Kafka-protocol broker (librdkafka's mock cluster) listening on 127.0.0.1.
///
/// The mock cluster is not `Send`, so it lives on a thread of its own; this handle is `Send +
/// Sync` and stops the cluster when dropped.
///
/// The first acknowledged send of a new producer takes about half a second: librdkafka's
/// idempotent producer fetches its producer id first (production brokers answer the same
/// request quickly too, once per producer).
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, read_topic};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kafka = EmbeddedKafka::start()?;
/// kafka.create_topic("audit", 3)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// AuditEntry::new().emit(&producer).await?;
///
/// // An outage: detached emits still return at once.
/// kafka.all_down()?;
/// AuditEntry::new().emit_detached(&producer)?;
/// kafka.all_up()?;
/// producer.close(Duration::from_secs(10)).await?;
///
/// let records = read_topic(kafka.bootstrap_servers(), "audit", 2, Duration::from_secs(10))?;
/// assert_eq!(records.len(), 2);
/// # Ok(())
/// # }
/// ```
pub struct EmbeddedKafka {
    commands: Mutex<mpsc::Sender<Command>>,
    bootstrap: String,
    brokers: i32,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedKafka {
    /// Starts a cluster of one broker.
    pub fn start() -> Result<Self, TestingError> {
        Self::with_brokers(1)
    }

    /// Starts a cluster of `brokers` brokers, with ids `1..=brokers`.
    pub fn with_brokers(brokers: i32) -> Result<Self, TestingError> {
        let (commands, inbox) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || {
                // The cluster lives in a client of its own, whose complaints as the cluster is
                // torn down (its brokers gone) are nobody's concern.
                let carrier: Result<BaseProducer<Quiet>, _> = ClientConfig::new()
                    .set("test.mock.num.brokers", brokers.to_string())
                    .create_with_context(Quiet);
                let cluster = carrier
                    .as_ref()
                    .map_err(|e| e.to_string())
                    .and_then(|carrier| {
                        carrier
                            .client()
                            .mock_cluster()
                            .ok_or_else(|| "librdkafka made no mock cluster".to_owned())
                    });
                let cluster = match cluster {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = ready_tx.send(Err(TestingError::Start(e)));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Ends when the handle (the only sender) is dropped.
                for command in inbox {
                    serve(&cluster, command);
                }
            })
            .map_err(|e| TestingError::Start(e.to_string()))?;
        let bootstrap = ready_rx.recv().map_err(|_| TestingError::Stopped)??;
        Ok(EmbeddedKafka {
            commands: Mutex::new(commands),
            bootstrap,
            brokers,
            thread: Some(thread),
        })
    }

    /// The `host:port` list to give clients.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// A producer configuration pointing at this cluster, with a short delivery timeout suited
    /// to tests.
    pub fn producer_config(&self) -> KafkaConfig {
        KafkaConfig::new([self.bootstrap.clone()]).delivery_timeout(Duration::from_secs(10))
    }

    /// Creates a topic (replication factor 1).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), TestingError> {
        self.call(|reply| Command::CreateTopic(name.to_owned(), partitions, reply))
    }

    /// Takes broker `id` down: its connections close and it refuses new ones.
    pub fn broker_down(&self, id: i32) -> Result<(), TestingError> {
        self.call(|reply| Command::BrokerDown(id, reply))
    }

    /// Brings broker `id` back up.
    pub fn broker_up(&self, id: i32) -> Result<(), TestingError> {
        self.call(|reply| Command::BrokerUp(id, reply))
    }

    /// Takes every broker down.
    pub fn all_down(&self) -> Result<(), TestingError> {
        (1..=self.brokers).try_for_each(|id| self.broker_down(id))
    }

    /// Brings every broker back up.
    pub fn all_up(&self) -> Result<(), TestingError> {
        (1..=self.brokers).try_for_each(|id| self.broker_up(id))
    }

    /// Makes every broker answer each request `latency` late (zero to undo).
    pub fn set_latency(&self, latency: Duration) -> Result<(), TestingError> {
        (1..=self.brokers)
            .try_for_each(|id| self.call(|reply| Command::Latency(id, latency, reply)))
    }

    /// Makes the next Produce requests fail with these errors, one per request, in order.
    ///
    /// The embedded broker does not check an idempotent producer's sequence numbers (librdkafka's
    /// mock cluster checks them for transactional producers only). A real broker refuses a batch
    /// that arrives after a failed one of the same partition (`OutOfOrderSequenceNumber`); the
    /// embedded one writes it, and librdkafka then takes the failed batch as written too (a later
    /// sequence succeeded) and reports its records delivered although they never were. With
    /// injected errors, give the producer one request in flight per broker, as a real broker's
    /// ordering would: `.property("max.in.flight.requests.per.connection", "1")`.
    pub fn fail_produce_requests(&self, faults: &[ProduceFault]) -> Result<(), TestingError> {
        self.call(|reply| Command::FailProduce(faults.to_vec(), reply))
    }

    fn call(&self, command: impl FnOnce(Reply) -> Command) -> Result<(), TestingError> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(command(reply))
            .map_err(|_| TestingError::Stopped)?;
        answer.recv().map_err(|_| TestingError::Stopped)?
    }
}

fn serve<C: rdkafka::ClientContext>(cluster: &MockCluster<'_, C>, command: Command) {
    let done = |reply: Reply, operation: String, result: Result<(), KafkaError>| {
        let _ = reply.send(result.map_err(|e| TestingError::Operation {
            operation,
            reason: e.to_string(),
        }));
    };
    match command {
        Command::CreateTopic(name, partitions, reply) => {
            let result = cluster.create_topic(&name, partitions, 1);
            done(reply, format!("create topic {name}"), result);
        }
        Command::BrokerDown(id, reply) => {
            done(reply, format!("broker {id} down"), cluster.broker_down(id))
        }
        Command::BrokerUp(id, reply) => {
            done(reply, format!("broker {id} up"), cluster.broker_up(id))
        }
        Command::Latency(id, latency, reply) => done(
            reply,
            format!("broker {id} latency {latency:?}"),
            cluster.broker_round_trip_time(id, latency),
        ),
        Command::FailProduce(faults, reply) => {
            let codes: Vec<RDKafkaRespErr> = faults.iter().map(|f| f.code()).collect();
            cluster.request_errors(RDKafkaApiKey::Produce, &codes);
            let _ = reply.send(Ok(()));
        }
    }
}

/// The context of the client that carries the mock cluster: it logs nothing above debug.
struct Quiet;

impl rdkafka::ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "embedded broker's own client");
    }

    fn log(&self, _: rdkafka::config::RDKafkaLogLevel, facility: &str, line: &str) {
        tracing::debug!(facility, line, "embedded broker's own client");
    }
}

impl rdkafka::producer::ProducerContext for Quiet {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        // Dropping the sender ends the thread's loop, which drops the cluster.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(
            self.commands.get_mut().unwrap_or_else(|e| e.into_inner()),
            closed,
        ));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads `topic` from the beginning of every partition with an independent rdkafka consumer
/// until `expected` records have arrived or `timeout` has passed, and returns what it read (so
/// fewer than `expected` means they did not arrive in time). Blocks the calling thread.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, read_topic};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kafka = EmbeddedKafka::start()?;
/// kafka.create_topic("audit", 3)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// let mut sent = Vec::new();
/// for _ in 0..3 {
///     let entry = AuditEntry::new();
///     entry.emit(&producer).await?;
///     sent.push(entry.id.to_string());
/// }
///
/// // From every partition: compare as sets, not in order.
/// let records = read_topic(kafka.bootstrap_servers(), "audit", 3, Duration::from_secs(10))?;
/// let mut read: Vec<String> =
///     records.iter().filter_map(|r| r.key_str()).map(String::from).collect();
/// read.sort();
/// sent.sort();
/// assert_eq!(read, sent);
/// # Ok(())
/// # }
/// ```
pub fn read_topic(
    bootstrap_servers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Result<Vec<Record>, TestingError> {
    read_topic_until(bootstrap_servers, topic, timeout, |records| {
        records.len() >= expected
    })
}

/// Like [`read_topic`], but stops as soon as `done` returns true for the records read so far
/// (for a topic that holds older records too), or when `timeout` has passed.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, read_topic_until};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 1)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// AuditEntry::new().emit(&producer).await?; // an older record
/// let entry = AuditEntry::new();
/// entry.emit(&producer).await?;
///
/// let key = entry.id.to_string();
/// let timeout = Duration::from_secs(10);
/// let records = read_topic_until(kafka.bootstrap_servers(), "audit", timeout, |read| {
///     read.iter().any(|record| record.key_str() == Some(key.as_str()))
/// })?;
/// assert_eq!(records.len(), 2);
/// assert_eq!(records[1].decode::<AuditEntry>()?, entry);
/// # Ok(())
/// # }
/// ```
pub fn read_topic_until(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
    done: impl FnMut(&[Record]) -> bool,
) -> Result<Vec<Record>, TestingError> {
    read(bootstrap_servers, topic, timeout, None, done)
}

/// Reads `topic` from the beginning until no record has arrived for `idle` (or `timeout` has
/// passed): everything the topic holds, duplicates included.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, read_topic_idle};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 3)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// for _ in 0..3 {
///     AuditEntry::new().emit_detached(&producer)?;
/// }
/// producer.close(Duration::from_secs(10)).await?;
///
/// // Not "at least 3": all of them, so a duplicate would show.
/// let (idle, timeout) = (Duration::from_secs(2), Duration::from_secs(20));
/// let records = read_topic_idle(kafka.bootstrap_servers(), "audit", idle, timeout)?;
/// assert_eq!(records.len(), 3);
/// # Ok(())
/// # }
/// ```
pub fn read_topic_idle(
    bootstrap_servers: &str,
    topic: &str,
    idle: Duration,
    timeout: Duration,
) -> Result<Vec<Record>, TestingError> {
    read(bootstrap_servers, topic, timeout, Some(idle), |_| false)
}

/// Makes the producer's librdkafka client raise a fatal error, as its idempotent producer does
/// when a broker fences it or answers out of sequence (after losing its state, say): that
/// client can send nothing more. The producer replaces it with a new one and loses nothing it
/// held (see [`DeliveryStats::fatal_errors`](crate::stats::DeliveryStats::fatal_errors)). Returns
/// whether the error was raised (a client raises one at most).
///
/// ```
/// use std::time::Duration;
/// use kafka_events::testing::{EmbeddedKafka, raise_fatal_error, read_topic};
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 1)?;
/// let producer = KafkaProducer::new(&kafka.producer_config())?;
/// assert!(raise_fatal_error(&producer, "fenced by a test"));
/// AuditEntry::new().emit_detached(&producer)?; // accepted; waits for the new client
/// assert!(producer.wait_delivered(Duration::from_secs(10)).await);
/// assert_eq!(producer.stats().fatal_errors, 1);
/// # Ok(())
/// # }
/// ```
pub fn raise_fatal_error(producer: &crate::kafka::KafkaProducer, reason: &str) -> bool {
    producer.raise_fatal_error(reason)
}

fn read(
    bootstrap_servers: &str,
    topic: &str,
    timeout: Duration,
    idle: Option<Duration>,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Result<Vec<Record>, TestingError> {
    let read_error = |e: KafkaError| TestingError::Read {
        topic: topic.to_owned(),
        reason: e.to_string(),
    };
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("group.id", "kafka-events-read-topic")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(read_error)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(read_error)?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        return Err(TestingError::Read {
            topic: topic.to_owned(),
            reason: "the topic has no partitions (does it exist?)".into(),
        });
    }
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition as i32, Offset::Beginning)
            .map_err(read_error)?;
    }
    consumer.assign(&assignment).map_err(read_error)?;

    let mut records = Vec::new();
    let mut last_arrival = Instant::now();
    while !done(&records) {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() || idle.is_some_and(|idle| now.duration_since(last_arrival) >= idle) {
            break;
        }
        match consumer.poll(left.min(Duration::from_millis(200))) {
            Some(Ok(message)) => {
                last_arrival = Instant::now();
                records.push(Record {
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().unwrap_or_default().to_vec(),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers: message.headers().map_or_else(Vec::new, |headers| {
                        headers
                            .iter()
                            .map(|h| Header::new(h.key.to_owned(), h.value.unwrap_or_default()))
                            .collect()
                    }),
                })
            }
            Some(Err(e)) => tracing::debug!(error = %e, "read_topic: consumer error"),
            None => {}
        }
    }
    Ok(records)
}
