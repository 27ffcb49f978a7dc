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
//!
//! Inside, a record's life is one file per step: [`record`] builds the librdkafka record,
//! [`classify`] reads what librdkafka says about it, [`fate`] decides what happens to it,
//! [`delivery`] carries that out when its delivery report arrives, [`replay`] sends spooled
//! records again, and [`shared`] is the state they share.

mod classify;
mod config;
mod delivery;
mod fate;
mod record;
mod replay;
mod security;
mod shared;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer as _, PurgeConfig, ThreadedProducer};
use rdkafka::util::Timeout;

pub use config::{KafkaConfig, OverflowPolicy, Partitioner};
pub use security::{
    OAuthToken, PemSource, SaslConfig, SaslMechanism, SecurityConfig, SecurityProtocol, TlsConfig,
    TokenProvider,
};

use self::classify::{Class, classify};
use self::delivery::Context;
use self::fate::{Event, Fate, Origin, fate};
use self::record::{Tag, base_record, now_micros, wire_size};
use self::replay::ReplayHandle;
use self::security::Tokens;
use self::shared::Shared;
use crate::error::{CloseError, CloseReport, ConfigError, EmitError};
use crate::flow::lock;
use crate::message::{Delivery, Message, MessageRef};
use crate::producer::{CloseFuture, Producer, SendFuture};
use crate::secret::{REDACTED, is_secret_property};
use crate::spool::{Caller, QuarantinedRecord, Spool, SpoolError, SpoolRecovery};
use crate::stats::{Counters, DeliveryStats};
use crate::topic::TopicMap;

/// How long a dropped producer (not closed) keeps flushing before what is left goes to the
/// spool; and how long `close` gives the purged records' reports and the last `fsync` after
/// its deadline.
const DROP_FLUSH: Duration = Duration::from_secs(5);
const GRACE: Duration = Duration::from_secs(1);
/// How long construction waits for the token provider's first token.
const FIRST_TOKEN_AT_START: Duration = Duration::from_secs(10);

/// A [`Producer`] on librdkafka. Share it with an `Arc`.
///
/// - [`emit`](crate::KafkaEvent::emit) waits for the broker's acknowledgement, at most
///   `delivery_timeout_ms`.
/// - [`emit_detached`](crate::KafkaEvent::emit_detached) copies the record into librdkafka's
///   bounded queue and returns; delivery reports are handled on librdkafka's polling thread.
///   A record that can't be delivered goes to the spool (when configured) and is replayed when a
///   broker is reachable again and on the next start.
/// - While no broker is reachable, detached records go straight to the spool and those waiting
///   in memory are moved there, so a crash of this process loses none of them.
/// - A record the broker refuses for good is moved to the spool's quarantine
///   ([`KafkaProducer::quarantined`]) and never blocks the others.
/// - [`close`](Producer::close) stops intake, flushes, and spools (or returns) what is left.
///   Dropping the producer without `close` does the same on a thread of its own.
///
/// No method blocks an async worker thread: file I/O, `fsync`, waiting and joining threads
/// happen on the producer's own threads. Awaiting `emit` while librdkafka's queue is full, and
/// [`wait_delivered`](KafkaProducer::wait_delivered), wait on Tokio's timer, so those futures
/// need a Tokio runtime with time enabled.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use kafka_events::testing::EmbeddedKafka;
/// use kafka_events::{AuditEntry, KafkaEvent, KafkaProducer, Producer, SpoolConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kafka = EmbeddedKafka::start()?;
/// # kafka.create_topic("audit", 3)?;
/// # let spool = tempfile::tempdir()?;
/// // KafkaConfig::new(["kafka-0:9092"]) in production; here, the embedded broker.
/// let config = kafka.producer_config().spool(SpoolConfig::new(spool.path()));
/// let producer = Arc::new(KafkaProducer::new(&config)?);
///
/// // On the request path: returns at once.
/// AuditEntry::new().emit_detached(&*producer)?;
/// // Where the caller needs the acknowledgement.
/// let delivery = AuditEntry::new().emit(&*producer).await?;
/// println!("audit[{}] @ {}", delivery.partition, delivery.offset);
///
/// // For a health check.
/// let stats = producer.stats();
/// assert!(!stats.brokers_down);
///
/// // At shutdown: flush; what can't be delivered in time stays in the spool.
/// producer.close(Duration::from_secs(10)).await?;
/// # Ok(())
/// # }
/// ```
pub struct KafkaProducer {
    /// Taken by `Drop`, which finishes on a thread of its own.
    producer: Option<ThreadedProducer<Context>>,
    /// The producer awaited emits go through, when their linger differs from detached ones'.
    /// Taken by `Drop` too.
    awaited: Option<ThreadedProducer<Context>>,
    shared: Arc<Shared>,
    topics: TopicMap,
    delivery_timeout: Duration,
    max_message_bytes: usize,
    replay: Mutex<Option<ReplayHandle>>,
}

