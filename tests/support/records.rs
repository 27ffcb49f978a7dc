//! Finding an event's record among those read back from a topic.

use kafka_events::{AuditEntry, Record};

/// The record keyed by `entry`'s id.
pub fn record_of<'r>(records: &'r [Record], entry: &AuditEntry) -> &'r Record {
    let key = entry.id.to_string();
    records
        .iter()
        .find(|r| r.key_str() == Some(key.as_str()))
        .unwrap_or_else(|| panic!("no record for {key}"))
}
