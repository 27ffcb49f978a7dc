//! What every send path needs: the librdkafka producers (one for detached records, and one of
//! their own for awaited emits when their linger differs), the state their callbacks share, the
//! topic map and the limits a record is held to.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{Producer as _, ThreadedProducer};

use super::delivery::Context;
use super::shared::Shared;
use crate::topic::TopicMap;

pub(super) struct Pipeline {
    pub detached: ThreadedProducer<Context>,
    /// The producer awaited emits go through, when their linger differs from detached ones'.
    pub awaited: Option<ThreadedProducer<Context>>,
    pub shared: Arc<Shared>,
    pub topics: TopicMap,
    pub delivery_timeout: Duration,
    pub max_message_bytes: usize,
}

impl Pipeline {
    /// The librdkafka producer an awaited `emit` goes through.
    pub fn awaited(&self) -> &ThreadedProducer<Context> {
        self.awaited.as_ref().unwrap_or(&self.detached)
    }

    /// Every librdkafka producer, the awaited one first (it holds few records, each with a
    /// caller waiting).
    pub fn producers(&self) -> impl Iterator<Item = &ThreadedProducer<Context>> {
        self.awaited.iter().chain([&self.detached])
    }

    /// How many records are queued or awaiting acknowledgement in librdkafka's memory.
    pub fn in_flight(&self) -> usize {
        let count: i32 = self.producers().map(|p| p.in_flight_count()).sum();
        usize::try_from(count).unwrap_or(0)
    }
}
