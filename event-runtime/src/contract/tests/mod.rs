//! The models' contracts: committed, checked, readable by the derive. (That they describe every
//! record the models write is `tests/schema.rs`, with the rules of every schema.)

use serde_json::{Value, json};

use super::*;
use crate::{AuditEntry, AuthEvent, AuthEventType, KafkaEvent, UsageEvent};

#[test]
fn the_models_keep_their_committed_contracts() {
    let contracts = Contracts::new();
    for verified in [
        contracts.verify::<AuditEntry>(),
        contracts.verify::<AuthEvent>(),
        contracts.verify::<UsageEvent>(),
    ] {
        let verified = verified.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            verified.changes.is_empty(),
            "{}: {:?}",
            verified.path.display(),
            verified.changes
        );
    }
    let now = [
        Contract::of::<AuditEntry>().unwrap(),
        Contract::of::<AuthEvent>().unwrap(),
        Contract::of::<UsageEvent>().unwrap(),
    ];
    assert_eq!(models(), now);
}

#[test]
fn the_derive_reads_the_same_fields_as_the_runtime() {
    for contract in models() {
        let text = contract.to_json();
        let by_the_derive = kafka_events_rules::contract::contract_fields(&text).unwrap();
        let mut sorted = by_the_derive.clone();
        sorted.sort();
        assert_eq!(sorted, contract.fields());
    }
    assert_eq!(
        models()[0].fields().len(),
        AuditEntry::FIELD_NAMES.len(),
        "every field of AuditEntry is promised"
    );
}

#[test]
fn the_models_contracts_say_what_go_reads() {
    let [audit, auth, usage] = models();
    let props = |c: &Contract, f: &str| c.schema()["properties"][f].clone();
    assert_eq!(
        props(&audit, "tenant_id"),
        json!({"type": "string", "format": "uuid", "description": "The caller's tenant, when known (the zero UUID on the wire otherwise)."})
    );
    assert_eq!(props(&audit, "timestamp")["format"], "date-time");
    assert_eq!(props(&audit, "payload")["type"], Value::Null, "any JSON");
    assert_eq!(
        auth.event_types(),
        AuthEventType::ALL.map(AuthEventType::as_str)
    );
    assert_eq!(props(&usage, "memory_mb")["maximum"], 32767);
    assert_eq!(props(&usage, "created_at")["format"], "date-time");
    assert!(usage.fields().contains(&"end_timestmap"));
    // Every field is always written but the marks of a cut-short entry and the optional
    // `X-Message`, left out when unset.
    for (contract, left_out) in [
        (&audit, &["message", "minimal", "truncated"][..]),
        (&auth, &[]),
        (&usage, &["truncated"]),
    ] {
        let required: Vec<&str> = contract.schema()["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let always: Vec<&str> = contract
            .fields()
            .into_iter()
            .filter(|f| !left_out.contains(f))
            .collect();
        let mut required_sorted = required.clone();
        required_sorted.sort();
        assert_eq!(required_sorted, always, "{}", contract.name());
    }
}
