//! The one decision about a row whose send failed: dead-letter it, try it again later, or stop.
//! A pure function of the error, with a table test.

use crate::error::EmitError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Kafka (or this relay's producer) will never take this row as it is: move it to the
    /// dead-letter table with its reason, and go on with the rows behind it.
    DeadLetter,
    /// It may go through later (an outage, a timeout, a full queue, a missing topic, refused
    /// credentials): keep it, and its key's later rows, for the next attempt.
    Retry,
    /// The producer is closed: nothing more can be published through it.
    Stop,
}

pub(super) fn verdict(error: &EmitError) -> Verdict {
    match error {
        EmitError::MessageTooLarge { .. }
        | EmitError::Rejected { .. }
        | EmitError::UnmappedTopic { .. }
        | EmitError::InvalidRecord { .. }
        | EmitError::Envelope { .. }
        | EmitError::Serialize(_) => Verdict::DeadLetter,
        EmitError::Closed => Verdict::Stop,
        EmitError::Timeout(_)
        | EmitError::QueueFull
        | EmitError::UnknownTopic { .. }
        | EmitError::Unreachable
        | EmitError::Authentication { .. }
        | EmitError::Tls { .. }
        | EmitError::Spool(_)
        // The producer replaces its librdkafka producer: the new one takes the row.
        | EmitError::Fatal { .. }
        // Another failure librdkafka reports: the same producer may take the row later.
        | EmitError::Broker { .. } => Verdict::Retry,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Verdict::*;
    use super::*;

    #[test]
    fn every_error_has_its_verdict() {
        let reason = || "r".to_owned();
        for (error, expected) in [
            (EmitError::MessageTooLarge { size: 2, limit: 1 }, DeadLetter),
            (EmitError::Rejected { reason: reason() }, DeadLetter),
            (EmitError::UnmappedTopic { topic: reason() }, DeadLetter),
            (EmitError::InvalidRecord { reason: reason() }, DeadLetter),
            (
                EmitError::Envelope {
                    topic: reason(),
                    reason: reason(),
                },
                DeadLetter,
            ),
            (EmitError::Closed, Stop),
            (EmitError::Timeout(Duration::from_secs(1)), Retry),
            (EmitError::QueueFull, Retry),
            (EmitError::UnknownTopic { topic: reason() }, Retry),
            (EmitError::Unreachable, Retry),
            (EmitError::Authentication { reason: reason() }, Retry),
            (EmitError::Tls { reason: reason() }, Retry),
            (EmitError::Broker { reason: reason() }, Retry),
            (EmitError::Fatal { reason: reason() }, Retry),
        ] {
            assert_eq!(verdict(&error), expected, "{error:?}");
        }
    }
}
