//! Whether the brokers refuse this client (its credentials, or the TLS handshake). One broker's
//! refusal is not the cluster's: it is suspected until the watch thread asks the cluster for
//! metadata, which confirms it when no broker answers, and clears it when one does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::classify::Class;
use crate::flow::lock;

/// Why the brokers refuse this client.
struct Refusal {
    class: Class,
    /// What librdkafka said (redacted).
    reason: String,
    /// Whether it stands: the client was never accepted, or a probe after the refusal failed
    /// too. Until then awaited emits go on as in an outage.
    confirmed: bool,
}

#[derive(Default)]
pub(super) struct Refusals {
    current: Mutex<Option<Refusal>>,
    /// The last client error librdkafka reported, and when.
    last_client_error: Mutex<Option<(String, Instant)>>,
}

impl Refusals {
    /// A broker refused this client. Returns whether that is news.
    pub fn suspect(&self, class: Class, reason: String) -> bool {
        let mut current = lock(&self.current);
        let confirmed = current.as_ref().is_some_and(|r| r.confirmed);
        let news = current.is_none();
        *current = Some(Refusal {
            class,
            reason,
            confirmed,
        });
        news
    }

    /// The suspected refusal stands; returns it, if that is news.
    pub fn confirm(&self) -> Option<(Class, String)> {
        let mut current = lock(&self.current);
        let refusal = current.as_mut().filter(|r| !r.confirmed)?;
        refusal.confirmed = true;
        Some((refusal.class, refusal.reason.clone()))
    }

    /// A broker answered after a refusal was suspected: it was one broker's, or passed.
    pub fn clear_suspected(&self) {
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|r| !r.confirmed) {
            *current = None;
        }
    }

    /// A broker accepted the client: any refusal is over. `then` runs under the refusal's lock,
    /// so a refusal reported meanwhile is not lost between the two.
    pub fn clear_with<T>(&self, then: impl FnOnce() -> T) -> T {
        let mut current = lock(&self.current);
        current.take();
        then()
    }

    /// A refusal waits for the watch thread's probe to confirm it.
    pub fn suspected(&self) -> bool {
        lock(&self.current).as_ref().is_some_and(|r| !r.confirmed)
    }

    /// Whether a refusal stands.
    pub fn is_confirmed(&self) -> bool {
        lock(&self.current).as_ref().is_some_and(|r| r.confirmed)
    }

    /// Why the brokers refuse this client, once confirmed.
    pub fn confirmed(&self) -> Option<(Class, String)> {
        lock(&self.current)
            .as_ref()
            .filter(|r| r.confirmed)
            .map(|r| (r.class, r.reason.clone()))
    }

    /// Whether this client error is the one just reported (within a second): rdkafka passes a
    /// producer's error events to the callback twice, and librdkafka itself already holds back
    /// a broker's identical errors for 30 s.
    pub fn repeated(&self, text: String) -> bool {
        let mut last = lock(&self.last_client_error);
        let repeated = last
            .as_ref()
            .is_some_and(|(t, at)| *t == text && at.elapsed() < Duration::from_secs(1));
        *last = Some((text, Instant::now()));
        repeated
    }
}
