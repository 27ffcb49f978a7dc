//! Every way an emit or a configuration can go wrong gives its own typed error, never a panic.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_events::testing::EmbeddedKafka;
use kafka_events::{
    AuditEntry, ConfigError, EmitError, KafkaConfig, KafkaEvent, KafkaProducer, MemoryProducer,
    UsageEvent,
};
use serde::Serialize;

/// A configuration and what its error must look like.
type Case = (KafkaConfig, fn(&ConfigError) -> bool);

#[test]
fn bad_configs_are_typed_errors_naming_the_field() {
    let _rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = _rt.enter();
    let cases: Vec<Case> = vec![
        (KafkaConfig::default(), |e| {
            matches!(e, ConfigError::NoBrokers)
        }),
        (KafkaConfig::new(["", " "]), |e| {
            matches!(e, ConfigError::InvalidBroker { .. })
        }),
        (
            KafkaConfig::new(["kafka:9092", "kafka-2"]),
            |e| matches!(e, ConfigError::InvalidBroker { address, .. } if address == "kafka-2"),
        ),
        (
            KafkaConfig::new(["kafka:70000"]),
            |e| matches!(e, ConfigError::InvalidBroker { address, .. } if address == "kafka:70000"),
        ),
        (
            KafkaConfig::new(["kafka:9092"]).property("compression.type", "rar"),
            |e| matches!(e, ConfigError::InvalidProperty { name, value, .. } if name == "compression.type" && value == "rar"),
        ),
        (
            KafkaConfig::new(["kafka:9092"]).property("linger.msec", "5"),
            |e| matches!(e, ConfigError::InvalidProperty { name, .. } if name == "linger.msec"),
        ),
        (
            KafkaConfig::new(["kafka:9092"]).property("client.id", "x"),
            |e| {
                matches!(
                    e,
                    ConfigError::ReservedProperty {
                        field: "client_id",
                        ..
                    }
                )
            },
        ),
        (
            KafkaConfig::new(["kafka:9092"]).topic("audit", "no spaces please"),
            |e| matches!(e, ConfigError::InvalidTopic { logical, .. } if logical == "audit"),
        ),
    ];
    for (config, expected) in cases {
        match KafkaProducer::new(&config) {
            Ok(_) => panic!("accepted {config:?}"),
            Err(error) => {
                assert!(expected(&error), "{config:?} gave {error:?}");
                assert!(!error.to_string().is_empty());
            }
        }
    }
}

/// A secret property librdkafka refuses is named, and its value is not shown: not in the error's
/// message, not in its `Debug`.
#[test]
fn a_refused_secret_property_is_named_not_shown() {
    let _rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = _rt.enter();
    // The OIDC token endpoint needs libcurl, which this build of librdkafka lacks.
    let config = KafkaConfig::new(["kafka:9092"]).property(
        "sasl.oauthbearer.token.endpoint.url",
        "https://TOP-SECRET.example/token",
    );
    let error = KafkaProducer::new(&config).err().expect("refused");
    assert!(
        matches!(&error, ConfigError::InvalidProperty { name, value, .. }
            if name == "sasl.oauthbearer.token.endpoint.url" && value == "***"),
        "{error:?}"
    );
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{config:?}"),
    ] {
        assert!(!text.contains("TOP-SECRET"), "{text}");
    }
}

/// TLS and SCRAM need the `ssl` feature: without it, asking for them says so.
#[cfg(not(feature = "ssl"))]
#[test]
fn tls_and_scram_without_the_ssl_feature_say_what_to_enable() {
    for config in [
        KafkaConfig::new(["kafka:9092"]).sasl(kafka_events::SaslMechanism::ScramSha512, "u", "p"),
        KafkaConfig::new(["kafka:9092"]).tls(kafka_events::TlsConfig::default()),
    ] {
        let error = KafkaProducer::new(&config).err().expect("refused");
        assert!(
            matches!(&error, ConfigError::Security { reason } if reason.contains("`ssl` feature")),
            "{error:?}"
        );
    }
}

#[test]
fn config_loads_from_json_and_rejects_unknown_keys() {
    let config: KafkaConfig = serde_json::from_str(
        r#"{"brokers": ["127.0.0.1:9092"], "topics": {"audit": "ds.audit"}, "delivery_timeout_ms": 5000}"#,
    )
    .unwrap();
    assert_eq!(config.topics["audit"], "ds.audit");
    assert_eq!(config.delivery_timeout_ms, 5000);
    let err = serde_json::from_str::<KafkaConfig>(r#"{"brokers": [], "topic": {}}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `topic`"), "{err}");
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct Big {
    id: u32,
    blob: String,
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_rejected_before_it_leaves() {
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("audit", 1).unwrap();
    let producer = KafkaProducer::new(&kafka.producer_config()).unwrap();
    let big = Big {
        id: 1,
        blob: "x".repeat(1_500_000),
    };
    let err = big.emit(&producer).await.unwrap_err();
    assert!(
        matches!(err, EmitError::MessageTooLarge { size, limit: 1_000_000 } if size > 1_500_000),
        "{err:?}"
    );
    // Within the limit the same producer still delivers.
    Big {
        id: 2,
        blob: "x".repeat(1000),
    }
    .emit(&producer)
    .await
    .unwrap();

    let strict = KafkaProducer::new(
        &kafka
            .producer_config()
            .property("message.max.bytes", "2000"),
    )
    .unwrap();
    let err = Big {
        id: 3,
        blob: "y".repeat(5000),
    }
    .emit(&strict)
    .await
    .unwrap_err();
    assert!(
        matches!(err, EmitError::MessageTooLarge { limit: 2000, .. }),
        "{err:?}"
    );
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "audit", key = "id")]
struct NotJsonable {
    id: u32,
    by_pair: BTreeMap<(u8, u8), String>,
}

#[tokio::test]
async fn a_serialization_failure_is_typed_and_sends_nothing() {
    let producer = MemoryProducer::new();
    let event = NotJsonable {
        id: 1,
        by_pair: [((1, 2), "x".to_owned())].into(),
    };
    let err = event.emit(&producer).await.unwrap_err();
    assert!(matches!(err, EmitError::Serialize(_)), "{err:?}");
    assert!(err.to_string().contains("key must be a string"), "{err}");
    assert!(producer.is_empty());
}

#[tokio::test]
async fn an_unmapped_topic_is_typed_and_sends_nothing() {
    let producer =
        MemoryProducer::with_topics([("audit".to_owned(), "ds.audit".to_owned())].into()).unwrap();
    AuditEntry::new().emit(&producer).await.unwrap();
    let now = chrono::Utc::now();
    let err = UsageEvent::new("svc", now, now)
        .emit(&producer)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EmitError::UnmappedTopic { topic } if topic == "usage"),
        "{err}"
    );
    assert_eq!(producer.len(), 1);
    assert_eq!(producer.records()[0].topic, "ds.audit");
}

