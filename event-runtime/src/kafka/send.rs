//! An awaited `emit`: the record goes to librdkafka with a waiter registered for its delivery
//! report, and the caller gets the broker's acknowledgement, or the reason it did not come,
//! within `delivery_timeout_ms`. It never blocks: waiting for room in librdkafka's queue is
//! waiting on Tokio's timer.

use super::classify::classify;
use super::fate::{Event, Fate, Origin, fate};
use super::outcome::{check_size, emit_error, refused_on_arrival};
use super::pipeline::Pipeline;
use super::record::{Tag, base_record};
use crate::error::EmitError;
use crate::message::{Delivery, Message, MessageRef, header_pairs};
use crate::stats::Counters;

pub(super) async fn send(pipeline: &Pipeline, message: Message) -> Result<Delivery, EmitError> {
    let shared = &*pipeline.shared;
    let topic = pipeline.topics.resolve(&message.topic)?;
    let headers: Vec<(&str, &[u8])> = header_pairs(&message.headers).collect();
    let message = MessageRef {
        topic,
        key: &message.key,
        payload: &message.payload,
        headers: &headers,
    };
    let origin = Origin::Awaited { waiting: true };
    check_size(pipeline, &message)?;
    let state = shared.state();
    match fate(origin, Event::Admit, &state) {
        Fate::Enqueue => {}
        _ => return Err(refused_on_arrival(pipeline, &state, &message)),
    }
    let producer = pipeline.awaited();
    let (id, reply, guard) = shared.waiters().register();
    // Registered first: a refusal confirmed from here on fails this waiter too.
    if let Some((class, reason)) = shared.client_refused() {
        return Err(emit_error(pipeline, class, &reason, &message));
    }
    let deadline = tokio::time::Instant::now() + pipeline.delivery_timeout;
    loop {
        // Registered before the attempt, so room freed in between still wakes us.
        let room = shared.reports().notified();
        tokio::pin!(room);
        room.as_mut().enable();
        let error = match producer.send(base_record(&message, Tag::Awaited(id))) {
            Ok(()) => break,
            Err((error, _)) => error,
        };
        let class = classify(&error);
        let mut state = shared.state();
        state.out_of_time = tokio::time::Instant::now() >= deadline;
        match fate(origin, Event::Refused(class), &state) {
            Fate::WaitForRoom => {
                let _ = tokio::time::timeout_at(deadline, room).await;
            }
            _ => return Err(emit_error(pipeline, class, &error.to_string(), &message)),
        }
    }
    guard.handed_over();
    Counters::add(&shared.counters().enqueued, 1);
    match reply.await {
        Ok(Ok((partition, offset))) => Ok(Delivery {
            topic: topic.to_owned(),
            partition,
            offset,
        }),
        Ok(Err((class, reason))) => Err(emit_error(pipeline, class, &reason, &message)),
        Err(_) => Err(EmitError::Closed),
    }
}
