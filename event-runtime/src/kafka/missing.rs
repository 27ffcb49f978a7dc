//! Topics that librdkafka says do not exist, and since when: a record's topic missing for
//! longer than `missing_topic_timeout_ms` is undeliverable (quarantined), before that it is
//! retried.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::flow::lock;

pub(super) struct MissingTopics {
    since: Mutex<HashMap<String, Instant>>,
    /// Whether `since` has any entry: read on every acknowledgement without the lock.
    any: AtomicBool,
    timeout: Duration,
}

impl MissingTopics {
    pub fn new(timeout: Duration) -> Self {
        MissingTopics {
            since: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
            timeout,
        }
    }

    /// Notes that `topic` is missing; returns whether it has been for longer than the bound.
    pub fn missing(&self, topic: &str) -> bool {
        self.any.store(true, Ordering::Release);
        let mut since = lock(&self.since);
        let first = *since.entry(topic.to_owned()).or_insert_with(Instant::now);
        first.elapsed() >= self.timeout
    }

    /// A record reached `topic`: it exists.
    pub fn exists(&self, topic: &str) {
        if self.any.load(Ordering::Acquire) {
            let mut since = lock(&self.since);
            since.remove(topic);
            self.any.store(!since.is_empty(), Ordering::Release);
        }
    }
}
