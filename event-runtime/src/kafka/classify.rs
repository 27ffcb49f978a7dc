//! One reading of everything librdkafka can say about a record, whether it refused it at once or
//! failed it in a delivery report.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};

use crate::stats::DropReason;

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
    /// The brokers refused the client's credentials.
    Authentication,
    /// The TLS handshake with the brokers failed.
    Tls,
    /// The librdkafka producer instance can't send any more (idempotence broken, fenced, out
    /// of sequence): another producer instance can deliver the record.
    Fatal,
    /// Anything else: worth another try later.
    Transient,
}

impl Class {
    /// Whether the record must never be sent again as it is.
    pub fn is_permanent(self) -> bool {
        matches!(self, Class::TooLarge | Class::Rejected)
    }

    /// The `error.type` a span or metric gives a record failed for this reason: low
    /// cardinality, one value per class.
    pub fn error_type(self) -> &'static str {
        match self {
            Class::QueueFull => "queue_full",
            Class::TooLarge => "message_too_large",
            Class::Rejected => "rejected",
            Class::TopicMissing => "unknown_topic",
            Class::TimedOut => "timeout",
            Class::Purged => "purged",
            Class::Unreachable => "unreachable",
            Class::Authentication => "authentication",
            Class::Tls => "tls",
            Class::Fatal => "fatal",
            Class::Transient => "_OTHER",
        }
    }

    /// Why a record that failed for this reason and could not be kept is counted as dropped.
    pub fn drop_reason(self) -> DropReason {
        match self {
            Class::QueueFull => DropReason::Overflow,
            class if class.is_permanent() => DropReason::Refused,
            _ => DropReason::Undeliverable,
        }
    }

    /// What a refusal of the client means, for logs.
    pub fn refusal(self) -> &'static str {
        if self == Class::Tls {
            "the TLS handshake with the brokers failed"
        } else {
            "the brokers refused this client's credentials"
        }
    }
}

/// The class of an error librdkafka reports about the client (its error callback), where the
/// text matters too: with TLS 1.3 a broker (or its TLS terminator) refusing the client's
/// certificate, or the lack of one, reaches the client as a transport failure carrying the
/// TLS alert it received.
pub(super) fn classify_client_error(error: &KafkaError, reason: &str) -> Class {
    match classify(error) {
        Class::Unreachable
            if error.rdkafka_error_code() == Some(Code::BrokerTransportFailure)
                && reason.contains("SSL alert number") =>
        {
            Class::Tls
        }
        class => class,
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
        Code::Authentication
        | Code::SaslAuthenticationFailed
        | Code::UnsupportedSASLMechanism
        | Code::IllegalSASLState => Class::Authentication,
        Code::SSL => Class::Tls,
        // The idempotent producer's state is broken (fenced, or its sequence lost by a broker
        // that lost its state): this librdkafka producer instance can't go on; a new one can.
        Code::Fatal
        | Code::Fenced
        | Code::ProducerFenced
        | Code::InvalidProducerEpoch
        | Code::OutOfOrderSequenceNumber
        | Code::DuplicateSequenceNumber
        | Code::UnknownProducerId => Class::Fatal,
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
            (Code::ProducerFenced, Class::Fatal),
            (Code::OutOfOrderSequenceNumber, Class::Fatal),
            (Code::Authentication, Class::Authentication),
            (Code::SaslAuthenticationFailed, Class::Authentication),
            (Code::SSL, Class::Tls),
            (Code::NotEnoughReplicas, Class::Transient),
            (Code::LeaderNotAvailable, Class::Transient),
        ] {
            assert_eq!(classify(&delivery(code)), class, "{code:?}");
        }
        assert_eq!(classify(&KafkaError::Canceled), Class::Transient);
        assert!(Class::TooLarge.is_permanent() && Class::Rejected.is_permanent());
        let transport = KafkaError::Global(Code::BrokerTransportFailure);
        assert_eq!(
            classify_client_error(
                &transport,
                "ssl://kafka:9093/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116"
            ),
            Class::Tls
        );
        assert_eq!(
            classify_client_error(&transport, "kafka:9092/1: Connection refused"),
            Class::Unreachable
        );
        assert!(!Class::TopicMissing.is_permanent() && !Class::Fatal.is_permanent());
    }
}
