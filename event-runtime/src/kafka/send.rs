//! An awaited `emit`: the record goes to librdkafka with a waiter registered for its delivery
//! report, and the caller gets the broker's acknowledgement, or the reason it did not come,
//! within `delivery_timeout_ms` of the call. It never blocks: waiting for room in librdkafka's queue is
//! waiting on Tokio's timer.

use super::classify::classify;
use super::clients::generation;
use super::fate::{Event, Fate, Origin, fate};
use super::outcome::{check_record, emit_error, refused_on_arrival};
use super::pipeline::Pipeline;
use super::record::{Tag, base_record, record_bytes};
use crate::error::EmitError;
use crate::message::{Delivery, Message, MessageRef, header_pairs};
use crate::stats::Count;

/// How long after its deadline an awaited emit still waits for the report librdkafka is about to
/// give (its timer fires on the deadline, its report follows).
const REPLY_SLACK: std::time::Duration = std::time::Duration::from_millis(100);

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
    check_record(pipeline, &message)?;
    let state = shared.state();
    match fate(origin, Event::Admit, &state) {
        Fate::Enqueue => {}
        _ => return Err(refused_on_arrival(pipeline, &state, &message)),
    }
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
        // Loaded at each attempt: a producer that failed for good is replaced meanwhile.
        let client = pipeline.clients.awaited();
        let tag = Tag::Awaited(id);
        let sent = client.send(base_record(&message, tag));
        let error = match sent {
            Ok(()) => {
                shared.handed_over(record_bytes(&message), tag);
                break;
            }
            Err((error, _)) => error,
        };
        let class = classify(&error);
        let mut state = shared.state_for(class, message.topic, generation(&client));
        state.out_of_time = tokio::time::Instant::now() >= deadline;
        match fate(origin, Event::Refused(class), &state) {
            Fate::WaitForRoom => {
                let _ = tokio::time::timeout_at(deadline, room).await;
            }
            _ => return Err(emit_error(pipeline, class, &error.to_string(), &message)),
        }
    }
    guard.handed_over();
    shared.counters().add(Count::Enqueued, 1);
    // The caller hears by its deadline, however long it waited for room: librdkafka's own timer
    // for the record started only when it took it. Past the deadline the record stays with
    // librdkafka, as one whose caller stopped waiting.
    let Ok(reply) = tokio::time::timeout_at(deadline + REPLY_SLACK, reply).await else {
        return Err(EmitError::Timeout(pipeline.delivery_timeout));
    };
    match reply {
        Ok(Ok((partition, offset))) => Ok(Delivery {
            topic: topic.to_owned(),
            partition,
            offset,
        }),
        Ok(Err((class, reason))) => Err(emit_error(pipeline, class, &reason, &message)),
        Err(_) => Err(EmitError::Closed),
    }
}