impl KafkaProducer {
    /// Creates the producer, opening the spool when one is configured and starting to replay
    /// what it holds. Nothing is sent yet; an unreachable broker shows up on the first sends,
    /// not here.
    ///
    /// Construction does blocking work (it creates the librdkafka client and opens the spool
    /// directory); if a producer on the same spool was dropped in this process moments ago,
    /// it waits (up to 30 s) for that one to finish with the directory.
    pub fn new(config: &KafkaConfig) -> Result<Self, ConfigError> {
        Self::build(config, None)
    }

    /// Like [`new`](Self::new), for `sasl.mechanism = "oauthbearer"`: `provider` supplies the
    /// tokens (an OIDC client-credentials call, a cloud IAM signer such as MSK IAM). It is
    /// called on a thread of the producer's own, never on librdkafka's, and again when 70 % of
    /// a token's life has passed; a failure is logged (without the token) and retried. Outside
    /// an async runtime it waits up to 10 s for the first token; on an async worker it never
    /// blocks, and the first connection waits for the token on librdkafka's side.
    ///
    /// ```no_run
    /// use std::time::{Duration, SystemTime};
    /// use kafka_events::{KafkaConfig, KafkaProducer, OAuthToken, SaslMechanism, SecurityConfig, SaslConfig, Secret};
    ///
    /// # fn fetch_from_identity_provider() -> Result<String, Box<dyn std::error::Error + Send + Sync>> { Ok(String::new()) }
    /// let config = KafkaConfig::new(["kafka-0:9093"]).security(SecurityConfig {
    ///     sasl: Some(SaslConfig {
    ///         mechanism: SaslMechanism::OAuthBearer,
    ///         username: String::new(),
    ///         password: Secret::default(),
    ///     }),
    ///     tls: Some(Default::default()),
    ///     ..SecurityConfig::default()
    /// });
    /// let producer = KafkaProducer::with_token_provider(&config, || {
    ///     Ok(OAuthToken {
    ///         value: fetch_from_identity_provider()?.into(),
    ///         principal: "billing-api".into(),
    ///         expires_at: SystemTime::now() + Duration::from_secs(3600),
    ///     })
    /// })?;
    /// # Ok::<(), kafka_events::ConfigError>(())
    /// ```
    pub fn with_token_provider(
        config: &KafkaConfig,
        provider: impl TokenProvider,
    ) -> Result<Self, ConfigError> {
        Self::build(config, Some(Arc::new(provider)))
    }

