//! OAUTHBEARER tokens from the application's [`TokenProvider`], fetched and refreshed on a
//! thread of their own, never on librdkafka's.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::flow::{Backoff, lock};
use crate::secret::Secret;

/// An OAUTHBEARER token.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kafka_events::{OAuthToken, Secret};
///
/// let token = OAuthToken {
///     value: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
///     principal: "billing-api".into(),
///     expires_at: SystemTime::now() + Duration::from_secs(3600),
/// };
/// assert!(token.expires_at > SystemTime::now());
/// assert!(!format!("{token:?}").contains("eyJ")); // the token never shows
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthToken {
    /// The token (a JWT, a signed IAM request, ...).
    pub value: Secret,
    /// The principal it stands for.
    pub principal: String,
    /// When it expires.
    pub expires_at: SystemTime,
}

/// Supplies OAUTHBEARER tokens: an OIDC client-credentials call, a cloud IAM signer (e.g. MSK
/// IAM). The producer calls it on a thread of its own, never on librdkafka's, ahead of the
/// current token's expiry; an error is logged (without the token) and retried, and so is a
/// panic. That thread runs no async runtime: a provider built on an async client keeps a
/// `tokio::runtime::Handle` from where it was made and calls `handle.block_on(..)`.
///
/// A closure `Fn() -> Result<OAuthToken, Box<dyn Error + Send + Sync>>` is one (see
/// [`KafkaProducer::with_token_provider`](crate::KafkaProducer::with_token_provider)); so is a
/// type of your own:
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use kafka_events::{OAuthToken, Secret, TokenProvider};
///
/// struct ClientCredentials {
///     client_id: String,
/// }
///
/// impl TokenProvider for ClientCredentials {
///     fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
///         // A real provider asks the identity provider here.
///         Ok(OAuthToken {
///             value: Secret::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
///             principal: self.client_id.clone(),
///             expires_at: SystemTime::now() + Duration::from_secs(3600),
///         })
///     }
/// }
///
/// // Given to `KafkaProducer::with_token_provider(&config, provider)`.
/// let provider = ClientCredentials { client_id: "billing-api".into() };
/// assert_eq!(provider.token()?.principal, "billing-api");
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub trait TokenProvider: Send + Sync + 'static {
    /// Fetches a fresh token.
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>>;
}

impl<F> TokenProvider for F
where
    F: Fn() -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> + Send + Sync + 'static,
{
    fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
        self()
    }
}

/// The current token, kept fresh by a thread of its own.
pub(crate) struct Tokens {
    current: Mutex<Option<OAuthToken>>,
    changed: Condvar,
}

/// How long librdkafka's thread waits for the first token.
const FIRST_TOKEN: Duration = Duration::from_secs(5);

impl Tokens {
    /// Starts fetching tokens from `provider`, refreshing each when 70 % of its life has passed.
    pub fn start(provider: Arc<dyn TokenProvider>) -> std::io::Result<Arc<Tokens>> {
        let tokens = Arc::new(Tokens {
            current: Mutex::new(None),
            changed: Condvar::new(),
        });
        let weak = Arc::downgrade(&tokens);
        std::thread::Builder::new()
            .name("kafka-events-oauth".into())
            .spawn(move || {
                let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
                loop {
                    // A provider that panics (one that looks for a Tokio runtime on this
                    // plain thread, say) is retried like one that fails, not lost for good.
                    let fetched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        provider.token()
                    }))
                    .unwrap_or_else(|_| {
                        Err("the token provider panicked (it runs on a thread of its own, \
                             outside any async runtime)"
                            .into())
                    });
                    let pause = match fetched {
                        Ok(token) => {
                            backoff.reset();
                            let life = token
                                .expires_at
                                .duration_since(SystemTime::now())
                                .unwrap_or_default();
                            let Some(tokens) = weak.upgrade() else { return };
                            *lock(&tokens.current) = Some(token);
                            tokens.changed.notify_all();
                            (life * 7 / 10).max(Duration::from_secs(1))
                        }
                        Err(error) => {
                            tracing::error!(%error, "kafka-events: the OAUTHBEARER token provider failed; retrying");
                            backoff.next()
                        }
                    };
                    // Ends with the producer (the last strong reference).
                    let deadline = std::time::Instant::now() + pause;
                    loop {
                        let Some(tokens) = weak.upgrade() else { return };
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        let guard = lock(&tokens.current);
                        let _ = tokens
                            .changed
                            .wait_timeout(guard, left.min(Duration::from_secs(1)));
                    }
                }
            })?;
        Ok(tokens)
    }

    /// Waits up to `timeout` for the provider's first token; whether it came.
    pub fn wait_first(&self, timeout: Duration) -> bool {
        let guard = lock(&self.current);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |t| t.is_none())
            .unwrap_or_else(|e| e.into_inner());
        guard.is_some()
    }

    /// The current token for librdkafka (on its thread): the cached one, or at start up to a few
    /// seconds' wait for the first.
    pub fn for_librdkafka(
        &self,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        let guard = lock(&self.current);
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, FIRST_TOKEN, |t| t.is_none())
            .unwrap_or_else(|e| e.into_inner());
        let token = guard
            .as_ref()
            .ok_or("no OAUTHBEARER token yet: the token provider has not answered")?;
        let lifetime_ms = token
            .expires_at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the OAUTHBEARER token expires before 1970")?
            .as_millis() as i64;
        Ok(rdkafka::client::OAuthToken {
            token: token.value.expose().to_owned(),
            principal_name: token.principal.clone(),
            lifetime_ms,
        })
    }
}
