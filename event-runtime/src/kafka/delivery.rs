//! librdkafka's callbacks: client errors, and the delivery report of every record, which
//! carries out the record's [`fate`].

use std::sync::Arc;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::classify::{Class, classify, classify_client_error};
use super::fate::{Event, Fate, Origin, fate};
use super::record::{Tag, now_micros, returned};
use super::shared::Shared;
use crate::message::Parts;
use crate::spool::Caller;
use crate::stats::Counters;

/// The rdkafka context of a [`KafkaProducer`](super::KafkaProducer).
pub(super) struct Context(pub Arc<Shared>);

impl ClientContext for Context {
    // Asks librdkafka's OAUTHBEARER refresh events; answered only with a token provider.
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        // rdkafka hands a producer's error event to this callback twice.
        if self.0.repeated_client_error(&error, reason) {
            return;
        }
        match classify_client_error(&error, reason) {
            Class::Unreachable
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) =>
            {
                if self.0.mark_brokers_down() {
                    let reason = self.0.redact(reason);
                    tracing::warn!(reason, "kafka-events: no broker is reachable");
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
        match result {
            Ok(message) => {
                shared.mark_brokers_up();
                shared.topic_exists(message.topic());
                let origin = match tag {
                    Tag::Detached(_) => Origin::Detached,
                    Tag::Awaited(_) => Origin::Awaited { waiting: true },
                    Tag::Spooled(_) => Origin::Spooled,
                };
                debug_assert_eq!(fate(origin, Event::Acked, &shared.state()), Fate::Deliver);
                Counters::add(&shared.counters().delivered, 1);
                match tag {
                    Tag::Detached(at) => latency(shared, at),
                    Tag::Awaited(id) => {
                        if let Some(waiter) = shared.take_waiter(id) {
                            latency(shared, waiter.enqueued_at);
                            // The caller may have stopped waiting; the record is delivered anyway.
                            let _ = waiter
                                .reply
                                .send(Ok((message.partition(), message.offset())));
                        }
                    }
                    Tag::Spooled(position) => {
                        Counters::add(&shared.counters().replayed, 1);
                        if let Some(spool) = shared.spool() {
                            spool.delivered(position);
                        }
                    }
                }
            }
            Err((error, message)) => {
                Counters::add(&shared.counters().failed, 1);
                let class = classify(error);
                let state = shared.state_for(class, message.topic());
                let mut waiter = match tag {
                    Tag::Awaited(id) => shared.take_waiter(id),
                    _ => None,
                };
                let record = returned(message);
                let mut origin = match tag {
                    Tag::Detached(_) => Origin::Detached,
                    Tag::Spooled(_) => Origin::Spooled,
                    Tag::Awaited(_) => Origin::Awaited {
                        waiting: waiter.as_ref().is_some_and(|w| !w.reply.is_closed()),
                    },
                };
                loop {
                    match fate(origin, Event::Failed(class), &state) {
                        Fate::Reply => {
                            let taken = waiter.take().map(|w| {
                                w.reply
                                    .send(Err((class, shared.redact(&error.to_string()))))
                            });
                            if let Some(Err(_)) = taken {
                                // It stopped waiting just now: decided again, as a record
                                // nobody waits for.
                                origin = Origin::Awaited { waiting: false };
                                continue;
                            }
                        }
                        Fate::Spool => {
                            // Counted and logged there, whatever the outcome.
                            let _ = shared.spool_record(record.as_ref(), Caller::MayBlock);
                        }
                        Fate::Retry => {
                            Counters::add(&shared.counters().retried, 1);
                            if let (Some(spool), Tag::Spooled(position)) = (shared.spool(), tag) {
                                spool.release(position);
                            }
                        }
                        Fate::Quarantine => match (shared.spool(), tag) {
                            (Some(spool), Tag::Spooled(position)) => spool.quarantine(
                                record.to_message(),
                                error.to_string(),
                                Some(position),
                            ),
                            (Some(spool), _) => {
                                spool.quarantine(record.to_message(), error.to_string(), None)
                            }
                            // The decision quarantines only with a spool.
                            (None, _) => drop_record(shared, &record, error, class),
                        },
                        Fate::HandBack => shared.hand_back(record.to_message()),
                        Fate::Drop => drop_record(shared, &record, error, class),
                        // Not what a failed delivery can lead to (the decision's invariants);
                        // counted as dropped rather than lost should that ever change.
                        other @ (Fate::Enqueue
                        | Fate::WriteAhead
                        | Fate::WaitForRoom
                        | Fate::Deliver) => {
                            tracing::error!(
                                ?other,
                                "kafka-events: unexpected fate for a failed delivery"
                            );
                            drop_record(shared, &record, error, class);
                        }
                    }
                    break;
                }
            }
        }
        shared.reports().ring();
    }
}

fn drop_record(shared: &Shared, record: &Parts<'_>, error: &KafkaError, class: Class) {
    Counters::add(&shared.counters().dropped, 1);
    let why = if class.is_permanent() {
        "the broker refused it for good"
    } else {
        "it could not be delivered and there is no spool to keep it (configure one to keep such records)"
    };
    tracing::error!(
        %error,
        topic = record.topic,
        key = %String::from_utf8_lossy(record.key),
        "kafka-events: dropped a record: {why}"
    );
}

fn latency(shared: &Shared, enqueued_at: u64) {
    if let Some(micros) = now_micros().checked_sub(enqueued_at) {
        shared.counters().latency(micros / 1000);
    }
}
