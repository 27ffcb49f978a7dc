//! What changed between a committed contract and the event as it is now, each change classified
//! by what it does to the consumers, as the [`Mode`] says they decode: the contract is read as
//! shapes (`shape`) and walked field by field.

use std::collections::BTreeSet;

use super::change::{Change, ChangeKind, Mode};
use super::file::Contract;
use super::shape::{Kind, Shape};

impl Contract {
    /// Every change from `committed` to `self`, breaking ones first, classified by `mode`.
    /// Descriptions and titles are not changes.
    ///
    /// ```
    /// use kafka_events::contract::{Contract, Mode};
    /// use kafka_events::AuditEntry;
    ///
    /// let now = Contract::of::<AuditEntry>()?;
    /// assert!(now.changes_since(&now, Mode::Closed).is_empty());
    /// # Ok::<(), kafka_events::contract::SchemaError>(())
    /// ```
    pub fn changes_since(&self, committed: &Contract, mode: Mode) -> Vec<Change> {
        changes(committed, self, mode)
    }
}

/// Every change from `old` (committed) to `new`, breaking ones first.
fn changes(old: &Contract, new: &Contract, mode: Mode) -> Vec<Change> {
    let mut diff = Diff {
        event: old.name().to_owned(),
        mode,
        out: Vec::new(),
    };
    if old.topic() != new.topic() {
        diff.push(
            ChangeKind::TopicChanged {
                from: old.topic().to_owned(),
                to: new.topic().to_owned(),
            },
            true,
        );
    }
    if old.key().is_some() && old.key() != new.key() {
        diff.push(
            ChangeKind::KeyChanged {
                from: old.key().map(str::to_owned),
                to: new.key().map(str::to_owned),
            },
            true,
        );
    }
    let (old_types, new_types) = (old.event_types(), new.event_types());
    for gone in old_types.iter().filter(|t| !new_types.contains(t)) {
        diff.push(
            ChangeKind::EventTypeRemoved {
                event_type: (*gone).to_owned(),
            },
            true,
        );
    }
    for added in new_types.iter().filter(|t| !old_types.contains(t)) {
        diff.push(
            ChangeKind::EventTypeAdded {
                event_type: (*added).to_owned(),
            },
            mode == Mode::Closed,
        );
    }
    let old_shape = Shape::read(old.schema(), old.schema());
    let new_shape = Shape::read(new.schema(), new.schema());
    diff.shape("", &old_shape, &new_shape);
    let mut out = diff.out;
    out.sort_by_key(|change| !change.breaking);
    out
}

struct Diff {
    event: String,
    mode: Mode,
    out: Vec<Change>,
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_owned()
    } else if part.starts_with('[') {
        format!("{path}{part}")
    } else {
        format!("{path}.{part}")
    }
}

impl Diff {
    fn push(&mut self, kind: ChangeKind, breaking: bool) {
        self.out.push(Change {
            event: self.event.clone(),
            kind,
            breaking,
        });
    }

    /// Consumers that don't refuse the unknown take it in their stride.
    fn unknown_breaks(&self) -> bool {
        self.mode == Mode::Closed
    }

    fn shape(&mut self, path: &str, old: &Shape, new: &Shape) {
        let (old_kinds, new_kinds) = (old.all_kinds(), new.all_kinds());
        let widened = new_kinds
            .iter()
            .any(|k| !old.any && !accepts(&old_kinds, *k));
        if widened || (old.any && !new.any) {
            self.push(
                ChangeKind::TypeChanged {
                    field: path.to_owned(),
                    from: old.describe_kinds(),
                    to: new.describe_kinds(),
                },
                widened,
            );
        } else if old.describe_kinds() != new.describe_kinds() {
            self.push(
                ChangeKind::TypeChanged {
                    field: path.to_owned(),
                    from: old.describe_kinds(),
                    to: new.describe_kinds(),
                },
                false,
            );
        }
        if old.any || new.any {
            return;
        }
        self.values(path, old, new, &old_kinds, &new_kinds);
        if old.allows_kind(Kind::String)
            && new.allows_kind(Kind::String)
            && old.format != new.format
        {
            self.push(
                ChangeKind::FormatChanged {
                    field: path.to_owned(),
                    from: old.format.clone(),
                    to: new.format.clone(),
                },
                old.format.is_some(),
            );
        }
        let numbers = |s: &Shape| s.allows_kind(Kind::Integer);
        if numbers(old) && numbers(new) && old.range != new.range {
            let unbounded = Default::default();
            let (from, to) = (
                old.range.unwrap_or(unbounded),
                new.range.unwrap_or(unbounded),
            );
            self.push(
                ChangeKind::RangeChanged {
                    field: path.to_owned(),
                    from: from.to_string(),
                    to: to.to_string(),
                },
                !to.within(&from),
            );
        }
        if old_kinds.contains(&Kind::Object) && new_kinds.contains(&Kind::Object) {
            self.fields(path, old, new);
            self.nested(&join(path, "*"), &old.map_values, &new.map_values);
        }
        if old_kinds.contains(&Kind::Array) && new_kinds.contains(&Kind::Array) {
            self.nested(&join(path, "[]"), &old.items, &new.items);
        }
    }

