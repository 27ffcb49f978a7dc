//! [`Contract`]: an event's JSON Schema with what else its consumers rely on (topic, key, event
//! types), as it is committed in a file, and the models' contracts that ship with this crate.

use std::path::Path;

use kafka_events_rules::contract::contract_fields;
use schemars::JsonSchema;
use serde_json::{Value, json};

use super::error::{ContractError, SchemaError};
use super::schema::schema_for;
use crate::event::KafkaEvent;

/// The keyword of a contract file that holds what is not the payload's schema.
const EVENT: &str = "x-kafka-event";

/// An event's contract: the JSON Schema (draft 2020-12) of its records, exactly as they are
/// written, and, under the keyword `x-kafka-event`, its topic, key field and event types. The
/// file is a JSON Schema any validator reads; the fields it promises are its top-level
/// `properties`.
///
/// ```
/// use kafka_events::contract::Contract;
/// use kafka_events::{AuditEntry, KafkaEvent};
///
/// let contract = Contract::of::<AuditEntry>()?;
/// assert_eq!(contract.name(), "audit.log");
/// assert_eq!((contract.topic(), contract.key()), ("audit", Some("id")));
/// assert!(contract.fields().contains(&"tenant_id"));
/// assert_eq!(contract.schema()["properties"]["tenant_id"]["format"], "uuid");
/// let text = contract.to_json();
/// assert_eq!(Contract::from_json(&text)?, contract);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    document: Value,
}

impl Contract {
    /// The contract of `E` as it is now.
    pub fn of<E: KafkaEvent + JsonSchema>() -> Result<Contract, SchemaError> {
        let mut document = schema_for::<E>()?;
        document[EVENT] = json!({
            "topic": E::TOPIC,
            "key": E::KEY_FIELD,
            "event_types": E::EVENT_TYPE.map_or_else(|| E::EVENT_TYPES.to_vec(), |t| vec![t]),
        });
        Ok(Contract { document })
    }

    /// Reads a contract from its file's text.
    pub fn from_json(text: &str) -> Result<Contract, ContractError> {
        Contract::load_text(text, Path::new(""))
    }

    /// Reads the contract file at `path`.
    ///
    /// ```
    /// use kafka_events::contract::{Contract, ContractError};
    ///
    /// let missing = Contract::load("contracts/none.json").unwrap_err();
    /// assert!(matches!(missing, ContractError::Io { .. }));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Contract, ContractError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Contract::load_text(&text, path)
    }

    pub(super) fn load_text(text: &str, path: &Path) -> Result<Contract, ContractError> {
        let malformed = |reason: String| ContractError::Malformed {
            path: path.to_owned(),
            reason,
        };
        // What the derive reads at compile time must be what is checked here.
        contract_fields(text).map_err(|e| malformed(e.to_string()))?;
        let document: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        let event = document.get(EVENT).and_then(Value::as_object);
        if !event.is_some_and(|e| e.get("topic").is_some_and(Value::is_string)) {
            return Err(malformed(format!(
                "no `{EVENT}` object with the event's `topic`"
            )));
        }
        Ok(Contract { document })
    }

    /// The file's text: pretty JSON, keys sorted, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.document).expect("a Value serializes");
        text.push('\n');
        text
    }

    /// The whole document: a JSON Schema with the `x-kafka-event` keyword.
    pub fn schema(&self) -> &Value {
        &self.document
    }

    /// The contract's name in reports: its one event type, or else the event's name.
    pub fn name(&self) -> &str {
        match self.event_types().as_slice() {
            [only] => only,
            _ => self.document["title"].as_str().unwrap_or("event"),
        }
    }

    /// The logical topic.
    pub fn topic(&self) -> &str {
        self.document[EVENT]["topic"].as_str().unwrap_or_default()
    }

    /// The JSON name of the field that keys the record.
    pub fn key(&self) -> Option<&str> {
        self.document[EVENT]["key"].as_str()
    }

    /// The event types (the `event-type` header's values).
    pub fn event_types(&self) -> Vec<&str> {
        self.document[EVENT]["event_types"]
            .as_array()
            .map(|types| types.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The fields the contract promises: the top-level properties' JSON names.
    pub fn fields(&self) -> Vec<&str> {
        self.document["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// The contracts of the ready-made models, as committed with this crate: [`AuditEntry`],
/// [`AuthEvent`] and [`UsageEvent`], the Go services' wire format (the Go interop test checks
/// them against the Go structs).
///
/// ```
/// use kafka_events::contract::{Contract, Mode, models};
/// use kafka_events::AuditEntry;
///
/// let shipped = models();
/// let names: Vec<&str> = shipped.iter().map(|c| c.name()).collect();
/// assert_eq!(names, ["audit.log", "AuthEvent", "usage.record"]);
/// // The models as they are match what shipped.
/// let now = Contract::of::<AuditEntry>()?;
/// assert!(now.changes_since(&shipped[0], Mode::Go).is_empty());
/// # Ok::<(), kafka_events::contract::SchemaError>(())
/// ```
///
/// [`AuditEntry`]: crate::AuditEntry
/// [`AuthEvent`]: crate::AuthEvent
/// [`UsageEvent`]: crate::UsageEvent
pub fn models() -> [Contract; 3] {
    [
        include_str!("../../contracts/audit/audit.log.json"),
        include_str!("../../contracts/audit/auth.json"),
        include_str!("../../contracts/usage/usage.record.json"),
    ]
    .map(|text| Contract::from_json(text).expect("the models' contracts are committed valid"))
}
