//! [`KafkaProducer`]: the face of the rdkafka backend. Its methods hand each job to the file
//! that does it: [`send`](super::send) and [`detached`](super::detached) for records,
//! [`shutdown`](super::shutdown) for `close` and `Drop`, [`build`](super::build) for
//! construction.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::build::build;
use super::clients::Clients;
use super::config::KafkaConfig;
use super::detached;
use super::pipeline::Pipeline;
use super::security::TokenProvider;
use super::send;
use super::shared::Shared;
use super::shutdown;
use super::watch::Watch;
use crate::envelope::EnvelopeSettings;
use crate::error::{ConfigError, EmitError, SpoolError};
use crate::flow::{lock, run_blocking};
use crate::message::{Message, MessageRef};
use crate::otel;
use crate::producer::{CloseFuture, Producer, SendFuture};
use crate::spool::{QuarantinedRecord, Spool, SpoolRecovery};
use crate::stats::DeliveryStats;

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
    pipeline: Option<Pipeline>,
    watch: Mutex<Option<Watch>>,
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
        Self::from_parts(build(config, None)?)
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
        Self::from_parts(build(config, Some(Arc::new(provider)))?)
    }

    fn from_parts((pipeline, watch): (Pipeline, Watch)) -> Result<Self, ConfigError> {
        let clients = Arc::downgrade(&pipeline.clients);
        let shared = Arc::downgrade(&pipeline.shared);
        pipeline
            .shared
            .telemetry()
            .observe(move || Some(stats_of(&*clients.upgrade()?, &*shared.upgrade()?)));
        Ok(KafkaProducer {
            pipeline: Some(pipeline),
            watch: Mutex::new(Some(watch)),
        })
    }

    fn pipeline(&self) -> &Pipeline {
        self.pipeline
            .as_ref()
            .expect("only Drop takes the pipeline")
    }

    /// Records in memory: with librdkafka, waiting behind its records for the spool, or waiting
    /// for a new librdkafka client.
    fn in_memory(&self) -> usize {
        in_memory(&self.pipeline().clients, self.shared())
    }

    fn shared(&self) -> &Shared {
        &self.pipeline().shared
    }

    /// How many records are queued or awaiting acknowledgement in memory.
    pub fn in_flight(&self) -> usize {
        self.pipeline().in_flight()
    }

    /// What the producer did so far.
    pub fn stats(&self) -> DeliveryStats {
        stats_of(&self.pipeline().clients, self.shared())
    }

    /// What the check of the spool found (records an earlier run left to replay, damage set
    /// aside), once the watch thread has checked it; `None` without a spool. Waits for the
    /// check, without blocking (it needs Tokio's timer).
    pub async fn spool_recovery(&self) -> Option<&SpoolRecovery> {
        let spool = self.shared().spool()?;
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
        self.wait_on_state(timeout, || {
            self.in_memory() == 0 && self.shared().spool().is_none_or(Spool::is_empty)
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
    ///     .wait_until(std::time::Duration::from_secs(1), |stats| stats.brokers_down)
    ///     .await;
    /// # }
    /// ```
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&DeliveryStats) -> bool,
    ) -> bool {
        self.wait_on_state(timeout, || done(&self.stats())).await
    }

    async fn wait_on_state(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let reports = self.shared().reports().notified();
            let spool = self.shared().spool().map(|s| s.bell().notified());
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

    /// [`send_detached`](Producer::send_detached) without the `otel` feature's context and
    /// span: the path the benchmarks compare the feature's cost with, in the same build. Not
    /// public API.
    #[doc(hidden)]
    pub fn __send_detached_untraced(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        let pipeline = self.pipeline();
        match &pipeline.cloudevents {
            Some(cloudevents) => {
                cloudevents.with_stamped(message, |message| detached::send(pipeline, message))
            }
            None => detached::send(pipeline, message),
        }
    }

    /// The records the broker refused for good (too large, invalid, not authorised, topic gone),
    /// kept in `<spool>/quarantine/` with their reasons, oldest first. Empty without a spool.
    pub async fn quarantined(&self) -> Result<Vec<QuarantinedRecord>, SpoolError> {
        let shared = self.pipeline().shared.clone();
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
        let shared = self.pipeline().shared.clone();
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
}

/// Records in memory: with librdkafka, waiting behind its records for the spool, or waiting
/// for a new librdkafka client.
fn in_memory(clients: &Clients, shared: &Shared) -> usize {
    clients.in_flight() + shared.behind_len() + shared.resend_len()
}

/// What [`KafkaProducer::stats`] says (also read by the `otel` instruments).
fn stats_of(clients: &Clients, shared: &Shared) -> DeliveryStats {
    let spool = shared.spool().map(Spool::counts).unwrap_or_default();
    let mut stats = shared.counters().snapshot(
        (in_memory(clients, shared) as u64, shared.bytes_in_memory()),
        spool,
    );
    stats.brokers_down = shared.brokers_down();
    stats.fatal_errors = shared.fatal_errors();
    stats.replacing_client = shared.is_replacing();
    stats
}

impl Producer for KafkaProducer {
    fn send(&self, message: Message) -> SendFuture<'_> {
        let pipeline = self.pipeline();
        let telemetry = pipeline.shared.telemetry();
        // The trace context first, then the CloudEvents headers, as on the detached path.
        Box::pin(otel::awaited(
            telemetry,
            &pipeline.topics,
            message,
            |mut message| {
                if let Some(cloudevents) = &pipeline.cloudevents {
                    cloudevents.stamp(&mut message);
                }
                send::send(pipeline, message)
            },
        ))
    }

    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
        let pipeline = self.pipeline();
        otel::detached(
            pipeline.shared.telemetry(),
            &pipeline.topics,
            message,
            |message| self.__send_detached_untraced(message),
        )
    }

    fn close(&self, timeout: Duration) -> CloseFuture<'_> {
        shutdown::close(self.pipeline(), lock(&self.watch).take(), timeout)
    }

    fn envelope_for(&self, topic: &str) -> Option<&EnvelopeSettings> {
        self.pipeline().wire.envelope_for(topic)
    }
}

impl Drop for KafkaProducer {
    fn drop(&mut self) {
        if let Some(pipeline) = self.pipeline.take() {
            shutdown::dropped(pipeline, lock(&self.watch).take());
        }
    }
}

#[cfg(feature = "testing")]
impl KafkaProducer {
    /// See [`testing::raise_fatal_error`](crate::testing::raise_fatal_error).
    pub(crate) fn raise_fatal_error(&self, reason: &str) -> bool {
        self.pipeline().clients.raise_fatal_error(reason)
    }
}
