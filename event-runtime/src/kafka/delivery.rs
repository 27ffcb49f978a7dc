//! librdkafka's callbacks: client errors, and the delivery report of every record, which
//! carries out the record's [`fate`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::apply;
use super::classify::{Class, classify, classify_client_error};
use super::fate::{Event, Fate, Origin, fate, keeps_order_by_purging};
use super::record::{Tag, micros_since, now_micros, reported_bytes, returned};
use super::shared::Shared;
use crate::otel::Settled;
use crate::spool::Caller;
use crate::stats::Count;

/// How long librdkafka's thread may wait for the spool's worker to take a failed record.
const SPOOL_WAIT: Duration = Duration::from_secs(30);

/// The rdkafka context of a [`KafkaProducer`](super::KafkaProducer)'s librdkafka client, with
/// the generation of that client (a replaced client's reports still come, for a while).
pub(super) struct Context(pub Arc<Shared>, pub u64);

impl ClientContext for Context {
    // Asks librdkafka's OAUTHBEARER refresh events; answered only with a token provider.
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        // rdkafka hands a producer's error event to this callback twice.
        if self.0.repeated_client_error(&error, reason) {
            return;
        }
        // librdkafka reports a fatal error with the error that caused it; its client's state
        // says it was fatal.
        if self.0.check_fatal() {
            let reason = self.0.redact(reason);
            tracing::error!(%error, reason, "kafka-events: librdkafka raised a fatal error; its producer can send nothing more and is being replaced by a new one (records wait for it, none is lost)");
            return;
        }
        match classify_client_error(&error, reason) {
            Class::Unreachable
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) =>
            {
                if self.0.mark_brokers_down() {
                    let reason = self.0.redact(reason);
                    // Once closed, what `close` reported is what matters.
                    if self.0.is_closing() {
                        tracing::debug!(reason, "kafka-events: no broker is reachable");
                    } else {
                        tracing::warn!(reason, "kafka-events: no broker is reachable");
                    }
                }
            }
            class @ (Class::Authentication | Class::Tls) => {
                if self.0.mark_client_refused(class, reason) {
                    let reason = self.0.redact(reason);
                    tracing::warn!(%error, reason, "kafka-events: {}; asking the cluster whether any broker accepts it", class.refusal());
                }
            }
            _ => {
                let reason = self.0.redact(reason);
                tracing::warn!(%error, reason, "kafka-events: librdkafka error");
            }
        }
    }

    // librdkafka's own log lines, with any secret of the configuration masked.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        let line = self.0.redact(line);
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "librdkafka: {line}");
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility, "librdkafka: {line}");
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "librdkafka: {line}");
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility, "librdkafka: {line}");
            }
        }
    }

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        match self.0.tokens() {
            Some(tokens) => tokens.for_librdkafka(),
            None => Err(
                "sasl.mechanism is OAUTHBEARER but no token provider was given: create the producer with KafkaProducer::with_token_provider"
                    .into(),
            ),
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let shared = &*self.0;
        let tag = Tag::decode(opaque);
        let (Ok(message) | Err((_, message))) = result;
        shared.reported(reported_bytes(message), tag);
        let direct = matches!(tag, Tag::Detached { .. });
        match result {
            Ok(message) => {
                let (partition, offset) = (message.partition(), message.offset());
                let micros = acked(shared, tag, partition, offset, message.topic());
                let seconds = micros.map(|micros| micros as f64 / 1e6);
                let headers = || returned(message).headers;
                shared
                    .telemetry()
                    .acked(headers, partition, offset, seconds);
            }
            Err((error, message)) => failed(shared, self.1, tag, error, message),
        }
        // After its fate: a record that went to the spool is there before what waits behind it.
        if direct {
            shared.direct_reported();
            // The last report of those taken back: they go to the spool, in order.
            shared.drain_taken(|message| {
                // Counted and logged there, whatever the outcome. This is librdkafka's
                // thread: it may wait for the spool's worker, a while.
                let caller = Caller::MayWaitUntil(Instant::now() + SPOOL_WAIT);
                let _ = message.with_ref(|m| apply::spool(shared, m, caller));
            });
        }
        shared.reports().ring();
    }
}

