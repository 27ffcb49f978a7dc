//! What can go wrong with a schema, a contract or an AsyncAPI document: one variant per thing
//! to fix.

use std::fmt;
use std::io;
use std::path::PathBuf;

use kafka_events_rules::contract::{CONTRACTS_ENV, OVERWRITE};

use super::change::Change;

/// The command that rewrites contract files on purpose.
fn rewrite() -> String {
    format!("`{CONTRACTS_ENV}={OVERWRITE} cargo test`")
}

/// Why an event's JSON Schema could not be made.
///
/// ```
/// use kafka_events::KafkaEvent;
/// use kafka_events::contract::{SchemaError, schema_for};
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent, JsonSchema)]
/// #[event(topic = "orders", key = "id")]
/// struct OrderPlaced {
///     id: u64,
///     // The schema says `cents`, the JSON says `total_cents`: a schema that lies is refused.
///     #[schemars(rename = "cents")]
///     total_cents: i64,
/// }
///
/// let error = schema_for::<OrderPlaced>().unwrap_err();
/// assert!(matches!(error, SchemaError::FieldsDiffer { .. }));
/// assert_eq!(
///     error.to_string(),
///     "the JSON Schema of `OrderPlaced` does not match its JSON: the schema has `cents`, \
///      which serde doesn't write; serde writes `total_cents`, which the schema doesn't have \
///      (a `#[schemars(..)]` attribute that renames or skips a field?)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema does not describe a JSON object with properties.
    #[error(
        "the JSON Schema of `{event}` is not an object with properties: derive `JsonSchema` on \
         the event struct itself (no `#[schemars(with = ..)]` on the struct)"
    )]
    NotAnObject {
        /// The event's Rust name.
        event: String,
    },
    /// The schema's field names are not the ones serde writes (a `#[schemars(rename)]` or
    /// `#[schemars(skip)]` that serde doesn't have).
    #[error("the JSON Schema of `{event}` does not match its JSON: {}", fields_differ(.only_in_schema, .only_in_json))]
    FieldsDiffer {
        /// The event's Rust name.
        event: String,
        /// Names the schema has and the JSON doesn't.
        only_in_schema: Vec<String>,
        /// Names the JSON has and the schema doesn't.
        only_in_json: Vec<String>,
    },
}

fn fields_differ(only_in_schema: &[String], only_in_json: &[String]) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !only_in_schema.is_empty() {
        parts.push(format!(
            "the schema has {}, which serde doesn't write",
            list(only_in_schema)
        ));
    }
    if !only_in_json.is_empty() {
        parts.push(format!(
            "serde writes {}, which the schema doesn't have",
            list(only_in_json)
        ));
    }
    format!(
        "{} (a `#[schemars(..)]` attribute that renames or skips a field?)",
        parts.join("; ")
    )
}

/// Why a contract check failed.
///
/// ```
/// use kafka_events::KafkaEvent;
/// use kafka_events::contract::{ContractError, Contracts};
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent, JsonSchema)]
/// #[event(topic = "orders", key = "id", type = "order.placed")]
/// struct OrderPlaced {
///     id: u64,
/// }
///
/// let dir = tempfile::tempdir()?;
/// let error = Contracts::new().dir(dir.path()).overwrite(false).verify::<OrderPlaced>().unwrap_err();
/// assert!(matches!(error, ContractError::Missing { .. }));
/// assert!(error.to_string().ends_with(
///     "order.placed.json: write it with `KAFKA_EVENTS_CONTRACTS=overwrite cargo test` and commit it"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The event's schema could not be made.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// No contract is committed for the event yet.
    #[error("no contract at {}: write it with {} and commit it", .path.display(), rewrite())]
    Missing {
        /// Where the contract should be.
        path: PathBuf,
    },
    /// The event changed in a way its consumers can't follow.
    #[error("{}", Breaking { path, changes })]
    Breaking {
        /// The committed contract.
        path: PathBuf,
        /// Every change, breaking ones first; [`Change::breaking`] tells them apart.
        changes: Vec<Change>,
    },
    /// The file is not a contract this crate can read.
    #[error("{} is not an event contract: {reason}; restore it from version control, or rewrite it with {}", .path.display(), rewrite())]
    Malformed {
        /// The file (empty for text that came from no file).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `KAFKA_EVENTS_CONTRACTS` holds something other than `overwrite`.
    #[error("{CONTRACTS_ENV} is `{value}`; the only value it takes is `{OVERWRITE}`")]
    UnknownEnv {
        /// What it holds.
        value: String,
    },
    /// The file could not be read or written.
    #[error("cannot {action} the contract {}: {source}", .path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// The breaking-change report: one line per change, readable at a glance.
struct Breaking<'a> {
    path: &'a PathBuf,
    changes: &'a [Change],
}

impl fmt::Display for Breaking<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "breaking changes against the contract {}:",
            self.path.display()
        )?;
        for change in self.changes.iter().filter(|c| c.breaking) {
            writeln!(f, "  {change}")?;
        }
        let compatible: Vec<&Change> = self.changes.iter().filter(|c| !c.breaking).collect();
        if !compatible.is_empty() {
            writeln!(f, "compatible changes:")?;
            for change in compatible {
                writeln!(f, "  {change}")?;
            }
        }
        write!(
            f,
            "Undo the breaking changes, or, once every consumer is ready, rewrite the contract with {}",
            rewrite()
        )
    }
}

/// Why an AsyncAPI document could not be written.
///
/// ```
/// use kafka_events::contract::{AsyncApi, AsyncApiError};
///
/// let error = AsyncApi::new("Audit events", "1.0.0").write("asyncapi.txt").unwrap_err();
/// assert!(matches!(error, AsyncApiError::Extension { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsyncApiError {
    /// An event's schema could not be made.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The document could not be written as YAML.
    #[error("the AsyncAPI document could not be written as YAML: {0}")]
    Yaml(String),
    /// [`AsyncApi::write`](super::AsyncApi::write) was given a file whose format it can't tell.
    #[error("write the AsyncAPI document to a `.json`, `.yaml` or `.yml` file, not {}", .path.display())]
    Extension {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("cannot write the AsyncAPI document {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}
