//! Building a producer from its configuration: the librdkafka clients (with librdkafka's config
//! errors translated, secrets hidden), the OAUTHBEARER token thread, the spool, and the watch
//! thread.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;

use super::clients::{Clients, Factory};
use super::cloudevents::CloudEvents;
use super::config::KafkaConfig;
use super::delivery::Context;
use super::pipeline::Pipeline;
use super::reaper::drop_elsewhere;
use super::security::{TokenProvider, Tokens};
use super::shared::Shared;
use super::watch::Watch;
use crate::envelope::WireFormats;
use crate::error::ConfigError;
use crate::otel::Telemetry;
use crate::secret::{REDACTED, is_secret_property};
use crate::spool::Spool;
use crate::topic::TopicMap;

/// How long construction waits for the token provider's first token.
const FIRST_TOKEN_AT_START: Duration = Duration::from_secs(10);

pub(super) fn build(
    config: &KafkaConfig,
    provider: Option<Arc<dyn TokenProvider>>,
) -> Result<(Pipeline, Watch), ConfigError> {
    let topics = TopicMap::new(config.topics.clone())?;
    let overflow = config.overflow_policy()?;
    let client_config = config.client_config()?;
    // Building the native config first names the property librdkafka rejects; a secret's
    // value is never shown.
    if let Err(error) = client_config.create_native_config() {
        return Err(config_error(config, error));
    }
    check_token_provider(&client_config, provider.is_some())?;
    let tokens = match provider {
        Some(provider) => Some(start_tokens(provider)?),
        None => None,
    };
    let max_message_bytes = config.max_message_bytes();
    let cloudevents = config
        .cloudevents
        .as_deref()
        .map(CloudEvents::new)
        .transpose()?;
    let wire = WireFormats::new(
        config.wire_format,
        &config.wire_formats,
        config.envelope.as_ref(),
        &config.topics,
    )?;
    let spool = match &config.spool {
        Some(spool) => Some(Spool::open(spool, max_message_bytes)?),
        None => None,
    };
    let shared = Arc::new(Shared::new(
        spool,
        overflow,
        Duration::from_millis(config.missing_topic_timeout_ms),
        tokens,
        config.redactor(),
        Telemetry::new(&config.client_id, &config.brokers),
        (config.max_queued_messages, config.max_queued_bytes),
    ));
    let clients = Arc::new(Clients::new(Factory {
        // Awaited emits get a producer of their own when they should not linger as long as
        // detached ones batch.
        awaited: config.awaited_client_config(&client_config),
        detached: client_config,
        context: Box::new({
            let shared = shared.clone();
            move || Context(shared.clone(), shared.generation())
        }),
        redactor: config.redactor(),
    })?);
    shared.set_client_failed({
        let clients = Arc::downgrade(&clients);
        move || {
            // Called on a client's polling thread: if the producer was dropped meanwhile, this
            // may be the last reference, which must not be dropped here.
            let clients = clients.upgrade()?;
            let failed = clients.failed_generation();
            drop_elsewhere(clients);
            failed
        }
    });
    let watch = Watch::start(clients.clone(), shared.clone()).map_err(|e| ConfigError::Client {
        reason: format!("the producer's watch thread could not start: {e}"),
    })?;
    let pipeline = Pipeline {
        clients,
        shared,
        topics,
        delivery_timeout: Duration::from_millis(config.delivery_timeout_ms),
        max_message_bytes,
        cloudevents,
        wire,
    };
    Ok((pipeline, watch))
}

/// librdkafka's refusal of a property, naming it, with a secret's value written as `***`.
fn config_error(config: &KafkaConfig, error: KafkaError) -> ConfigError {
    match error {
        KafkaError::ClientConfig(result, reason, name, value) => {
            let reason = config.redact(&reason);
            // An unknown name may be a secret's, misspelled: its value is never shown.
            let unknown = result == RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN;
            let (value, reason) = if unknown || is_secret_property(&name) {
                let reason = if value.is_empty() {
                    reason
                } else {
                    reason.replace(&value, REDACTED)
                };
                (REDACTED.to_owned(), reason)
            } else {
                (value, reason)
            };
            ConfigError::InvalidProperty {
                name,
                value,
                reason,
            }
        }
        other => ConfigError::Client {
            reason: config.redact(&other.to_string()),
        },
    }
}