#[tokio::test]
async fn memory_producer_wait_for_times_out_with_counts() {
    let producer = MemoryProducer::new();
    AuditEntry::new().emit(&producer).await.unwrap();
    let err = producer
        .wait_for(2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!((err.expected, err.received), (2, 1));
}

/// A token provider and OAUTHBEARER go together: either without the other is a configuration
/// error at construction, not an authentication failure later.
#[test]
fn oauthbearer_and_a_token_provider_come_together() {
    let _rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = _rt.enter();
    let provider =
        || -> Result<kafka_events::OAuthToken, Box<dyn std::error::Error + Send + Sync>> {
            Err("unused".into())
        };
    let error = KafkaProducer::with_token_provider(&KafkaConfig::new(["kafka:9092"]), provider)
        .err()
        .expect("refused");
    assert!(
        matches!(&error, ConfigError::Security { reason } if reason.contains("not OAUTHBEARER")),
        "{error:?}"
    );
    #[cfg(feature = "ssl")]
    {
        let config = KafkaConfig::new(["kafka:9092"]).security(kafka_events::SecurityConfig {
            sasl: Some(kafka_events::SaslConfig {
                mechanism: kafka_events::SaslMechanism::OAuthBearer,
                username: String::new(),
                password: kafka_events::Secret::default(),
            }),
            ..Default::default()
        });
        let error = KafkaProducer::new(&config).err().expect("refused");
        assert!(
            matches!(&error, ConfigError::Security { reason } if reason.contains("with_token_provider")),
            "{error:?}"
        );
    }
}

/// An awaited emit ends within its delivery timeout of the call, however long it first waited
/// for room in a full queue: nothing listens, the queue holds one record, four callers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awaited_emit_ends_within_its_timeout_however_long_it_waited_for_room() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let config = KafkaConfig::new(["127.0.0.1:1"])
        .delivery_timeout(TIMEOUT)
        .max_queued(1, 1 << 20);
    let producer = std::sync::Arc::new(KafkaProducer::new(&config).unwrap());
    let call = || {
        let producer = producer.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let result = AuditEntry::new().emit(&*producer).await;
            (started.elapsed(), result)
        })
    };
    // The first takes the queue's one place; the others come later, so that place frees up
    // (the first record times out) while they wait for it.
    let mut calls = vec![call()];
    tokio::time::sleep(TIMEOUT / 2).await;
    calls.extend((0..3).map(|_| call()));
    for call in calls {
        let (took, result) = call.await.unwrap();
        assert!(
            matches!(
                result,
                Err(EmitError::Timeout(_) | EmitError::QueueFull | EmitError::Unreachable)
            ),
            "{result:?}"
        );
        // The deadline, plus the slack for librdkafka's report and the scheduler.
        assert!(
            took <= TIMEOUT + Duration::from_millis(500),
            "took {took:?}"
        );
    }
}

/// A record whose header names or counts the producer can't carry is refused before it goes
/// anywhere (with a spool or not), with a typed error; the records after it are untouched.
#[tokio::test]
async fn a_header_name_too_long_to_carry_is_refused_before_it_goes_anywhere() {
    use kafka_events::{Message, MessageRef, Producer, SpoolConfig};
    let kafka = EmbeddedKafka::start().unwrap();
    kafka.create_topic("audit", 1).unwrap();
    let spool = tempfile::tempdir().unwrap();
    for config in [
        kafka.producer_config(),
        kafka
            .producer_config()
            .spool(SpoolConfig::new(spool.path())),
    ] {
        let producer = KafkaProducer::new(&config).unwrap();
        let name = "é".repeat(40_000);
        let long = [(name.as_str(), &b"v"[..])];
        let refused = producer.send_detached(MessageRef {
            topic: "audit",
            key: b"k",
            payload: b"{}",
            headers: &long,
        });
        assert!(
            matches!(&refused, Err(EmitError::InvalidRecord { reason }) if reason.contains("header name of 80000 bytes")),
            "{refused:?}"
        );
        let mut message = Message::new("audit", b"k".to_vec(), b"{}".to_vec());
        message
            .headers
            .push(kafka_events::Header::new(name.clone(), b"v".to_vec()));
        assert!(matches!(
            producer.send(message).await,
            Err(EmitError::InvalidRecord { .. })
        ));
        AuditEntry::new().emit(&producer).await.unwrap();
        assert_eq!(producer.stats().dropped, 0);
    }
}
