//! [`verify`]: in a test, the event as it is now against its committed contract.

use std::io;
use std::path::PathBuf;

use kafka_events_rules::contract::{CONTRACTS_ENV, OVERWRITE};
use schemars::JsonSchema;

use super::change::{Change, Mode};
use super::error::ContractError;
use super::file::Contract;
use crate::event::KafkaEvent;

/// Checks `E` against its committed contract with the defaults of [`Contracts::new`]: files under
/// `contracts/`, consumers that decode as Go does ([`Mode::Go`]), rewritten when
/// `KAFKA_EVENTS_CONTRACTS=overwrite` is set.
///
/// Put it in a test; it fails on a breaking change, listing each one on a line.
///
/// ```no_run
/// use kafka_events::KafkaEvent;
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent, JsonSchema)]
/// #[event(topic = "orders", key = "order_id", type = "order.placed")]
/// struct OrderPlaced {
///     order_id: u64,
///     total_cents: i64,
/// }
///
/// #[test]
/// fn order_placed_keeps_its_contract() {
///     // contracts/orders/order.placed.json; `KAFKA_EVENTS_CONTRACTS=overwrite cargo test`
///     // writes it, then commit it.
///     kafka_events::contract::verify::<OrderPlaced>().unwrap();
/// }
/// ```
pub fn verify<E: KafkaEvent + JsonSchema>() -> Result<Verified, ContractError> {
    Contracts::new().verify::<E>()
}

/// Where contracts are kept and how they are checked.
///
/// A relative directory is taken from the crate root (`cargo test` runs there). An event's file
/// is `{dir}/{topic}/{event type}.json` (the event's name when it has no fixed type), or the
/// file its derive names with `#[event(contract = "..")]`, which the compile-time check reads
/// too.
///
/// | the committed file | what [`verify`](Contracts::verify) does | with `overwrite` |
/// | --- | --- | --- |
/// | missing | fails: [`ContractError::Missing`] | writes it ([`Outcome::Written`]) |
/// | the same, but for descriptions | passes: [`Outcome::Unchanged`] | rewrites it if its text differs |
/// | compatible changes only | passes: [`Outcome::Compatible`], with the changes; the file stays the promise until you rewrite it | rewrites it ([`Outcome::Rewritten`]) |
/// | a breaking change | fails: [`ContractError::Breaking`] lists every change | rewrites it |
///
/// ```
/// use kafka_events::KafkaEvent;
/// use kafka_events::contract::{Contracts, Mode, Outcome};
/// use schemars::JsonSchema;
/// use serde::Serialize;
///
/// #[derive(Serialize, KafkaEvent, JsonSchema)]
/// #[event(topic = "orders", key = "order_id", type = "order.placed")]
/// struct OrderPlaced {
///     order_id: u64,
///     total_cents: i64,
/// }
///
/// let dir = tempfile::tempdir()?;
/// let contracts = Contracts::new().dir(dir.path()).mode(Mode::Closed);
/// assert!(contracts.path_of::<OrderPlaced>().ends_with("orders/order.placed.json"));
/// let first = contracts.clone().overwrite(true).verify::<OrderPlaced>()?;
/// assert_eq!(first.outcome, Outcome::Written);
/// let again = contracts.overwrite(false).verify::<OrderPlaced>()?;
/// assert_eq!(again.outcome, Outcome::Unchanged);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Contracts {
    dir: PathBuf,
    mode: Mode,
    /// `Err` holds a value of `KAFKA_EVENTS_CONTRACTS` that means nothing, reported by `verify`.
    overwrite: Result<bool, String>,
}

impl Default for Contracts {
    fn default() -> Self {
        Contracts::new()
    }
}

/// What [`Contracts::verify`] found or did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Verified {
    /// The contract file.
    pub path: PathBuf,
    /// What came of it.
    pub outcome: Outcome,
    /// The changes since the committed contract (all compatible, unless it was rewritten).
    pub changes: Vec<Change>,
}

/// What came of a [`Contracts::verify`].
///
/// ```
/// use kafka_events::contract::Outcome;
///
/// assert_ne!(Outcome::Unchanged, Outcome::Compatible);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The event matches the committed contract.
    Unchanged,
    /// The event changed compatibly; the committed contract was left as it is.
    Compatible,
    /// There was no contract; it was written.
    Written,
    /// The contract was rewritten.
    Rewritten,
}

impl Contracts {
    /// Contracts under `contracts/`, consumers that decode as Go does, rewritten when
    /// `KAFKA_EVENTS_CONTRACTS=overwrite` is set.
    pub fn new() -> Self {
        let overwrite = match std::env::var(CONTRACTS_ENV) {
            Ok(value) if value == OVERWRITE => Ok(true),
            Ok(value) if value.is_empty() => Ok(false),
            Ok(value) => Err(value),
            Err(_) => Ok(false),
        };
        Contracts {
            dir: PathBuf::from("contracts"),
            mode: Mode::Go,
            overwrite,
        }
    }

    /// The directory of the contract files.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    /// How the consumers decode, which decides what breaks them.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether to write the current contracts instead of checking them (by default, whether
    /// `KAFKA_EVENTS_CONTRACTS=overwrite` is set).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = Ok(overwrite);
        self
    }

    /// The contract file of `E`.
    pub fn path_of<E: KafkaEvent + JsonSchema>(&self) -> PathBuf {
        let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
        match E::CONTRACT {
            Some(path) => root.join(path),
            None => {
                let name = E::EVENT_TYPE.map_or_else(E::schema_name, Into::into);
                root.join(&self.dir)
                    .join(E::TOPIC)
                    .join(format!("{name}.json"))
            }
        }
    }

    /// Compares `E` as it is now with its committed contract (see the table on [`Contracts`]).
    pub fn verify<E: KafkaEvent + JsonSchema>(&self) -> Result<Verified, ContractError> {
        let overwrite = self
            .overwrite
            .clone()
            .map_err(|value| ContractError::UnknownEnv { value })?;
        let path = self.path_of::<E>();
        let current = Contract::of::<E>()?;
        let committed = match std::fs::read_to_string(&path) {
            Ok(text) => match Contract::load_text(&text, &path) {
                Ok(contract) => Some((contract, text)),
                Err(_) if overwrite => None,
                Err(error) => return Err(error),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ContractError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        let Some((committed, text)) = committed else {
            if !overwrite {
                return Err(ContractError::Missing { path });
            }
            write(&path, &current)?;
            return Ok(Verified {
                path,
                outcome: Outcome::Written,
                changes: Vec::new(),
            });
        };
        let changes = current.changes_since(&committed, self.mode);
        let outcome = if overwrite {
            if text == current.to_json() {
                Outcome::Unchanged
            } else {
                write(&path, &current)?;
                Outcome::Rewritten
            }
        } else if changes.iter().any(|c| c.breaking) {
            return Err(ContractError::Breaking { path, changes });
        } else if changes.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Compatible
        };
        Ok(Verified {
            path,
            outcome,
            changes,
        })
    }
}

fn write(path: &PathBuf, contract: &Contract) -> Result<(), ContractError> {
    let io_error = |source| ContractError::Io {
        action: "write",
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    std::fs::write(path, contract.to_json()).map_err(io_error)
}