/// OAUTHBEARER tokens come from the application's provider, which this producer's context asks
/// for (librdkafka's own token builders, its unsecured JWT and OIDC, are not used): the
/// mechanism and the provider go together.
fn check_token_provider(
    client_config: &rdkafka::ClientConfig,
    has_provider: bool,
) -> Result<(), ConfigError> {
    let oauthbearer = ["sasl.mechanism", "sasl.mechanisms"]
        .iter()
        .find_map(|name| client_config.get(name))
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("OAUTHBEARER"));
    match (has_provider, oauthbearer) {
        (false, true) => Err(ConfigError::Security {
            reason: "`sasl.mechanism` is OAUTHBEARER, so the tokens must come from somewhere: \
                     create the producer with `KafkaProducer::with_token_provider` (a provider \
                     can also build an unsecured JWT for a test broker)"
                .into(),
        }),
        (true, false) => Err(ConfigError::Security {
            reason: "a token provider was given, but `sasl.mechanism` is not OAUTHBEARER: set \
                     `security.sasl.mechanism = \"oauthbearer\"`, or use `KafkaProducer::new`"
                .into(),
        }),
        _ => Ok(()),
    }
}

fn start_tokens(provider: Arc<dyn TokenProvider>) -> Result<Arc<Tokens>, ConfigError> {
    let tokens = Tokens::start(provider).map_err(|e| ConfigError::Client {
        reason: format!("the OAUTHBEARER token thread could not start: {e}"),
    })?;
    // So librdkafka's first request for a token finds one (it waits only briefly). Not on an
    // async worker, which must not block: there librdkafka's own wait for the first token has
    // to do.
    if tokio::runtime::Handle::try_current().is_err() && !tokens.wait_first(FIRST_TOKEN_AT_START) {
        tracing::warn!(
            "kafka-events: the OAUTHBEARER token provider has given no token in {FIRST_TOKEN_AT_START:?}; connecting anyway, it is asked again"
        );
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use crate::{ConfigError, KafkaConfig, KafkaProducer, OverflowPolicy};

    #[test]
    fn config_errors_name_the_field() {
        assert!(matches!(
            KafkaProducer::new(&KafkaConfig::default()),
            Err(ConfigError::NoBrokers)
        ));
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("no.such", "1"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "no.such"),
            "{err}"
        );
        let err =
            KafkaProducer::new(&KafkaConfig::new(["127.0.0.1:9092"]).property("acks", "maybe"))
                .err()
                .unwrap();
        assert!(
            matches!(&err, ConfigError::InvalidProperty { name, .. } if name == "acks"),
            "{err}"
        );
        let err = KafkaProducer::new(
            &KafkaConfig::new(["127.0.0.1:9092"]).property("bootstrap.servers", "x:1"),
        )
        .err()
        .unwrap();
        assert!(matches!(
            err,
            ConfigError::ReservedProperty {
                field: "brokers",
                ..
            }
        ));
        let err = KafkaProducer::new(
            &KafkaConfig::new(["127.0.0.1:9092"]).overflow(OverflowPolicy::Spool),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ConfigError::SpoolRequired), "{err}");
    }

    #[test]
    fn a_secret_under_a_misspelled_or_unknown_name_never_shows() {
        const VALUE: &str = "hunter2-S3cret";
        // A name that looks like a secret's is hidden everywhere; an unknown one in its error.
        for (name, looks_secret) in [
            ("sasl.passwd", true),
            ("ssl.key.pasword", true),
            ("sasl.pssword", true),
            ("no.such.property", false),
        ] {
            let config = KafkaConfig::new(["127.0.0.1:9092"]).property(name, VALUE);
            let mut shown = Vec::new();
            if looks_secret {
                shown.push(format!("{config:?}"));
                shown.push(format!("{config:#?}"));
                shown.push(serde_json::to_string(&config).unwrap());
            }
            let err = KafkaProducer::new(&config)
                .err()
                .expect("librdkafka refuses it");
            assert!(
                matches!(&err, ConfigError::InvalidProperty { name: n, .. } if n == name),
                "{err}"
            );
            for text in shown.iter().chain([&err.to_string(), &format!("{err:?}")]) {
                assert!(!text.contains(VALUE), "{name}: {text}");
            }
            assert!(
                err.to_string().contains(name),
                "the error names the property: {err}"
            );
        }
    }
}
