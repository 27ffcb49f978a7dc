//! librdkafka's callbacks: client errors, and the delivery report of every record, which
//! carries out the record's [`fate`].

use std::sync::Arc;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{DeliveryResult, ProducerContext};

use super::classify::{Class, classify};
use super::fate::{Event, Fate, Origin, fate};
use super::record::{Tag, now_micros, returned};
use super::shared::Shared;
use crate::message::Parts;
use crate::stats::Counters;

/// The rdkafka context of a [`KafkaProducer`](super::KafkaProducer).
pub(super) struct Context(pub Arc<Shared>);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            if self.0.mark_brokers_down() {
                tracing::warn!(reason, "kafka-events: no broker is reachable");
            }
        } else {
            tracing::error!(%error, reason, "kafka-events: librdkafka error");
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
                let mut state = shared.state();
                if class == Class::TopicMissing {
                    state.topic_gone = shared.topic_missing(message.topic());
                }
                let waiter = match tag {
                    Tag::Awaited(id) => shared.take_waiter(id),
                    _ => None,
                };
                let origin = match tag {
                    Tag::Detached(_) => Origin::Detached,
                    Tag::Spooled(_) => Origin::Spooled,
                    Tag::Awaited(_) => Origin::Awaited {
                        waiting: waiter.as_ref().is_some_and(|w| !w.reply.is_closed()),
                    },
                };
                let record = returned(message);
                match fate(origin, Event::Failed(class), &state) {
                    Fate::Reply => {
                        if let Some(waiter) = waiter {
                            let _ = waiter.reply.send(Err((class, error.clone())));
                        }
                    }
                    Fate::Spool => {
                        // Counted and logged there, whatever the outcome.
                        let _ = shared.spool_record(record.as_ref());
                    }
                    Fate::Retry => {
                        Counters::add(&shared.counters().retried, 1);
                        if let (Some(spool), Tag::Spooled(position)) = (shared.spool(), tag) {
                            spool.release(position);
                        }
                    }
                    Fate::Quarantine => match shared.spool() {
                        Some(spool) => spool.quarantine(
                            record.to_message(),
                            error.to_string(),
                            match tag {
                                Tag::Spooled(position) => Some(position),
                                _ => None,
                            },
                        ),
                        None => drop_record(shared, &record, error, class),
                    },
                    Fate::HandBack => shared.hand_back(record.to_message()),
                    Fate::Drop => drop_record(shared, &record, error, class),
                    fate @ (Fate::Enqueue
                    | Fate::WriteAhead
                    | Fate::WaitForRoom
                    | Fate::Deliver) => {
                        unreachable!("{fate:?} is not a fate of a failed delivery")
                    }
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
