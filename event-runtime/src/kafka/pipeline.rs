//! What every send path needs: the librdkafka producers ([`Clients`]), the state their callbacks
//! share, the topic map and the limits a record is held to.

use std::sync::Arc;
use std::time::Duration;

use super::clients::Clients;
use super::cloudevents::CloudEvents;
use super::shared::Shared;
use crate::envelope::WireFormats;
use crate::topic::TopicMap;

pub(super) struct Pipeline {
    pub clients: Arc<Clients>,
    pub shared: Arc<Shared>,
    pub topics: TopicMap,
    pub delivery_timeout: Duration,
    pub max_message_bytes: usize,
    /// CloudEvents headers to add to each record, when configured.
    pub cloudevents: Option<CloudEvents>,
    /// Which topics are written in the `EventJson` envelope.
    pub wire: WireFormats,
}

impl Pipeline {
    /// How many records are queued or awaiting acknowledgement in librdkafka's memory.
    pub fn in_flight(&self) -> usize {
        self.clients.in_flight()
    }
}
