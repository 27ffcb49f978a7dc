//! Contracts: each kind of change on a before/after pair, with the exact line a person reads and
//! whether it breaks the consumers; `verify` against committed files (missing, unchanged,
//! compatible, breaking, rewritten); and the event whose contract was rewritten after a field was
//! removed, which compiles again (`tests/ui/contract-field-removed.rs` is the same event before
//! the rewrite, refused at compile time).

use kafka_events::KafkaEvent;
use kafka_events::contract::{
    ChangeKind, Contract, ContractError, Contracts, Mode, Outcome, SchemaError,
};
use schemars::JsonSchema;

/// `(breaking, line)` for each change from `Old` to `New`.
fn diff<Old, New>(mode: Mode) -> Vec<(bool, String)>
where
    Old: KafkaEvent + JsonSchema,
    New: KafkaEvent + JsonSchema,
{
    let old = Contract::of::<Old>().unwrap();
    Contract::of::<New>()
        .unwrap()
        .changes_since(&old, mode)
        .into_iter()
        .map(|change| (change.breaking, change.to_string()))
        .collect()
}

fn breaking(line: &str) -> (bool, String) {
    (true, format!("order.placed: {line}"))
}

fn compatible(line: &str) -> (bool, String) {
    (false, format!("order.placed: {line}"))
}

/// Declares `mod $name { pub struct OrderPlaced { .. } }` with the derives every case needs.
macro_rules! order {
    ($name:ident $(#[$attr:meta])* { $($body:tt)* }) => {
        #[allow(dead_code)]
        mod $name {
            use serde::Serialize;

            #[derive(Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
            $(#[$attr])*
            pub struct OrderPlaced { $($body)* }
        }
    };
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Closed,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusWithoutClosed {
    Open,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusWithPaused {
    Open,
    Closed,
    Paused,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Customer {
    pub name: String,
    pub city: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct CustomerWithoutCity {
    pub name: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Line {
    pub sku: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct LineNumbered {
    pub sku: u64,
}

order!(base #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: String,
});
order!(coupon_removed #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
});
order!(total_renamed #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub amount_cents: i64,
    pub coupon: String,
});
order!(total_text #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: String,
    pub coupon: String,
});
order!(total_float #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: f64,
    pub coupon: String,
});
order!(note_added #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: String,
    pub note: String,
});
order!(coupon_optional #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub coupon: String,
});
order!(coupon_nullable #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: Option<String>,
});
order!(moved #[event(topic = "orders.v2", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: String,
});
order!(rekeyed #[event(topic = "orders", key = "coupon", type = "order.placed")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: String,
});
order!(retyped #[event(topic = "orders", key = "order_id", type = "order.created")] {
    pub order_id: u64,
    pub total_cents: i64,
    pub coupon: String,
});
order!(small #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub quantity: u8,
    pub id: uuid::Uuid,
});
order!(wide #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub quantity: u16,
    pub id: String,
});
order!(status #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub status: super::Status,
});
order!(status_narrow #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub status: super::StatusWithoutClosed,
});
order!(status_paused #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub status: super::StatusWithPaused,
});
order!(status_text #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub status: String,
});
order!(nested #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub customer: super::Customer,
    pub lines: Vec<super::Line>,
});
order!(nested_changed #[event(topic = "orders", key = "order_id", type = "order.placed")] {
    pub order_id: u64,
    pub customer: super::CustomerWithoutCity,
    pub lines: Vec<super::LineNumbered>,
});