    fn nested(&mut self, path: &str, old: &Option<Box<Shape>>, new: &Option<Box<Shape>>) {
        let anything = Shape {
            any: true,
            ..Shape::default()
        };
        match (old, new) {
            (None, None) => {}
            (old, new) => self.shape(
                path,
                old.as_deref().unwrap_or(&anything),
                new.as_deref().unwrap_or(&anything),
            ),
        }
    }

    /// Enum values, where both sides have values of the same kind.
    fn values(
        &mut self,
        path: &str,
        old: &Shape,
        new: &Shape,
        old_kinds: &BTreeSet<Kind>,
        new_kinds: &BTreeSet<Kind>,
    ) {
        for value in &old.values {
            let kind = kind_of(value);
            if !new.allows_value(value) && new_kinds.contains(&kind) {
                self.push(
                    ChangeKind::ValueRemoved {
                        field: path.to_owned(),
                        value: value.clone(),
                    },
                    true,
                );
            }
        }
        for value in &new.values {
            if !old.allows_value(value) && accepts(old_kinds, kind_of(value)) {
                self.push(
                    ChangeKind::ValueAdded {
                        field: path.to_owned(),
                        value: value.clone(),
                    },
                    self.unknown_breaks(),
                );
            }
        }
        for kind in &new.kinds {
            if !old.allows_kind(*kind) && old_kinds.contains(kind) {
                self.push(
                    ChangeKind::ValuesOpened {
                        field: path.to_owned(),
                        kind: kind.name().to_owned(),
                    },
                    self.unknown_breaks(),
                );
            }
        }
        for kind in &old.kinds {
            if !new.allows_kind(*kind) && new_kinds.contains(kind) {
                let values = new
                    .values
                    .iter()
                    .filter(|v| kind_of(v) == *kind)
                    .cloned()
                    .collect();
                self.push(
                    ChangeKind::ValuesRestricted {
                        field: path.to_owned(),
                        values,
                    },
                    false,
                );
            }
        }
    }

    fn fields(&mut self, path: &str, old: &Shape, new: &Shape) {
        let removed: Vec<&String> = old
            .fields
            .keys()
            .filter(|n| !new.fields.contains_key(*n))
            .collect();
        let added: Vec<&String> = new
            .fields
            .keys()
            .filter(|n| !old.fields.contains_key(*n))
            .collect();
        // A rename is one field gone and one field of the same shape come, each the only match
        // of the other.
        let same = |gone: &String, come: &String| old.fields[gone] == new.fields[come];
        let renamed_to = |gone: &String| -> Option<&String> {
            let mut matches = added.iter().filter(|come| same(gone, come));
            let come = matches.next()?;
            let unique = matches.next().is_none()
                && removed.iter().filter(|other| same(other, come)).count() == 1;
            unique.then_some(*come)
        };
        let mut claimed = Vec::new();
        for (name, old_field) in &old.fields {
            let at = join(path, name);
            match new.fields.get(name) {
                Some(new_field) => {
                    self.shape(&at, &old_field.shape, &new_field.shape);
                    if old_field.required != new_field.required {
                        let kind = if old_field.required {
                            ChangeKind::NowOptional { field: at }
                        } else {
                            ChangeKind::NowRequired { field: at }
                        };
                        self.push(kind, old_field.required);
                    }
                }
                None => match renamed_to(name) {
                    Some(to) => {
                        claimed.push(to);
                        self.push(
                            ChangeKind::FieldRenamed {
                                field: at,
                                to: to.clone(),
                            },
                            true,
                        );
                    }
                    None => self.push(ChangeKind::FieldRemoved { field: at }, true),
                },
            }
        }
        for name in added.iter().filter(|n| !claimed.contains(n)) {
            self.push(
                ChangeKind::FieldAdded {
                    field: join(path, name),
                },
                self.unknown_breaks(),
            );
        }
    }
}

/// Whether consumers built for `kinds` accept a value of `kind` (an integer is a number).
fn accepts(kinds: &BTreeSet<Kind>, kind: Kind) -> bool {
    kinds.contains(&kind) || (kind == Kind::Integer && kinds.contains(&Kind::Number))
}

fn kind_of(value: &str) -> Kind {
    serde_json::from_str(value).map_or(Kind::String, |v| Kind::of(&v))
}
