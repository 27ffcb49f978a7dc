//! A detached `emit`: the record is copied into librdkafka's bounded queue (or, by its fate, into
//! the spool) and the call returns; what happens next is up to its delivery report. Nothing here
//! waits for a broker; only the `block` overflow policy, off any async runtime, waits for room.

use std::time::{Duration, Instant};

use super::apply;
use super::classify::classify;
use super::clients::generation;
use super::config::OverflowPolicy;
use super::fate::{Event, Fate, Origin, fate};
use super::outcome::{check_record, emit_error, refused_on_arrival};
use super::pipeline::Pipeline;
use super::record::{Tag, base_record, record_bytes, ticks};
use crate::error::EmitError;
use crate::message::MessageRef;
use crate::spool::{Appended, Caller};
use crate::stats::{Count, DropReason};

pub(super) fn send(pipeline: &Pipeline, message: MessageRef<'_>) -> Result<(), EmitError> {
    let shared = &*pipeline.shared;
    let topic = pipeline.topics.resolve(message.topic)?;
    let message = MessageRef { topic, ..message };
    check_record(pipeline, &message)?;
    // Until when this caller may wait for room in librdkafka's queue, if it may (the `block`
    // policy, off any async runtime), and for the spool (see `spool_caller`).
    let block_until = block_until(shared.overflow());
    let caller = spool_caller(shared.overflow(), block_until, pipeline.delivery_timeout);
    loop {
        // From reading the state to handing the record over: a purge waits for this (a record
        // sent on a state read before an outage must be with librdkafka when it is purged).
        let pass = shared.hand_over();
        let state = shared.state();
        match fate(Origin::Detached, Event::Admit, &state) {
            Fate::Enqueue => {}
            other => {
                drop(pass);
                return match other {
                    Fate::Spool => apply::spool_in_order(shared, message, caller),
                    Fate::WriteAhead => write_ahead(pipeline, message, caller),
                    Fate::Resend => apply::resend(shared, message),
                    _ => Err(refused_on_arrival(pipeline, &state, &message)),
                };
            }
        }
        let seen = shared.reports().rung();
        let client = pipeline.clients.detached();
        let tag = Tag::Detached {
            seq: shared.direct_sending(),
            at: ticks(),
        };
        let error = match client.send(base_record(&message, tag)) {
            Ok(()) => {
                shared.handed_over(record_bytes(&message), tag);
                shared.counters().add(Count::Enqueued, 1);
                return Ok(());
            }
            Err((error, _)) => error,
        };
        shared.direct_reported();
        drop(pass);
        let class = classify(&error);
        let mut state = shared.state_for(class, message.topic, generation(&client));
        state.may_block = block_until.is_some();
        state.out_of_time = block_until.is_some_and(|until| Instant::now() >= until);
        match fate(Origin::Detached, Event::Refused(class), &state) {
            Fate::Spool => return apply::spool_in_order(shared, message, caller),
            Fate::Resend => return apply::resend(shared, message),
            // Then it arrives again: what it finds after the wait (an outage, records gone to
            // the spool meanwhile) decides anew.
            Fate::WaitForRoom => {
                let left = block_until.map_or(Duration::ZERO, |until| {
                    until.saturating_duration_since(Instant::now())
                });
                shared.reports().wait(seen, left);
            }
            Fate::Drop => {
                shared.counters().dropped(class.drop_reason(), 1);
                return Err(emit_error(pipeline, class, &error.to_string(), &message));
            }
            _ => return Err(emit_error(pipeline, class, &error.to_string(), &message)),
        }
    }
}

/// Under the `block` overflow policy, a caller outside any async runtime may wait for room (and
/// for the spool's next segment) until the policy's timeout; any other caller never waits.
fn block_until(overflow: OverflowPolicy) -> Option<Instant> {
    match overflow {
        OverflowPolicy::Block { timeout_ms } if tokio::runtime::Handle::try_current().is_err() => {
            Some(Instant::now() + Duration::from_millis(timeout_ms))
        }
        _ => None,
    }
}

/// Who the caller is to the spool. An async runtime's thread never waits, and neither does a
/// caller under `drop_newest` (it asked for a refusal rather than a wait). Any other caller off
/// an async runtime may wait for the spool's worker when the records waiting for a segment fill
/// their memory: under `block` until the policy's deadline, under `spool` until the delivery
/// timeout (the disk is slower than the emitters; waiting is what keeps the record).
fn spool_caller(
    overflow: OverflowPolicy,
    block_until: Option<Instant>,
    delivery_timeout: Duration,
) -> Caller {
    if let Some(until) = block_until {
        return Caller::MayWaitUntil(until);
    }
    let off_runtime = tokio::runtime::Handle::try_current().is_err();
    match overflow {
        OverflowPolicy::Spool if off_runtime => {
            Caller::MayWaitUntil(Instant::now() + delivery_timeout)
        }
        _ => Caller::Emitter,
    }
}

/// Write-ahead: the record is in the spool before librdkafka gets it; whatever happens to that
/// hand-over, it stays there until it is delivered or quarantined.
fn write_ahead(
    pipeline: &Pipeline,
    message: MessageRef<'_>,
    caller: Caller,
) -> Result<(), EmitError> {
    let shared = &*pipeline.shared;
    let spool = shared.spool().ok_or(EmitError::Closed)?;
    let position = match spool.append(message, true, caller) {
        Ok(Appended::At(position)) => position,
        // Waiting for a segment: it is the spool's now, and replay sends it.
        Ok(Appended::Staged) => {
            shared.counters().add(Count::Spooled, 1);
            return Ok(());
        }
        Err(error) => {
            shared.counters().dropped(DropReason::Spool, 1);
            tracing::error!(%error, topic = message.topic, "kafka-events: a record could not be written ahead to the spool; it is refused");
            return Err(EmitError::Spool(error));
        }
    };
    shared.counters().add(Count::Spooled, 1);
    // As in `send`: from reading the state to the hand-over. Records taken back meanwhile go
    // first: then this one stays in the spool, and replay sends it behind them.
    let pass = shared.hand_over();
    if fate(Origin::Spooled, Event::Admit, &shared.state()) != Fate::Enqueue {
        drop(pass);
        spool.release(position);
        return Ok(());
    }
    let client = pipeline.clients.detached();
    let tag = Tag::Spooled(position);
    let sent = client.send(base_record(&message, tag));
    drop(pass);
    match sent {
        Ok(()) => {
            shared.handed_over(record_bytes(&message), tag);
            shared.counters().add(Count::Enqueued, 1)
        }
        Err((error, _)) => {
            let class = classify(&error);
            // Retry: released to replay, which sends it; Quarantine (a topic gone for good) is
            // carried out here, before replay could take the record.
            let state = shared.state_for(class, message.topic, generation(&client));
            if fate(Origin::Spooled, Event::Refused(class), &state) == Fate::Quarantine {
                apply::quarantine(
                    shared,
                    message.into(),
                    error.to_string(),
                    class,
                    Some(position),
                );
            } else {
                spool.release(position);
            }
        }
    }
    Ok(())
}