#[test]
fn fields_removed_renamed_and_added() {
    assert_eq!(
        diff::<base::OrderPlaced, coupon_removed::OrderPlaced>(Mode::Go),
        [breaking("field coupon removed")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, total_renamed::OrderPlaced>(Mode::Go),
        [breaking("field total_cents renamed to amount_cents")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, note_added::OrderPlaced>(Mode::Go),
        [compatible("field note added")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, note_added::OrderPlaced>(Mode::Closed),
        [breaking("field note added")]
    );
}

#[test]
fn types_widened_and_narrowed() {
    assert_eq!(
        diff::<base::OrderPlaced, total_text::OrderPlaced>(Mode::Go),
        [breaking("field total_cents: integer → string")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, total_float::OrderPlaced>(Mode::Go),
        [breaking("field total_cents: integer → number")]
    );
    assert_eq!(
        diff::<total_float::OrderPlaced, base::OrderPlaced>(Mode::Go),
        [compatible("field total_cents: number → integer")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, coupon_nullable::OrderPlaced>(Mode::Go),
        [breaking("field coupon: string → string or null")]
    );
    assert_eq!(
        diff::<coupon_nullable::OrderPlaced, base::OrderPlaced>(Mode::Go),
        [compatible("field coupon: string or null → string")]
    );
}

#[test]
fn formats_and_ranges() {
    assert_eq!(
        diff::<small::OrderPlaced, wide::OrderPlaced>(Mode::Go),
        [
            breaking("field id: string (uuid) → any string"),
            breaking("field quantity: range 0..=255 → 0..=65535"),
        ]
    );
    assert_eq!(
        diff::<wide::OrderPlaced, small::OrderPlaced>(Mode::Go),
        [
            compatible("field id: any string → string (uuid)"),
            compatible("field quantity: range 0..=65535 → 0..=255"),
        ]
    );
}

#[test]
fn always_written_and_may_be_absent() {
    assert_eq!(
        diff::<base::OrderPlaced, coupon_optional::OrderPlaced>(Mode::Go),
        [breaking("field coupon: always written → may be absent")]
    );
    assert_eq!(
        diff::<coupon_optional::OrderPlaced, base::OrderPlaced>(Mode::Go),
        [compatible("field coupon: may be absent → always written")]
    );
}

#[test]
fn enum_values() {
    assert_eq!(
        diff::<status::OrderPlaced, status_narrow::OrderPlaced>(Mode::Go),
        [breaking(r#"field status: value "closed" removed"#)]
    );
    assert_eq!(
        diff::<status::OrderPlaced, status_paused::OrderPlaced>(Mode::Go),
        [compatible(r#"field status: value "paused" added"#)]
    );
    assert_eq!(
        diff::<status::OrderPlaced, status_paused::OrderPlaced>(Mode::Closed),
        [breaking(r#"field status: value "paused" added"#)]
    );
    assert_eq!(
        diff::<status::OrderPlaced, status_text::OrderPlaced>(Mode::Go),
        [compatible(
            "field status: any string, no longer a fixed list"
        )]
    );
    assert_eq!(
        diff::<status::OrderPlaced, status_text::OrderPlaced>(Mode::Closed),
        [breaking("field status: any string, no longer a fixed list")]
    );
    assert_eq!(
        diff::<status_text::OrderPlaced, status::OrderPlaced>(Mode::Go),
        [compatible(r#"field status: only "closed", "open""#)]
    );
}

#[test]
fn topic_key_and_event_types() {
    assert_eq!(
        diff::<base::OrderPlaced, moved::OrderPlaced>(Mode::Go),
        [breaking("topic orders → orders.v2")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, rekeyed::OrderPlaced>(Mode::Go),
        [breaking("key order_id → coupon")]
    );
    assert_eq!(
        diff::<base::OrderPlaced, retyped::OrderPlaced>(Mode::Go),
        [
            breaking("event type order.placed removed"),
            compatible("event type order.created added"),
        ]
    );
}

#[test]
fn nested_fields_have_paths() {
    assert_eq!(
        diff::<nested::OrderPlaced, nested_changed::OrderPlaced>(Mode::Go),
        [
            breaking("field customer.city removed"),
            breaking("field lines[].sku: string → integer"),
        ]
    );
}

#[test]
fn a_change_is_typed_too() {
    let old = Contract::of::<base::OrderPlaced>().unwrap();
    let changes = Contract::of::<total_text::OrderPlaced>()
        .unwrap()
        .changes_since(&old, Mode::Go);
    assert_eq!(
        changes[0].kind,
        ChangeKind::TypeChanged {
            field: "total_cents".into(),
            from: "integer".into(),
            to: "string".into(),
        }
    );
}

#[test]
fn verify_against_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let contracts = Contracts::new().dir(dir.path()).overwrite(false);
    let path = contracts.path_of::<base::OrderPlaced>();
    assert_eq!(path, dir.path().join("orders/order.placed.json"));

    let missing = contracts.verify::<base::OrderPlaced>().unwrap_err();
    assert!(
        matches!(missing, ContractError::Missing { .. }),
        "{missing}"
    );

    let written = contracts
        .clone()
        .overwrite(true)
        .verify::<base::OrderPlaced>()
        .unwrap();
    assert_eq!(written.outcome, Outcome::Written);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        Contract::of::<base::OrderPlaced>().unwrap().to_json()
    );
    assert_eq!(
        contracts.verify::<base::OrderPlaced>().unwrap().outcome,
        Outcome::Unchanged
    );

    // A compatible change passes; the committed file stays the promise.
    let added = contracts.verify::<note_added::OrderPlaced>().unwrap();
    assert_eq!(added.outcome, Outcome::Compatible);
    assert_eq!(
        added.changes[0].to_string(),
        "order.placed: field note added"
    );
    assert_eq!(
        Contract::load(&path).unwrap(),
        Contract::of::<base::OrderPlaced>().unwrap()
    );

    // A breaking change fails, with a list to read at a glance.
    let error = contracts
        .clone()
        .mode(Mode::Closed)
        .verify::<total_text::OrderPlaced>()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "breaking changes against the contract {}:\n  \
             order.placed: field total_cents: integer → string\n\
             Undo the breaking changes, or, once every consumer is ready, rewrite the contract \
             with `KAFKA_EVENTS_CONTRACTS=overwrite cargo test`",
            path.display()
        )
    );
    let error = contracts
        .verify::<coupon_removed::OrderPlaced>()
        .unwrap_err();
    let ContractError::Breaking { changes, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(changes.len(), 1);

    // Rewritten on purpose, the new contract is the promise from now on.
    let rewritten = contracts
        .clone()
        .overwrite(true)
        .verify::<coupon_removed::OrderPlaced>()
        .unwrap();
    assert_eq!(rewritten.outcome, Outcome::Rewritten);
    assert_eq!(rewritten.changes.len(), 1);
    assert_eq!(
        contracts
            .verify::<coupon_removed::OrderPlaced>()
            .unwrap()
            .outcome,
        Outcome::Unchanged
    );

    std::fs::write(&path, "{\"properties\": {}}").unwrap();
    let malformed = contracts.verify::<base::OrderPlaced>().unwrap_err();
    assert!(
        matches!(malformed, ContractError::Malformed { .. }),
        "{malformed}"
    );
}

#[test]
fn the_schema_error_reaches_verify() {
    #[derive(serde::Serialize, KafkaEvent, JsonSchema)]
    #[event(topic = "orders", key = "id")]
    struct Renamed {
        id: u64,
        #[schemars(rename = "cents")]
        total_cents: i64,
    }
    let dir = tempfile::tempdir().unwrap();
    let error = Contracts::new()
        .dir(dir.path())
        .verify::<Renamed>()
        .unwrap_err();
    assert!(matches!(
        error,
        ContractError::Schema(SchemaError::FieldsDiffer { .. })
    ));
}

/// `tests/ui/contract-field-removed.rs` is this event before its contract was rewritten: the
/// committed contract there still lists `total_cents`, and the derive refuses the struct. Here
/// the contract was rewritten (`KAFKA_EVENTS_CONTRACTS=overwrite cargo test`), and the same
/// struct compiles and verifies.
mod rewritten {
    use serde::Serialize;

    #[derive(Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
    #[event(
        topic = "orders",
        key = "order_id",
        type = "order.placed",
        contract = "tests/contracts/orders/order.placed.json"
    )]
    pub struct OrderPlaced {
        pub order_id: u64,
        pub customer: String,
    }
}

mod before_removal {
    use serde::Serialize;

    #[derive(Serialize, kafka_events::KafkaEvent, schemars::JsonSchema)]
    #[event(topic = "orders", key = "order_id", type = "order.placed")]
    pub struct OrderPlaced {
        pub order_id: u64,
        pub customer: String,
        pub total_cents: i64,
    }
}

#[test]
fn after_the_contract_is_rewritten_the_event_compiles_and_verifies() {
    assert_eq!(
        rewritten::OrderPlaced::CONTRACT,
        Some("tests/contracts/orders/order.placed.json")
    );
    let verified = Contracts::new().verify::<rewritten::OrderPlaced>().unwrap();
    assert!(verified.changes.is_empty(), "{:?}", verified.changes);
    let committed = Contract::load(&verified.path).unwrap();
    assert_eq!(committed.fields(), ["customer", "order_id"]);

    // The contract the compile-fail case holds the struct to is the one before the removal.
    let before = Contracts::new()
        .dir("tests/ui/contracts")
        .verify::<before_removal::OrderPlaced>()
        .unwrap();
    assert!(before.changes.is_empty(), "{:?}", before.changes);
    let before = Contract::load(&before.path).unwrap();
    let changes: Vec<String> = Contract::of::<rewritten::OrderPlaced>()
        .unwrap()
        .changes_since(&before, Mode::Go)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(changes, ["order.placed: field total_cents removed"]);
}
