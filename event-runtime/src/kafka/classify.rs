//! One reading of everything librdkafka can say about a record, whether it refused it at once or
//! failed it in a delivery report.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};

/// What an error means for the record it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// librdkafka's in-memory queue is full; room comes back as reports arrive.
    QueueFull,
    /// The record is larger than the client or the broker accepts: no retry can fix it.
    TooLarge,
    /// The broker will never take this record: it is invalid, or this client may not write
    /// the topic.
    Rejected,
    /// The topic does not exist (yet, or any more).
    TopicMissing,
    /// Not acknowledged within the delivery timeout.
    TimedOut,
    /// Taken back from librdkafka on purpose (an outage, `close`, dropping the producer).
    Purged,
    /// No broker is reachable.
    Unreachable,
    /// The librdkafka producer instance can't send any more (idempotence broken, fenced):
    /// another producer instance can deliver the record.
    Fatal,
    /// Anything else: worth another try later.
    Transient,
}

impl Class {
    /// Whether the record must never be sent again as it is.
    pub fn is_permanent(self) -> bool {
        matches!(self, Class::TooLarge | Class::Rejected)
    }
}

pub(super) fn classify(error: &KafkaError) -> Class {
    let Some(code) = error.rdkafka_error_code() else {
        return Class::Transient;
    };
    match code {
        Code::QueueFull => Class::QueueFull,
        Code::MessageSizeTooLarge | Code::InvalidMessageSize | Code::MessageBatchTooLarge => {
            Class::TooLarge
        }
        Code::InvalidMessage
        | Code::InvalidRecord
        | Code::InvalidTopic
        | Code::InvalidTimestamp
        | Code::UnsupportedForMessageFormat
        | Code::PolicyViolation
        | Code::TopicAuthorizationFailed
        | Code::ClusterAuthorizationFailed
        | Code::BadMessage
        | Code::KeySerialization
        | Code::ValueSerialization => Class::Rejected,
        Code::UnknownTopic | Code::UnknownTopicOrPartition | Code::UnknownPartition => {
            Class::TopicMissing
        }
        Code::MessageTimedOut => Class::TimedOut,
        Code::PurgeQueue | Code::PurgeInflight => Class::Purged,
        Code::AllBrokersDown | Code::BrokerTransportFailure | Code::Resolve => Class::Unreachable,
        Code::Fatal | Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch => {
            Class::Fatal
        }
        _ => Class::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_error_has_its_class() {
        let delivery = |code| KafkaError::MessageProduction(code);
        for (code, class) in [
            (Code::QueueFull, Class::QueueFull),
            (Code::MessageSizeTooLarge, Class::TooLarge),
            (Code::InvalidMessageSize, Class::TooLarge),
            (Code::TopicAuthorizationFailed, Class::Rejected),
            (Code::InvalidRecord, Class::Rejected),
            (Code::UnknownTopicOrPartition, Class::TopicMissing),
            (Code::UnknownTopic, Class::TopicMissing),
            (Code::MessageTimedOut, Class::TimedOut),
            (Code::PurgeInflight, Class::Purged),
            (Code::AllBrokersDown, Class::Unreachable),
            (Code::Fatal, Class::Fatal),
            (Code::NotEnoughReplicas, Class::Transient),
            (Code::LeaderNotAvailable, Class::Transient),
        ] {
            assert_eq!(classify(&delivery(code)), class, "{code:?}");
        }
        assert_eq!(classify(&KafkaError::Canceled), Class::Transient);
        assert!(Class::TooLarge.is_permanent() && Class::Rejected.is_permanent());
        assert!(!Class::TopicMissing.is_permanent() && !Class::Fatal.is_permanent());
    }
}
