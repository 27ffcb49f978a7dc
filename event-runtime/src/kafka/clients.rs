//! The librdkafka producers a [`KafkaProducer`](crate::KafkaProducer) sends through: one for
//! detached records and, when their linger differs, one of their own for awaited emits. Each
//! can be replaced by a new one built from the same configuration, which is how the producer
//! recovers from a fatal librdkafka error (a fenced or out-of-sequence idempotent producer can
//! send nothing more; a new instance, with a new producer id, can). Every send reads them
//! without a lock.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer as _, ThreadedProducer};

use super::delivery::Context;
use crate::error::ConfigError;
use crate::secret::Redactor;

pub(super) type Client = ThreadedProducer<Context>;

/// How a client is made, and made again.
pub(super) struct Factory {
    pub detached: rdkafka::ClientConfig,
    /// The configuration of the awaited emits' own client, when they have one.
    pub awaited: Option<rdkafka::ClientConfig>,
    pub context: Box<dyn Fn() -> Context + Send + Sync>,
    pub redactor: Redactor,
}

impl Factory {
    fn make(&self, config: &rdkafka::ClientConfig) -> Result<Client, ConfigError> {
        ThreadedProducer::from_config_and_context(config, (self.context)()).map_err(|e| {
            ConfigError::Client {
                reason: self.redactor.redact(&match e {
                    KafkaError::ClientCreation(reason) => reason,
                    other => other.to_string(),
                }),
            }
        })
    }
}

pub(super) struct Clients {
    detached: ArcSwap<Client>,
    awaited: Option<ArcSwap<Client>>,
    factory: Factory,
}

impl Clients {
    pub fn new(factory: Factory) -> Result<Clients, ConfigError> {
        let detached = ArcSwap::from_pointee(factory.make(&factory.detached)?);
        let awaited = match &factory.awaited {
            Some(config) => Some(ArcSwap::from_pointee(factory.make(config)?)),
            None => None,
        };
        Ok(Clients {
            detached,
            awaited,
            factory,
        })
    }

    /// The client detached records (and replayed ones) go through.
    pub fn detached(&self) -> Guard<Arc<Client>> {
        self.detached.load()
    }

    /// The client an awaited `emit` goes through.
    pub fn awaited(&self) -> Guard<Arc<Client>> {
        self.awaited.as_ref().unwrap_or(&self.detached).load()
    }

    /// Every client, the awaited one first (it holds few records, each with a caller waiting).
    pub fn all(&self) -> Vec<Arc<Client>> {
        self.awaited
            .iter()
            .chain([&self.detached])
            .map(ArcSwap::load_full)
            .collect()
    }

    /// How many records are queued or awaiting acknowledgement in librdkafka's memory.
    pub fn in_flight(&self) -> usize {
        let count: i32 = self.all().iter().map(|c| c.in_flight_count()).sum();
        usize::try_from(count).unwrap_or(0)
    }

    /// Whether a client raised a fatal error, and what it said.
    pub fn fatal(&self) -> Option<String> {
        self.all()
            .iter()
            .find_map(|c| c.client().fatal_error().map(|(_, reason)| reason))
    }

    /// Replaces every client that raised a fatal error with a new one from the same
    /// configuration; returns the old ones, for the caller to drain and drop (which blocks).
    pub fn replace_fatal(&self) -> Result<Vec<Arc<Client>>, ConfigError> {
        let mut replaced = Vec::new();
        let slots = [
            (Some(&self.detached), &self.factory.detached),
            (
                self.awaited.as_ref(),
                self.factory
                    .awaited
                    .as_ref()
                    .unwrap_or(&self.factory.detached),
            ),
        ];
        for (slot, config) in slots {
            let Some(slot) = slot else { continue };
            if slot.load().client().fatal_error().is_some() {
                let new = Arc::new(self.factory.make(config)?);
                replaced.push(slot.swap(new));
            }
        }
        Ok(replaced)
    }
}
