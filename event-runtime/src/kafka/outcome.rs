//! What a caller is told: the one mapping from what librdkafka said about a record (its
//! [`Class`]) and the producer's state to an [`EmitError`]. Text from librdkafka is redacted
//! here, before it leaves the producer.

use super::classify::Class;
use super::fate::ProducerState;
use super::pipeline::Pipeline;
use super::record::wire_size;
use crate::error::EmitError;
use crate::message::MessageRef;
use crate::spool;

/// The error for a record librdkafka refused or failed (`reason`: what it said).
pub(super) fn emit_error(
    pipeline: &Pipeline,
    class: Class,
    reason: &str,
    message: &MessageRef<'_>,
) -> EmitError {
    let shared = &*pipeline.shared;
    match class {
        Class::QueueFull => EmitError::QueueFull,
        Class::TooLarge => too_large(pipeline, wire_size(message)),
        Class::TopicMissing => EmitError::UnknownTopic {
            topic: message.topic.to_owned(),
        },
        Class::TimedOut => EmitError::Timeout(pipeline.delivery_timeout),
        Class::Purged if shared.is_closing() => EmitError::Closed,
        // Taken back or unreachable because the brokers refuse this client: that is the news.
        Class::Purged | Class::Unreachable => match shared.client_refused() {
            Some((class, reason)) => emit_error(pipeline, class, &reason, message),
            None => EmitError::Unreachable,
        },
        Class::Authentication => EmitError::Authentication {
            reason: shared.redact(reason),
        },
        Class::Tls => EmitError::Tls {
            reason: shared.redact(reason),
        },
        Class::Fatal => EmitError::Fatal {
            reason: shared.redact(reason),
        },
        Class::Rejected => EmitError::Rejected {
            reason: shared.redact(reason),
        },
        Class::Transient => EmitError::Broker {
            reason: shared.redact(reason),
        },
    }
}

/// The error for a record the producer would not admit ([`Fate::Reply`](super::fate::Fate) on
/// arrival): it is closing, or the brokers refuse this client.
pub(super) fn refused_on_arrival(
    pipeline: &Pipeline,
    state: &ProducerState,
    message: &MessageRef<'_>,
) -> EmitError {
    match pipeline.shared.client_refused() {
        Some((class, reason)) if !state.closing => emit_error(pipeline, class, &reason, message),
        _ => EmitError::Closed,
    }
}

/// Refuses a record librdkafka would refuse, or the spool could not hold, before it goes
/// anywhere: the answer is the same whether a broker is reachable (or a spool configured) or
/// not.
pub(super) fn check_record(pipeline: &Pipeline, message: &MessageRef<'_>) -> Result<(), EmitError> {
    spool::check_record(message).map_err(|reason| EmitError::InvalidRecord { reason })?;
    let size = wire_size(message);
    let fits = size <= pipeline.max_message_bytes
        && pipeline.shared.spool().is_none_or(|s| s.fits(message));
    if fits {
        Ok(())
    } else {
        Err(too_large(pipeline, size))
    }
}

fn too_large(pipeline: &Pipeline, size: usize) -> EmitError {
    EmitError::MessageTooLarge {
        size,
        limit: pipeline.max_message_bytes,
    }
}
