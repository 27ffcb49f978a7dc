//! The rules kafka-events' derive and runtime share, each said once: which names look like
//! secrets ([`sensitive`]), what a Kafka topic may be called ([`topic`]), which librdkafka
//! properties hold a secret ([`property`]), what a hidden value is written as ([`MASK`]), how a
//! JSON string is written ([`json`]), and how a committed contract file's field list is read
//! ([`contract`]).
//! `#[derive(KafkaEvent)]` applies them at compile time and the runtime at run time, so the two
//! can never disagree. Use them through `kafka-events`.
//!
//! ```
//! use kafka_events_rules::{MASK, is_secret_property, is_sensitive, topic_problem};
//!
//! assert!(is_sensitive("X-Api-Key"));
//! assert!(topic_problem("audit log").is_some());
//! assert!(is_secret_property("sasl.password"));
//! assert_eq!(MASK, "***");
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod contract;
pub mod json;
pub mod property;
pub mod sensitive;
pub mod topic;

pub use property::{SECRET_PROPERTIES, is_secret_property};
pub use sensitive::{
    InvalidName, Matcher, Name, SENSITIVE_NAMES, URL_PARAMETER_NAMES, is_sensitive,
    sensitive_match, words,
};
pub use topic::{MAX_TOPIC_LEN, TopicProblem, topic_problem};

/// What a secret, a redacted field or a masked value is written as, wherever kafka-events shows
/// or sends one.
pub const MASK: &str = "***";
