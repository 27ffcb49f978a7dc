//! One batch through the producer: each key's rows one after the other, in commit order (the
//! next is sent once the broker acknowledged the one before, so a retried row can never land
//! behind its successor), different keys at the same time.

use std::collections::HashMap;

use futures_util::future::join_all;

use super::row::{DeadRow, PendingRow};
use super::verdict::{Verdict, verdict};
use crate::error::EmitError;
use crate::producer::Producer;

/// What became of a batch.
#[derive(Default)]
pub(super) struct Outcome {
    /// Rows the broker acknowledged.
    pub published: Vec<i64>,
    /// Rows refused for good.
    pub dead: Vec<DeadRow>,
    /// The first error that left rows for a later attempt.
    pub failure: Option<EmitError>,
    /// The producer is closed.
    pub closed: bool,
}

pub(super) async fn publish(producer: &dyn Producer, rows: Vec<PendingRow>) -> Outcome {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut keys: Vec<Vec<PendingRow>> = Vec::new();
    for row in rows {
        let next = keys.len();
        let slot = *index.entry(row.key.clone()).or_insert(next);
        if slot == next {
            keys.push(Vec::new());
        }
        keys[slot].push(row);
    }
    let mut outcome = Outcome::default();
    for key in join_all(keys.into_iter().map(|rows| publish_key(producer, rows))).await {
        outcome.published.extend(key.published);
        outcome.dead.extend(key.dead);
        outcome.closed |= key.closed;
        if outcome.failure.is_none() {
            outcome.failure = key.failure;
        }
    }
    outcome
}

/// One key's rows, in order. A row that may go through later stops its key here: the rows
/// behind it wait with it, so the key's order holds. A dead-lettered row does not stop it.
async fn publish_key(producer: &dyn Producer, rows: Vec<PendingRow>) -> Outcome {
    let mut outcome = Outcome::default();
    for row in rows {
        let dead = |reason: String| DeadRow {
            position: row.position,
            id: row.id,
            topic: row.topic.clone(),
            reason,
        };
        let message = match row.to_message() {
            Ok(message) => message,
            Err(reason) => {
                outcome.dead.push(dead(reason));
                continue;
            }
        };
        warn_if_flat_on_an_envelope_topic(producer, &message);
        match producer.send(message).await {
            Ok(_) => outcome.published.push(row.position),
            Err(error) => match verdict(&error) {
                Verdict::DeadLetter => outcome.dead.push(dead(error.to_string())),
                Verdict::Retry => {
                    outcome.failure = Some(error);
                    break;
                }
                Verdict::Stop => {
                    outcome.closed = true;
                    break;
                }
            },
        }
    }
    outcome
}

/// A row staged with `stage` is flat; when the relay's producer writes its topic in the
/// `EventJson` envelope, the Go readers of that topic refuse it. It is sent as it was staged
/// (nothing is lost); the mismatch is logged once per topic.
fn warn_if_flat_on_an_envelope_topic(producer: &dyn Producer, message: &crate::message::Message) {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let (name, value) = crate::envelope::MESSAGE_TYPE;
    if producer.envelope_for(&message.topic).is_none()
        || message.header(name) == Some(value.as_bytes())
    {
        return;
    }
    // Not logged under the lock: a subscriber may write to a file or a socket.
    let first = WARNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(message.topic.to_string());
    if first {
        tracing::warn!(
            topic = %message.topic,
            "kafka-events outbox: a row staged in the flat format goes to a topic the relay's producer writes in the EventJson envelope; stage events of this topic with `stage_in_envelope`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryProducer;
    use uuid::Uuid;

    fn row(position: i64, key: &str, payload: &str) -> PendingRow {
        PendingRow {
            commit: position,
            position,
            id: Uuid::now_v7(),
            topic: "orders".into(),
            key: key.into(),
            payload: payload.into(),
            headers: "[]".into(),
        }
    }

    #[tokio::test]
    async fn each_key_keeps_its_order_and_a_dead_row_does_not_stop_it() {
        let producer = MemoryProducer::new();
        let rows = vec![
            row(1, "a", "1"),
            row(2, "b", "1"),
            row(3, "a", "2"),
            row(4, "a", "{bad"),
            row(5, "a", "3"),
        ];
        let mut rows = rows;
        rows[3].headers = "not json".into();
        let outcome = publish(&producer, rows).await;
        assert_eq!(outcome.dead.len(), 1);
        assert_eq!(outcome.dead[0].position, 4);
        let mut published = outcome.published.clone();
        published.sort();
        assert_eq!(published, [1, 2, 3, 5]);
        let a: Vec<_> = producer
            .records()
            .into_iter()
            .filter(|r| r.key == b"a")
            .map(|r| r.payload)
            .collect();
        assert_eq!(a, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    }
}
