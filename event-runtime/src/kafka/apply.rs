//! Carrying out a record's [`fate`](super::fate): every fate that takes a record away from
//! librdkafka (to the spool, the quarantine, back to the caller of `close`, or dropped) is
//! applied, counted and logged here, whichever path decided it.

use super::classify::Class;
use super::record::{Tag, ticks};
use super::shared::Shared;
use crate::error::EmitError;
use crate::message::{Message, MessageRef, header_pairs};
use crate::otel::Settled;
use crate::spool::{Caller, Position};
use crate::stats::{Count, DropReason};

/// [`Fate::Spool`](super::fate::Fate::Spool): writes the record to the spool and counts it; a
/// record the spool can't take is counted as dropped, logged, and returned as the error.
pub(super) fn spool(
    shared: &Shared,
    message: MessageRef<'_>,
    caller: Caller,
) -> Result<(), EmitError> {
    let spool = shared.spool().ok_or(EmitError::Closed)?;
    match spool.append(message, false, caller) {
        // The span ends before the count: whoever sees the count sees the span ended.
        Ok(_) => {
            let telemetry = shared.telemetry();
            telemetry.settled(message.headers, Settled::Spooled);
            shared.counters().add(Count::Spooled, 1);
            Ok(())
        }
        Err(error) => {
            let telemetry = shared.telemetry();
            telemetry.settled(message.headers, Settled::Dropped("spool"));
            shared.counters().dropped(DropReason::Spool, 1);
            tracing::error!(
                %error,
                topic = message.topic,
                key = %String::from_utf8_lossy(message.key),
                "kafka-events: a record that needed the spool could not be written there; it is dropped"
            );
            Err(EmitError::Spool(error))
        }
    }
}

/// [`Fate::Spool`](super::fate::Fate::Spool) for a record coming from `emit_detached`: when
/// librdkafka still holds detached records (which came before it), it waits behind them in
/// memory until their reports are in (those that fail reach the spool first), so that its
/// key's records reach the spool in order. Past the memory for that, it is refused. Once the
/// reports are in, callers move what waits to the spool before their own records.
pub(super) fn spool_in_order(
    shared: &Shared,
    message: MessageRef<'_>,
    caller: Caller,
) -> Result<(), EmitError> {
    // Those waiting go first; the caller moves some of them itself, so that they leave at the
    // callers' pace rather than the watch thread's (which probes for brokers in an outage).
    let helped = shared.help_drain_behind(CALLER_DRAIN, |waiting| {
        waiting.with_ref(|waiting| spool_without_waiting(shared, waiting))
    });
    if !helped {
        return shared
            .hold_behind(message.into())
            .map_err(|message| refused_in_memory(shared, &message, "the spool"));
    }
    spool(shared, message, caller)
}

/// How many records waiting behind a caller moves to the spool, at most, before its own.
const CALLER_DRAIN: usize = 64;

/// Writes a record that waited behind to the spool if it takes it without waiting; counted
/// when it does. One it can't take stays where it waits (the watch thread moves it).
fn spool_without_waiting(shared: &Shared, message: MessageRef<'_>) -> bool {
    let Some(spool) = shared.spool() else {
        return false;
    };
    let taken = spool.append(message, false, Caller::Emitter).is_ok();
    if taken {
        let telemetry = shared.telemetry();
        telemetry.settled(message.headers, Settled::Spooled);
        shared.counters().add(Count::Spooled, 1);
    }
    taken
}

/// A caller's record that had to wait in memory, in order, and found that memory full: refused
/// (`QueueFull`), counted as dropped and logged.
fn refused_in_memory(shared: &Shared, message: &Message, for_what: &str) -> EmitError {
    shared.counters().dropped(DropReason::Overflow, 1);
    tracing::error!(
        topic = %message.topic,
        key = %String::from_utf8_lossy(&message.key),
        "kafka-events: a record waiting in memory, in order, for {for_what} found that memory full ({} MiB); it is refused",
        super::held::MAX_HELD_BYTES >> 20
    );
    EmitError::QueueFull
}

/// [`Fate::Quarantine`](super::fate::Fate::Quarantine): the record goes to the spool's
/// quarantine with what the broker said (a spooled one, at `position`, is done once it is
/// there). Without a spool there is no quarantine, and the record is dropped.
pub(super) fn quarantine(
    shared: &Shared,
    message: Message,
    reason: String,
    class: Class,
    position: Option<Position>,
) {
    match shared.spool() {
        Some(spool) => {
            let headers: Vec<(&str, &[u8])> = header_pairs(&message.headers).collect();
            let quarantined = Settled::Quarantined(class.error_type());
            shared.telemetry().settled(&headers, quarantined);
            spool.quarantine(message, reason, position);
        }
        None => message.with_ref(|message| drop(shared, message, &reason, class)),
    }
}

/// [`Fate::Retry`](super::fate::Fate::Retry): the spooled record stays pending, for the
/// segment's next replay.
pub(super) fn retry(shared: &Shared, position: Option<Position>) {
    shared.counters().add(Count::Retried, 1);
    if let (Some(spool), Some(position)) = (shared.spool(), position) {
        spool.release(position);
    }
}

/// [`Fate::Resend`](super::fate::Fate::Resend) for a detached record: it waits, in order, for
/// the librdkafka producer that replaces the one that failed for good.
pub(super) fn resend(shared: &Shared, message: MessageRef<'_>) -> Result<(), EmitError> {
    shared
        .admit_resend(
            message.into(),
            Tag::Detached {
                seq: 0,
                at: ticks(),
            },
        )
        .map_err(|message| refused_in_memory(shared, &message, "a new librdkafka producer"))
}

/// [`Fate::Drop`](super::fate::Fate::Drop): the record is given up, counted and logged.
pub(super) fn drop(shared: &Shared, message: MessageRef<'_>, reason: &str, class: Class) {
    let dropped = Settled::Dropped(class.error_type());
    shared.telemetry().settled(message.headers, dropped);
    shared.counters().dropped(class.drop_reason(), 1);
    let why = if class.is_permanent() {
        "the broker refused it for good"
    } else {
        "it could not be delivered and there is no spool to keep it (configure one to keep such records)"
    };
    tracing::error!(
        error = reason,
        topic = message.topic,
        key = %String::from_utf8_lossy(message.key),
        "kafka-events: dropped a record: {why}"
    );
}

/// Records nobody will take back (no spool; the producer dropped, or its `close` abandoned):
/// dropped, counted and logged; their spans, if still open, end as dropped.
pub(super) fn lost_at_shutdown(shared: &Shared, lost: &[Message]) {
    let records = lost.len();
    for message in lost {
        message.with_ref(|m| {
            shared
                .telemetry()
                .settled(m.headers, Settled::Dropped("shutdown"))
        });
    }
    if records > 0 {
        shared
            .counters()
            .dropped(DropReason::Shutdown, records as u64);
        tracing::error!(
            records,
            "kafka-events: records not delivered before the producer shut down, and there is no spool to keep them: dropped (await close() to get them back)"
        );
    }
}
