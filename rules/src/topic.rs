//! What Kafka accepts as a topic name: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
//! The derive checks logical topics by it at compile time, and the producer checks the physical
//! topics of its configuration by it.
//!
//! ```
//! use kafka_events_rules::{TopicProblem, topic_problem};
//!
//! assert_eq!(topic_problem("ds.core.config.compliance.1.0.0"), None);
//! let problem = topic_problem("audit log").unwrap();
//! assert_eq!(problem, TopicProblem::Character(' '));
//! assert_eq!(
//!     problem.to_string(),
//!     "contains ' ': Kafka topic names may only contain ASCII letters, digits, `.`, `_` and `-`"
//! );
//! assert_eq!(problem.describe("audit log"), format!("topic `audit log` {problem}"));
//! ```

use alloc::format;
use alloc::string::String;
use core::fmt;

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_LEN: usize = 249;

/// Why a name is not a legal Kafka topic name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicProblem {
    /// The name is empty.
    Empty,
    /// `.` or `..`.
    Reserved,
    /// A character Kafka does not allow (the first one found).
    Character(char),
    /// Longer than [`MAX_TOPIC_LEN`] characters (how many it has).
    TooLong(usize),
}

/// Why `name` is not a legal Kafka topic name, or `None` when it is one.
pub fn topic_problem(name: &str) -> Option<TopicProblem> {
    if name.is_empty() {
        return Some(TopicProblem::Empty);
    }
    if name == "." || name == ".." {
        return Some(TopicProblem::Reserved);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(TopicProblem::Character(bad));
    }
    // Only ASCII is left here: bytes are characters.
    if name.len() > MAX_TOPIC_LEN {
        return Some(TopicProblem::TooLong(name.len()));
    }
    None
}

impl TopicProblem {
    /// The problem said of the topic `name`: its name is shown where it helps (a long name is
    /// not repeated).
    pub fn describe(&self, name: &str) -> String {
        match self {
            TopicProblem::Empty | TopicProblem::TooLong(_) => format!("topic {self}"),
            TopicProblem::Reserved | TopicProblem::Character(_) => format!("topic `{name}` {self}"),
        }
    }
}

impl fmt::Display for TopicProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicProblem::Empty => write!(
                f,
                "is empty: a Kafka topic name has 1 to {MAX_TOPIC_LEN} characters"
            ),
            TopicProblem::Reserved => {
                f.write_str("is reserved: Kafka does not allow `.` or `..` as a topic name")
            }
            TopicProblem::Character(c) => write!(
                f,
                "contains {c:?}: Kafka topic names may only contain ASCII letters, digits, `.`, \
                 `_` and `-`"
            ),
            TopicProblem::TooLong(len) => write!(
                f,
                "is {len} characters long: Kafka topic names have at most {MAX_TOPIC_LEN} \
                 characters"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn every_rule_by_example() {
        for good in ["a", "ds.core.config.compliance.1.0.0", "A_b-c.9", "..."] {
            assert_eq!(topic_problem(good), None, "{good}");
        }
        assert_eq!(
            topic_problem(&"a".repeat(MAX_TOPIC_LEN)),
            None,
            "the longest legal name"
        );
        for (bad, problem) in [
            ("", TopicProblem::Empty),
            (".", TopicProblem::Reserved),
            ("..", TopicProblem::Reserved),
            ("audit events", TopicProblem::Character(' ')),
            ("audit/x", TopicProblem::Character('/')),
            ("aé", TopicProblem::Character('é')),
        ] {
            assert_eq!(topic_problem(bad), Some(problem), "{bad:?}");
        }
        assert_eq!(
            topic_problem(&"a".repeat(250)),
            Some(TopicProblem::TooLong(250))
        );
        assert_eq!(
            TopicProblem::TooLong(250).describe("aaa"),
            "topic is 250 characters long: Kafka topic names have at most 249 characters"
        );
        assert_eq!(
            TopicProblem::Reserved.describe(".."),
            "topic `..` is reserved: Kafka does not allow `.` or `..` as a topic name"
        );
        assert!(TopicProblem::Empty.to_string().starts_with("is empty"));
    }
}
