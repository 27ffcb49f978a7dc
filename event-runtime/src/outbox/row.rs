//! An outbox row, both ways: what staging writes (from the same [`Message`] `emit` sends), and
//! the [`Message`] the relay publishes from a committed row (the same, plus the `id` header).

use uuid::Uuid;

use super::error::OutboxError;
use crate::event::KafkaEvent;
use crate::message::{Header, Message, headers};

/// The header that carries the outbox row's id: consumers deduplicate on it (Debezium's outbox
/// router sends the same header).
///
/// ```
/// assert_eq!(kafka_events::outbox::ID_HEADER, "id");
/// ```
pub const ID_HEADER: &str = "id";

/// A row to insert, in the columns of the outbox table.
pub struct NewRow {
    pub id: Uuid,
    /// The logical topic (also written as `aggregatetype`, what Debezium routes on).
    pub topic: String,
    /// The key as text (`aggregateid`).
    pub key: String,
    /// The `event-type` header, or empty (`type`).
    pub event_type: String,
    /// The JSON `emit` sends, byte for byte.
    pub payload: String,
    /// The headers `emit` sends, in order, as a JSON array of `[name, value]` pairs.
    pub headers: String,
}

impl NewRow {
    /// The row for `event`: what [`Message::from_event`] makes of it, which is what `emit`
    /// sends.
    pub fn from_event<E: KafkaEvent>(event: &E) -> Result<NewRow, OutboxError> {
        Self::from_message(Message::from_event(event).map_err(OutboxError::Encode)?)
    }

    /// The row for a record already encoded (flat or in the envelope).
    pub fn from_message(message: Message) -> Result<NewRow, OutboxError> {
        let text = |bytes: Vec<u8>, what: &str| {
            String::from_utf8(bytes).map_err(|_| OutboxError::NotText { what: what.into() })
        };
        let pairs = message
            .headers
            .iter()
            .map(|h| match std::str::from_utf8(&h.value) {
                Ok(value) => Ok((h.name.as_ref(), value)),
                Err(_) => Err(OutboxError::NotText {
                    what: format!("header `{}`", h.name),
                }),
            })
            .collect::<Result<Vec<(&str, &str)>, _>>()?;
        let headers = serde_json::to_string(&pairs).expect("string pairs serialize");
        let event_type = message
            .header(headers::EVENT_TYPE)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default()
            .to_owned();
        Ok(NewRow {
            id: Uuid::now_v7(),
            topic: message.topic.into_owned(),
            key: text(message.key, "key")?,
            event_type,
            headers,
            payload: text(message.payload, "payload")?,
        })
    }
}

/// A committed row, read back by the relay in commit order.
#[derive(Clone, Debug)]
pub struct PendingRow {
    /// Its transaction's place in commit order (SQLite, which commits one transaction at a
    /// time: its position).
    pub commit: i64,
    /// Its place in the table (insert order), which the relay deletes it by.
    pub position: i64,
    pub id: Uuid,
    pub topic: String,
    pub key: String,
    pub payload: String,
    pub headers: String,
}

impl PendingRow {
    /// The record to publish: what `emit` would have sent, plus the [`ID_HEADER`]. An error
    /// (headers that are not the JSON staging writes: a row written by hand) is why the row is
    /// dead-lettered.
    pub fn to_message(&self) -> Result<Message, String> {
        let pairs: Vec<(String, String)> = serde_json::from_str(&self.headers).map_err(|e| {
            format!("the row's `headers` are not a JSON array of [name, value] pairs: {e}")
        })?;
        let mut headers: Vec<Header> = pairs
            .into_iter()
            .map(|(name, value)| Header::new(name, value))
            .collect();
        headers.push(Header::new(ID_HEADER, self.id.to_string()));
        Ok(Message {
            topic: self.topic.clone().into(),
            key: self.key.clone().into_bytes(),
            payload: self.payload.clone().into_bytes(),
            headers,
        })
    }
}

/// A row the broker refuses for good, to move to the dead-letter table with its reason.
#[derive(Clone, Debug)]
pub struct DeadRow {
    pub position: i64,
    pub id: Uuid,
    pub topic: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::AuditEntry;

    #[test]
    fn a_row_publishes_what_emit_sends_plus_its_id() {
        let entry = AuditEntry::new();
        let row = NewRow::from_event(&entry).unwrap();
        assert_eq!(row.event_type, "audit.log");
        let pending = PendingRow {
            commit: 1,
            position: 1,
            id: row.id,
            topic: row.topic,
            key: row.key,
            payload: row.payload,
            headers: row.headers,
        };
        let mut expected = Message::from_event(&entry).unwrap();
        expected
            .headers
            .push(Header::new(ID_HEADER, row.id.to_string()));
        assert_eq!(pending.to_message().unwrap(), expected);
    }

    #[test]
    fn headers_written_by_hand_are_a_reason_not_a_panic() {
        let row = PendingRow {
            commit: 1,
            position: 1,
            id: Uuid::nil(),
            topic: "audit".into(),
            key: "k".into(),
            payload: "{}".into(),
            headers: r#"{"content-type":"application/json"}"#.into(),
        };
        assert!(
            row.to_message()
                .unwrap_err()
                .contains("[name, value] pairs")
        );
    }
}