/// The broker acknowledged the record; returns how long that took from enqueueing it, in
/// microseconds, when known.
fn acked(shared: &Shared, tag: Tag, partition: i32, offset: i64, topic: &str) -> Option<u64> {
    shared.mark_brokers_up();
    shared.topic_exists(topic);
    debug_assert_eq!(
        fate(tag.origin(true), Event::Acked, &shared.state()),
        Fate::Deliver
    );
    shared.counters().add(Count::Delivered, 1);
    match tag {
        Tag::Detached { at, .. } => Some(latency(shared, micros_since(at))),
        Tag::Awaited(id) => {
            let waiter = shared.waiters().take(id)?;
            let micros = now_micros()
                .checked_sub(waiter.enqueued_at)
                .map(|micros| latency(shared, micros));
            // The caller may have stopped waiting; the record is delivered anyway.
            let _ = waiter.reply.send(Ok((partition, offset)));
            micros
        }
        Tag::Spooled(position) => {
            shared.counters().add(Count::Replayed, 1);
            if let Some(spool) = shared.spool() {
                spool.delivered(position);
            }
            None
        }
    }
}

/// The record's delivery failed: its fate decides where it goes.
fn failed(
    shared: &Shared,
    generation: u64,
    tag: Tag,
    error: &KafkaError,
    message: &BorrowedMessage<'_>,
) {
    shared.counters().add(Count::Failed, 1);
    let class = classify(error);
    tracing::debug!(%error, ?class, topic = message.topic(), "kafka-events: a delivery failed");
    let state = shared.state_for(class, message.topic(), generation);
    let mut waiter = match tag {
        Tag::Awaited(id) => shared.waiters().take(id),
        _ => None,
    };
    let record = returned(message);
    let position = match tag {
        Tag::Spooled(position) => Some(position),
        _ => None,
    };
    let mut origin = tag.origin(waiter.as_ref().is_some_and(|w| !w.reply.is_closed()));
    loop {
        let decided = fate(origin, Event::Failed(class), &state);
        // Asked once the record is where its fate takes it (in the spool, or taken back on its
        // way there): a record emitted after the purge then finds it and goes behind it.
        let purge = keeps_order_by_purging(Event::Failed(class), decided);
        match decided {
            Fate::Reply => {
                let taken = waiter
                    .take()
                    .map(|w| w.reply.send(Err((class, error.to_string()))));
                if let Some(Err(_)) = taken {
                    // It stopped waiting just now: decided again, as a record nobody waits for.
                    origin = Origin::Awaited { waiting: false };
                    continue;
                }
            }
            Fate::Spool => match tag {
                // librdkafka may report what it took back out of order: a detached record
                // waits with the others to reach the spool in the order they were handed over.
                Tag::Detached { seq, .. } => shared.take_back(seq, record.to_message()),
                _ => {
                    // Counted and logged there, whatever the outcome. This is librdkafka's
                    // thread: it may wait for the spool's worker, a while.
                    let caller = Caller::MayWaitUntil(Instant::now() + SPOOL_WAIT);
                    let _ = apply::spool(shared, record.as_ref(), caller);
                }
            },
            Fate::Retry => {
                // The record is in the spool (written ahead, or replayed): its span, if it is
                // still open (a write-ahead record's first attempt), ends as spooled.
                shared
                    .telemetry()
                    .settled(&record.headers, Settled::Spooled);
                apply::retry(shared, position)
            }
            Fate::Quarantine => apply::quarantine(
                shared,
                record.to_message(),
                error.to_string(),
                class,
                position,
            ),
            Fate::HandBack => {
                let telemetry = shared.telemetry();
                telemetry.settled(&record.headers, Settled::HandedBack);
                shared.hand_back(record.to_message());
            }
            Fate::Resend => {
                // Its caller, if one waits, keeps waiting for the new producer's report.
                if let (Tag::Awaited(id), Some(waiter)) = (tag, waiter.take()) {
                    shared.waiters().restore(id, waiter);
                }
                shared.queue_resend(record.to_message(), tag);
            }
            Fate::Drop => apply::drop(shared, record.as_ref(), &error.to_string(), class),
            // Not what a failed delivery can lead to (the decision's invariants); counted as
            // dropped rather than lost should that ever change.
            other @ (Fate::Enqueue | Fate::WriteAhead | Fate::WaitForRoom | Fate::Deliver) => {
                tracing::error!(
                    ?other,
                    "kafka-events: unexpected fate for a failed delivery"
                );
                apply::drop(shared, record.as_ref(), &error.to_string(), class);
            }
        }
        if purge {
            shared.request_order_purge();
        }
        break;
    }
}

/// Counts a delivery that took `micros`, and returns it.
fn latency(shared: &Shared, micros: u64) -> u64 {
    shared.counters().latency(micros / 1000);
    micros
}
