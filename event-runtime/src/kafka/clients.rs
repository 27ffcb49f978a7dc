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

/// The generation of a client: how many replacements had begun when it was built.
pub(super) fn generation(client: &Client) -> u64 {
    client.context().1
}

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

    /// The generation of a client that raised a fatal error, if one did.
    pub fn failed_generation(&self) -> Option<u64> {
        self.all()
            .iter()
            .find(|c| c.client().fatal_error().is_some())
            .map(|c| generation(c))
    }

    /// Whether a client raised a fatal error, and what it said.
    pub fn fatal(&self) -> Option<String> {
        self.all()
            .iter()
            .find_map(|c| c.client().fatal_error().map(|(_, reason)| reason))
    }

    /// Replaces every client that raised a fatal error with a new one from the same
    /// configuration, or every client when none did (a broker fenced the producer, or lost
    /// its sequence: which client's records it refused is not known); returns the old ones,
    /// for the caller to drain and drop (which blocks).
    pub fn replace_failed(&self) -> Result<Vec<Arc<Client>>, ConfigError> {
        let awaited_config = self.factory.awaited.as_ref();
        let slots: Vec<(&ArcSwap<Client>, &rdkafka::ClientConfig)> = [
            Some((&self.detached, &self.factory.detached)),
            self.awaited
                .as_ref()
                .map(|slot| (slot, awaited_config.unwrap_or(&self.factory.detached))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let any_fatal = slots
            .iter()
            .any(|(slot, _)| slot.load().client().fatal_error().is_some());
        let mut replaced = Vec::new();
        for (slot, config) in slots {
            if !any_fatal || slot.load().client().fatal_error().is_some() {
                let new = Arc::new(self.factory.make(config)?);
                replaced.push(slot.swap(new));
            }
        }
        Ok(replaced)
    }
}

#[cfg(feature = "testing")]
impl Clients {
    /// Raises a fatal error on the detached client, as librdkafka's idempotent producer does
    /// when it is fenced or loses its sequence (librdkafka's own test hook). Returns whether
    /// it was raised (a client raises one fatal error at most).
    #[allow(unsafe_code)]
    pub fn raise_fatal_error(&self, reason: &str) -> bool {
        use rdkafka::types::RDKafkaRespErr;
        let reason = std::ffi::CString::new(reason.replace('\0', " ")).unwrap_or_default();
        let client = self.detached();
        // SAFETY: the pointer is the live client's, which `client` keeps alive through the
        // call; the reason is a NUL-terminated string librdkafka copies.
        let result = unsafe {
            rdkafka::bindings::rd_kafka_test_fatal_error(
                client.client().native_ptr(),
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                reason.as_ptr(),
            )
        };
        result == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR
    }
}