    fn build(
        config: &KafkaConfig,
        provider: Option<Arc<dyn TokenProvider>>,
    ) -> Result<Self, ConfigError> {
        let topics = TopicMap::new(config.topics.clone())?;
        let overflow = config.overflow_policy()?;
        let client_config = config.client_config()?;
        // Building the native config first names the property librdkafka rejects; a secret's
        // value is never shown.
        if let Err(error) = client_config.create_native_config() {
            return Err(match error {
                KafkaError::ClientConfig(_, reason, name, value) => {
                    let reason = config.redact(&reason);
                    let (value, reason) = if is_secret_property(&name) {
                        let reason = if value.is_empty() {
                            reason
                        } else {
                            reason.replace(&value, REDACTED)
                        };
                        (REDACTED.to_owned(), reason)
                    } else {
                        (value, reason)
                    };
                    ConfigError::InvalidProperty {
                        name,
                        value,
                        reason,
                    }
                }
                other => ConfigError::Client {
                    reason: config.redact(&other.to_string()),
                },
            });
        }
        let oauthbearer = ["sasl.mechanism", "sasl.mechanisms"]
            .iter()
            .find_map(|name| client_config.get(name))
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("OAUTHBEARER"));
        // librdkafka's own token builders (its unsecured JWT, OIDC) are not used: tokens come
        // from the application's provider, which this producer's context asks for.
        match (&provider, oauthbearer) {
            (None, true) => {
                return Err(ConfigError::Security {
                    reason: "`sasl.mechanism` is OAUTHBEARER, so the tokens must come from \
                             somewhere: create the producer with \
                             `KafkaProducer::with_token_provider` (a provider can also build an \
                             unsecured JWT for a test broker)"
                        .into(),
                });
            }
            (Some(_), false) => {
                return Err(ConfigError::Security {
                    reason: "a token provider was given, but `sasl.mechanism` is not \
                             OAUTHBEARER: set `security.sasl.mechanism = \"oauthbearer\"`, or \
                             use `KafkaProducer::new`"
                        .into(),
                });
            }
            _ => {}
        }
        let tokens = match provider {
            Some(provider) => {
                let tokens = Tokens::start(provider).map_err(|e| ConfigError::Client {
                    reason: format!("the OAUTHBEARER token thread could not start: {e}"),
                })?;
                // So librdkafka's first request for a token finds one (it waits only briefly).
                // Not on an async worker, which must not block: there librdkafka's own wait
                // for the first token has to do.
                if tokio::runtime::Handle::try_current().is_err()
                    && !tokens.wait_first(FIRST_TOKEN_AT_START)
                {
                    tracing::warn!(
                        "kafka-events: the OAUTHBEARER token provider has given no token in {FIRST_TOKEN_AT_START:?}; connecting anyway, it is asked again"
                    );
                }
                Some(tokens)
            }
            None => None,
        };
        let max_message_bytes = config.max_message_bytes();
        let spool = match &config.spool {
            Some(spool) => Some(Spool::open(spool, max_message_bytes)?),
            None => None,
        };
        let shared = Arc::new(Shared::new(
            spool,
            overflow,
            Duration::from_millis(config.missing_topic_timeout_ms),
            tokens,
            config.redactor(),
        ));
        let client = |client_config: &rdkafka::ClientConfig| {
            ThreadedProducer::from_config_and_context(client_config, Context(shared.clone()))
                .map_err(|e| ConfigError::Client {
                    reason: config.redact(&match e {
                        KafkaError::ClientCreation(reason) => reason,
                        other => other.to_string(),
                    }),
                })
        };
        let producer = client(&client_config)?;
        // Awaited emits get a producer of their own when they should not linger as long as
        // detached ones batch.
        let awaited = match config.awaited_client_config(&client_config) {
            Some(awaited_config) => Some(client(&awaited_config)?),
            None => None,
        };
        let replay = ReplayHandle::start(producer.clone(), awaited.clone(), shared.clone())
            .map_err(|e| ConfigError::Client {
                reason: format!("the producer's watch thread could not start: {e}"),
            })?;
        Ok(KafkaProducer {
            producer: Some(producer),
            awaited,
            shared,
            topics,
            delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
            max_message_bytes,
            replay: Mutex::new(Some(replay)),
        })
    }

    fn producer(&self) -> &ThreadedProducer<Context> {
        self.producer
            .as_ref()
            .expect("only Drop takes the producer")
    }

    /// How many records are queued or awaiting acknowledgement in memory.
    pub fn in_flight(&self) -> usize {
        let awaited = self.awaited.as_ref().map_or(0, |p| p.in_flight_count());
        usize::try_from(self.producer().in_flight_count() + awaited).unwrap_or(0)
    }

    /// The librdkafka producer an awaited `emit` goes through.
    fn awaited_producer(&self) -> &ThreadedProducer<Context> {
        self.awaited.as_ref().unwrap_or_else(|| self.producer())
    }

    /// What the producer did so far.
    pub fn stats(&self) -> DeliveryStats {
        let spool = self.shared.spool().map(Spool::counts).unwrap_or_default();
        let mut stats = self
            .shared
            .counters()
            .snapshot(self.in_flight() as u64, spool);
        stats.brokers_down = self.shared.brokers_down();
        stats
    }

    /// What the check of the spool found (records an earlier run left to replay, damage set
    /// aside), once the replay thread has checked it; `None` without a spool. Waits for the
    /// check, without blocking (it needs Tokio's timer).
    pub async fn spool_recovery(&self) -> Option<&SpoolRecovery> {
        let spool = self.shared.spool()?;
        spool
            .bell()
            .until(Duration::from_secs(3600), || spool.recovery().is_some())
            .await;
        spool.recovery()
    }

    /// Waits up to `timeout` until nothing is in memory or in the spool: every record handed
    /// over so far was delivered, quarantined or dropped. Returns whether that happened in time.
    /// Does not block (it needs Tokio's timer).
    pub async fn wait_delivered(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, || {
            self.in_flight() == 0 && self.shared.spool().is_none_or(Spool::is_empty)
        })
        .await
    }

    /// Waits up to `timeout` until `done` holds for the producer's [`stats`](Self::stats), looking
    /// again whenever a delivery report arrives or the spool changes. Returns whether it held in
    /// time. Does not block (it needs Tokio's timer).
    ///
    /// ```no_run
    /// # async fn f(producer: &kafka_events::KafkaProducer) {
    /// // Health check: is the producer keeping records on disk because no broker answers?
    /// let outage = producer
    ///     .wait_for(std::time::Duration::from_secs(1), |stats| stats.brokers_down)
    ///     .await;
    /// # }
    /// ```
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&DeliveryStats) -> bool,
    ) -> bool {
        self.wait_until(timeout, || done(&self.stats())).await
    }

    async fn wait_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let reports = self.shared.reports().notified();
            let spool = self.shared.spool().map(|s| s.bell().notified());
            tokio::pin!(reports);
            reports.as_mut().enable();
            let mut spool = spool.map(Box::pin);
            if let Some(spool) = &mut spool {
                spool.as_mut().enable();
            }
            if done() {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            // librdkafka's queue also drains without a report of ours (a batch leaving), so
            // look again at least every 100 ms.
            let tick = tokio::time::sleep_until(deadline.min(now + Duration::from_millis(100)));
            tokio::select! {
                _ = reports => {}
                _ = async {
                    match &mut spool {
                        Some(spool) => spool.await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = tick => {}
            }
        }
    }

    /// The records the broker refused for good (too large, invalid, not authorised, topic gone),
    /// kept in `<spool>/quarantine/` with their reasons, oldest first. Empty without a spool.
    pub async fn quarantined(&self) -> Result<Vec<QuarantinedRecord>, SpoolError> {
        let shared = self.shared.clone();
        run_blocking(move || match shared.spool() {
            Some(spool) => spool.quarantined().map_err(|source| SpoolError::Io {
                path: spool.dir().join("quarantine"),
                source,
            }),
            None => Ok(Vec::new()),
        })
        .await
        .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Removes the quarantined records and returns them: keep what you need of them before
    /// dropping the result.
    pub async fn drain_quarantine(&self) -> Result<Vec<QuarantinedRecord>, SpoolError> {
        let shared = self.shared.clone();
        run_blocking(move || {
            let Some(spool) = shared.spool() else {
                return Ok(Vec::new());
            };
            let io = |source| SpoolError::Io {
                path: spool.dir().join("quarantine"),
                source,
            };
            let mut drained = Vec::new();
            for record in spool.quarantined().map_err(io)? {
                match spool.remove_quarantined(&record) {
                    Ok(()) => drained.push(record),
                    // What was removed is returned; the rest stays for the next drain.
                    Err(error) if !drained.is_empty() => {
                        tracing::error!(%error, file = %record.file.display(), "kafka-events: could not remove a quarantined record; it stays");
                        break;
                    }
                    Err(error) => return Err(io(error)),
                }
            }
            Ok(drained)
        })
        .await
        .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The underlying rdkafka producer, for what this crate does not cover. Its type follows
    /// the `rdkafka` version this crate depends on.
    pub fn rdkafka(&self) -> &ThreadedProducer<impl rdkafka::producer::ProducerContext + use<>> {
        self.producer()
    }

    /// Refuses a record librdkafka would refuse, or the spool could not hold, before it goes
    /// anywhere: the answer is the same whether a broker is reachable or not.
    fn check_size(&self, origin: Origin, message: &MessageRef<'_>) -> Result<(), EmitError> {
        let fits = wire_size(message) <= self.max_message_bytes
            && self.shared.spool().is_none_or(|s| s.fits(message));
        if fits {
            return Ok(());
        }
        debug_assert_eq!(
            fate(
                origin,
                Event::Refused(Class::TooLarge),
                &self.shared.state()
            ),
            Fate::Reply
        );
        Err(EmitError::MessageTooLarge {
            size: wire_size(message),
            limit: self.max_message_bytes,
        })
    }

    /// Who a detached emit is to the spool: under the `block` overflow policy, off any async
    /// runtime, one that may wait as long as the policy says for the next segment.
    fn emitter(&self) -> Caller {
        match self.shared.overflow() {
            OverflowPolicy::Block { timeout_ms }
                if tokio::runtime::Handle::try_current().is_err() =>
            {
                Caller::EmitterUntil(Instant::now() + Duration::from_millis(timeout_ms))
            }
            _ => Caller::Emitter,
        }
    }

    /// The error a caller sees for a record librdkafka refused or failed (`reason`: what it
    /// said).
    fn emit_error(&self, class: Class, reason: String, message: &MessageRef<'_>) -> EmitError {
        let reason = self.shared.redact(&reason);
        match class {
            Class::QueueFull => EmitError::QueueFull,
            Class::TooLarge => EmitError::MessageTooLarge {
                size: wire_size(message),
                limit: self.max_message_bytes,
            },
            Class::TopicMissing => EmitError::UnknownTopic {
                topic: message.topic.to_owned(),
            },
            Class::TimedOut => EmitError::Timeout(self.delivery_timeout),
            Class::Purged if self.shared.is_closing() => EmitError::Closed,
            Class::Purged | Class::Unreachable => match self.shared.client_refused() {
                Some((class, reason)) => self.emit_error(class, reason, message),
                None => EmitError::Unreachable,
            },
            Class::Authentication => EmitError::Authentication { reason },
            Class::Tls => EmitError::Tls { reason },
            Class::Rejected | Class::Fatal | Class::Transient => EmitError::Broker { reason },
        }
    }

    /// Write-ahead: the record is in the spool before librdkafka gets it; whatever happens to
    /// that hand-over, it stays there until it is delivered or quarantined.
    fn write_ahead(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        let spool = self.shared.spool().ok_or(EmitError::Closed)?;
        let position = match spool.append(message, true, self.emitter()) {
            Ok(position) => position,
            Err(error) => {
                Counters::add(&self.shared.counters().dropped, 1);
                tracing::error!(%error, topic = message.topic, "kafka-events: a record could not be written ahead to the spool; it is refused");
                return Err(EmitError::Spool(error));
            }
        };
        Counters::add(&self.shared.counters().spooled, 1);
        match self
            .producer()
            .send(base_record(&message, Tag::Spooled(position)))
        {
            Ok(()) => Counters::add(&self.shared.counters().enqueued, 1),
            Err((error, _)) => {
                let class = classify(&error);
                // Retry: released to replay, which sends it; Quarantine (a topic gone for good)
                // is carried out here, before replay could take the record.
                let state = self.shared.state_for(class, message.topic);
                if fate(Origin::Spooled, Event::Refused(class), &state) == Fate::Quarantine {
                    spool.quarantine(message.into(), error.to_string(), Some(position));
                } else {
                    spool.release(position);
                }
            }
        }
        Ok(())
    }
}

/// Runs blocking work on a thread of its own and awaits the result, whatever the async runtime.
async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("kafka-events-io".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    match spawned {
        Ok(_) => rx.await.ok(),
        Err(error) => {
            tracing::error!(%error, "kafka-events: could not start a thread");
            None
        }
    }
}

impl Producer for KafkaProducer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            let topic = self.topics.resolve(&message.topic)?;
            let headers: Vec<(&str, &[u8])> =
                crate::message::header_pairs(&message.headers).collect();
            let message = MessageRef {
                topic,
                key: &message.key,
                payload: &message.payload,
                headers: &headers,
            };
            let origin = Origin::Awaited { waiting: true };
            self.check_size(origin, &message)?;
            let state = self.shared.state();
            if fate(origin, Event::Admit, &state) != Fate::Enqueue {
                return Err(match self.shared.client_refused() {
                    Some((class, reason)) if !state.closing => {
                        self.emit_error(class, reason, &message)
                    }
                    _ => EmitError::Closed,
                });
            }
            let producer = self.awaited_producer();
            let (id, reply, guard) = self.shared.expect_reply();
            // Registered first: a refusal confirmed from here on fails this waiter too.
            if let Some((class, reason)) = self.shared.client_refused() {
                return Err(self.emit_error(class, reason, &message));
            }
            let deadline = tokio::time::Instant::now() + self.delivery_timeout;
            loop {
                // Registered before the attempt, so room freed in between still wakes us.
                let room = self.shared.reports().notified();
                tokio::pin!(room);
                room.as_mut().enable();
                let error = match producer.send(base_record(&message, Tag::Awaited(id))) {
                    Ok(()) => break,
                    Err((error, _)) => error,
                };
                let class = classify(&error);
                let mut state = self.shared.state();
                state.out_of_time = tokio::time::Instant::now() >= deadline;
                match fate(origin, Event::Refused(class), &state) {
                    Fate::WaitForRoom => {
                        let _ = tokio::time::timeout_at(deadline, room).await;
                    }
                    _ => return Err(self.emit_error(class, error.to_string(), &message)),
                }
            }
            guard.handed_over();
            Counters::add(&self.shared.counters().enqueued, 1);
            match reply.await {
                Ok(Ok((partition, offset))) => Ok(Delivery {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                }),
                Ok(Err((class, reason))) => Err(self.emit_error(class, reason, &message)),
                Err(_) => Err(EmitError::Closed),
            }
        })
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        let topic = self.topics.resolve(message.topic)?;
        let message = MessageRef { topic, ..message };
        self.check_size(Origin::Detached, &message)?;
        let mut state = self.shared.state();
        match fate(Origin::Detached, Event::Admit, &state) {
            Fate::Enqueue => {}
            Fate::Spool => return self.shared.spool_record(message, self.emitter()),
            Fate::WriteAhead => return self.write_ahead(message),
            _ => return Err(EmitError::Closed),
        }
        let mut waited = None;
        loop {
            let seen = self.shared.reports().rung();
            let error = match self
                .producer()
                .send(base_record(&message, Tag::Detached(now_micros())))
            {
                Ok(()) => {
                    Counters::add(&self.shared.counters().enqueued, 1);
                    return Ok(());
                }
                Err((error, _)) => error,
            };
            let class = classify(&error);
            if let OverflowPolicy::Block { timeout_ms } = state.overflow {
                // Only a thread outside any async runtime may block.
                state.may_block = tokio::runtime::Handle::try_current().is_err();
                let until = *waited
                    .get_or_insert_with(|| Instant::now() + Duration::from_millis(timeout_ms));
                state.out_of_time = Instant::now() >= until;
            }
            match fate(Origin::Detached, Event::Refused(class), &state) {
                Fate::Spool => return self.shared.spool_record(message, self.emitter()),
                Fate::WaitForRoom => {
                    let left = waited.map_or(Duration::ZERO, |until| {
                        until.saturating_duration_since(Instant::now())
                    });
                    self.shared.reports().wait(seen, left);
                }
                Fate::Drop => {
                    Counters::add(&self.shared.counters().dropped, 1);
                    return Err(self.emit_error(class, error.to_string(), &message));
                }
                _ => return Err(self.emit_error(class, error.to_string(), &message)),
            }
        }
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        self.shared.start_closing(true);
        let shutdown = Shutdown {
            producer: self.producer().clone(),
            awaited: self.awaited.clone(),
            shared: self.shared.clone(),
            replay: lock(&self.replay).take(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("kafka-events-close".into())
            .spawn(move || {
                let handed_back = shutdown.run(timeout);
                if let Err(lost) = tx.send(handed_back) {
                    // The `close` future was dropped: nobody takes these back.
                    count_lost_at_shutdown(&shared, lost.len());
                }
            });
        Box::pin(async move {
            if let Err(error) = spawned {
                tracing::error!(%error, "kafka-events: could not start a thread to close the producer");
            }
            let handed_back = rx.await.unwrap_or_default();
            if !handed_back.is_empty() {
                return Err(CloseError::Undelivered {
                    messages: handed_back,
                    timeout,
                });
            }
            Ok(CloseReport {
                spooled: self.shared.spool().map_or(0, |s| s.counts().pending),
            })
        })
    }
}

