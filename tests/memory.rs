//! `MemoryProducer`, the producer users test their own code with.

use std::sync::Arc;
use std::time::Duration;

use kafka_events::{AuditEntry, AuthEvent, KafkaEvent, MemoryProducer, Producer, headers};

#[tokio::test]
async fn works_as_a_shared_trait_object_and_records_everything() {
    let memory = MemoryProducer::new();
    let producer: Arc<dyn Producer> = Arc::new(memory.clone());
    let entry = AuditEntry::new();
    let login = AuthEvent::login_success("accounts", "alice");

    let tasks = [
        tokio::spawn({
            let (producer, entry) = (producer.clone(), entry.clone());
            async move { entry.emit(&producer).await }
        }),
        tokio::spawn({
            let (producer, login) = (producer.clone(), login.clone());
            async move { login.emit(&*producer).await }
        }),
    ];
    let records = memory.wait_for(2, Duration::from_secs(5)).await.unwrap();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(records.len(), 2);
    let mut offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    offsets.sort();
    assert_eq!(offsets, [0, 1]);

    // Both share the `audit` topic; the fixed event type tells the audit entries apart.
    assert_eq!(memory.events::<AuditEntry>().unwrap(), vec![entry]);
    let auth = records
        .iter()
        .find(|r| r.header_str(headers::EVENT_TYPE) == Some("login.success"))
        .unwrap();
    assert_eq!(auth.decode::<AuthEvent>().unwrap(), login);

    memory.clear();
    assert!(memory.is_empty());
}

#[tokio::test]
async fn refuses_after_close() {
    let producer = MemoryProducer::new();
    producer.close(Duration::from_secs(1)).await.unwrap();
    let err = AuditEntry::new().emit(&producer).await.unwrap_err();
    assert!(matches!(err, kafka_events::EmitError::Closed));
}

/// Events sharing a topic are told apart by their declared types, so each lookup returns
/// exactly its own: the fixed `audit.log`, and every value of `AuthEvent`'s type field.
#[tokio::test]
async fn typed_lookups_on_a_shared_topic() {
    use kafka_events::AuthEventType;
    let producer = MemoryProducer::new();
    AuditEntry::new().emit(&producer).await.unwrap();
    for kind in AuthEventType::ALL {
        AuthEvent::new(kind, "accounts", "ann", "")
            .emit(&producer)
            .await
            .unwrap();
    }
    AuditEntry::new().emit(&producer).await.unwrap();
    let auth = producer.events::<AuthEvent>().unwrap();
    assert_eq!(
        auth.iter().map(|e| e.r#type).collect::<Vec<_>>(),
        AuthEventType::ALL
    );
    assert_eq!(producer.events::<AuditEntry>().unwrap().len(), 2);
    // The declared types are exactly the type field's values.
    let declared: Vec<&str> = AuthEventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(AuthEvent::EVENT_TYPES, declared);
    assert_eq!(AuditEntry::EVENT_TYPES, ["audit.log"]);
}