/// Records nobody will take back (no spool; the producer dropped, or its `close` abandoned).
fn count_lost_at_shutdown(shared: &Shared, records: usize) {
    if records > 0 {
        Counters::add(&shared.counters().dropped, records as u64);
        tracing::error!(
            records,
            "kafka-events: records not delivered before the producer shut down, and there is no spool to keep them: dropped (await close() to get them back)"
        );
    }
}

/// What `close` and `Drop` do, on a thread of their own: stop replaying, flush until the
/// deadline, fail what is left on purpose so its delivery reports spool it (or hand it back),
/// and `fsync` the spool.
struct Shutdown {
    producer: ThreadedProducer<Context>,
    awaited: Option<ThreadedProducer<Context>>,
    shared: Arc<Shared>,
    replay: Option<ReplayHandle>,
}

impl Shutdown {
    /// Returns within `timeout` plus two [`GRACE`]s: the replay thread is asked to stop, not
    /// waited for (it sends nothing more; what it had sent stays in the spool until delivered).
    fn run(self, timeout: Duration) -> Vec<Message> {
        if let Some(replay) = &self.replay {
            replay.stop();
        }
        let deadline = Instant::now() + timeout;
        // The awaited producer first: it holds few records, each with a caller waiting.
        let producers: Vec<&ThreadedProducer<Context>> =
            self.awaited.iter().chain([&self.producer]).collect();
        let mut flushed = true;
        for producer in &producers {
            let left = deadline.saturating_duration_since(Instant::now());
            flushed &= producer.flush(Timeout::After(left)).is_ok();
        }
        if !flushed {
            for producer in &producers {
                producer.purge(PurgeConfig::default().queue().inflight());
            }
            // Serves the purged records' reports, within one grace for both.
            let grace = Instant::now() + GRACE;
            for producer in &producers {
                let left = grace.saturating_duration_since(Instant::now());
                let _ = producer.flush(Timeout::After(left));
            }
        }
        if let Some(spool) = self.shared.spool() {
            spool.sync(GRACE);
        }
        self.shared.take_handed_back()
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        let Some(producer) = self.producer.take() else {
            return;
        };
        let first = self.shared.start_closing(false);
        if let Some(spool) = self.shared.spool() {
            spool.going_away();
        }
        let at_risk =
            producer.in_flight_count() + self.awaited.as_ref().map_or(0, |p| p.in_flight_count());
        if first && at_risk > 0 {
            tracing::warn!(
                at_risk,
                "KafkaProducer dropped without close(): flushing in the background; what is not delivered within {DROP_FLUSH:?} goes to the spool, or is dropped without one"
            );
        }
        let shared = self.shared.clone();
        let replay = lock(&self.replay).take();
        let awaited = self.awaited.take();
        let flush = if first { DROP_FLUSH } else { Duration::ZERO };
        let finish = move || {
            let shutdown = Shutdown {
                producer: producer.clone(),
                awaited: awaited.clone(),
                shared: shared.clone(),
                replay: None,
            };
            if let Some(replay) = &replay {
                replay.stop();
            }
            let mut lost = shutdown.run(flush).len();
            if let Some(replay) = replay {
                replay.join();
            }
            // Destroying the librdkafka handles joins their threads and fails what they still
            // hold; those reports run before it returns.
            drop(producer);
            drop(awaited);
            lost += shared.take_handed_back().len();
            count_lost_at_shutdown(&shared, lost);
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Never on an async worker: the flush and the teardown can take seconds.
            let spawned = std::thread::Builder::new()
                .name("kafka-events-drop".into())
                .spawn(finish);
            if let Err(error) = spawned {
                tracing::error!(%error, "kafka-events: could not start a thread to finish the dropped producer");
            }
        } else {
            finish();
        }
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
            r#"{"brokers": ["h:1"], "overflow": {"block": {"timeout_ms": 50}}, "spool": {"dir": "/tmp/x", "fsync": "always", "durability": "write_ahead"}}"#,
        )
        .unwrap();
        assert_eq!(config.client_id, "kafka-events");
        assert_eq!(config.delivery_timeout_ms, 5_000);
        assert_eq!(
            config.overflow,
            Some(OverflowPolicy::Block { timeout_ms: 50 })
        );
        let spool = config.spool.unwrap();
        assert_eq!(spool.fsync, crate::FsyncPolicy::Always);
        assert_eq!(spool.durability, crate::Durability::WriteAhead);
        let typo = serde_json::from_str::<KafkaConfig>(r#"{"broker": ["h:1"]}"#).unwrap_err();
        assert!(
            typo.to_string().contains("unknown field `broker`"),
            "{typo}"
        );
        let policy: OverflowPolicy = serde_json::from_str(r#""drop_newest""#).unwrap();
        assert_eq!(policy, OverflowPolicy::DropNewest);
    }
}
