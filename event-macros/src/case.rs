//! serde's `rename_all` rules, written from their definition, and the naming-convention check.

use std::fmt;

/// One of the eight rename rules serde accepts; also the naming conventions `#[event(naming)]`
/// checks against.
// Named as serde names them.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameRule {
    LowerCase,
    UpperCase,
    PascalCase,
    CamelCase,
    SnakeCase,
    ScreamingSnakeCase,
    KebabCase,
    ScreamingKebabCase,
}

use RenameRule::*;

/// In the order serde lists them in its own error message.
const RULES: [(&str, RenameRule); 8] = [
    ("lowercase", LowerCase),
    ("UPPERCASE", UpperCase),
    ("PascalCase", PascalCase),
    ("camelCase", CamelCase),
    ("snake_case", SnakeCase),
    ("SCREAMING_SNAKE_CASE", ScreamingSnakeCase),
    ("kebab-case", KebabCase),
    ("SCREAMING-KEBAB-CASE", ScreamingKebabCase),
];

impl RenameRule {
    pub fn from_str(name: &str) -> Option<Self> {
        RULES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    pub fn name(self) -> &'static str {
        RULES
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }

    /// The list used in error messages: "`lowercase`, `UPPERCASE`, ... or `SCREAMING-KEBAB-CASE`".
    pub fn expected() -> String {
        let names: Vec<String> = RULES.iter().map(|(n, _)| format!("`{n}`")).collect();
        let (last, rest) = names.split_last().expect("eight rules");
        format!("{} or {last}", rest.join(", "))
    }

    /// What serde's `rename_all` does to a field. serde takes a field name to be snake_case
    /// already, so `lowercase` and `snake_case` leave it as it is.
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            LowerCase | SnakeCase => field.to_owned(),
            UpperCase | ScreamingSnakeCase => field.to_ascii_uppercase(),
            PascalCase => {
                let mut pascal = String::with_capacity(field.len());
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            CamelCase => {
                let pascal = PascalCase.apply_to_field(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => pascal,
                }
            }
            KebabCase => field.replace('_', "-"),
            ScreamingKebabCase => ScreamingSnakeCase.apply_to_field(field).replace('_', "-"),
        }
    }

    /// Whether `name` is written in this convention: ASCII letters and digits, starting with a
    /// letter, words joined by the rule's separator (no leading, trailing or doubled separator).
    pub fn follows(self, name: &str) -> bool {
        let (lower, upper, sep) = match self {
            LowerCase => (true, false, None),
            UpperCase => (false, true, None),
            PascalCase | CamelCase => (true, true, None),
            SnakeCase => (true, false, Some('_')),
            ScreamingSnakeCase => (false, true, Some('_')),
            KebabCase => (true, false, Some('-')),
            ScreamingKebabCase => (false, true, Some('-')),
        };
        let Some(first) = name.chars().next() else {
            return false;
        };
        let first_ok = match self {
            PascalCase => first.is_ascii_uppercase(),
            CamelCase => first.is_ascii_lowercase(),
            _ => (lower && first.is_ascii_lowercase()) || (upper && first.is_ascii_uppercase()),
        };
        if !first_ok {
            return false;
        }
        let mut previous_was_sep = false;
        for ch in name.chars() {
            let ok = if Some(ch) == sep {
                if previous_was_sep {
                    return false;
                }
                previous_was_sep = true;
                continue;
            } else {
                ch.is_ascii_digit()
                    || (lower && ch.is_ascii_lowercase())
                    || (upper && ch.is_ascii_uppercase())
            };
            if !ok {
                return false;
            }
            previous_was_sep = false;
        }
        !previous_was_sep
    }

    /// `name` rewritten in this convention, for the "did you mean" part of an error. Words are
    /// split at `_`, `-` and lower-to-upper case changes.
    pub fn suggest(self, name: &str) -> String {
        let mut snake = String::with_capacity(name.len() + 4);
        let mut previous: Option<char> = None;
        for ch in name.chars() {
            if ch == '_' || ch == '-' || ch == ' ' {
                if !snake.is_empty() && !snake.ends_with('_') {
                    snake.push('_');
                }
            } else if ch.is_ascii_alphanumeric() {
                if ch.is_ascii_uppercase()
                    && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                    && !snake.ends_with('_')
                {
                    snake.push('_');
                }
                snake.push(ch.to_ascii_lowercase());
            }
            previous = Some(ch);
        }
        let snake = snake.trim_matches('_');
        match self {
            // serde leaves these two as they are, but a name that should follow them must not
            // keep its separators.
            LowerCase => snake.replace('_', ""),
            UpperCase => snake.replace('_', "").to_ascii_uppercase(),
            rule => rule.apply_to_field(snake),
        }
    }
}

impl fmt::Display for RenameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_all_table() {
        // field, then the result of each rule in RULES order (serde's own test table).
        let table: &[(&str, [&str; 8])] = &[
            (
                "outcome",
                [
                    "outcome", "OUTCOME", "Outcome", "outcome", "outcome", "OUTCOME", "outcome",
                    "OUTCOME",
                ],
            ),
            (
                "very_tasty",
                [
                    "very_tasty",
                    "VERY_TASTY",
                    "VeryTasty",
                    "veryTasty",
                    "very_tasty",
                    "VERY_TASTY",
                    "very-tasty",
                    "VERY-TASTY",
                ],
            ),
            ("a", ["a", "A", "A", "a", "a", "A", "a", "A"]),
            (
                "z42",
                ["z42", "Z42", "Z42", "z42", "z42", "Z42", "z42", "Z42"],
            ),
            (
                "http2_port",
                [
                    "http2_port",
                    "HTTP2_PORT",
                    "Http2Port",
                    "http2Port",
                    "http2_port",
                    "HTTP2_PORT",
                    "http2-port",
                    "HTTP2-PORT",
                ],
            ),
            (
                "_leading",
                [
                    "_leading", "_LEADING", "Leading", "leading", "_leading", "_LEADING",
                    "-leading", "-LEADING",
                ],
            ),
        ];
        for (field, expected) in table {
            for ((name, rule), want) in RULES.iter().zip(expected) {
                assert_eq!(rule.apply_to_field(field), *want, "{name} of {field}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for (name, rule) in RULES {
            assert_eq!(RenameRule::from_str(name), Some(rule));
            assert_eq!(rule.name(), name);
        }
        assert_eq!(RenameRule::from_str("Snake_Case"), None);
    }

    #[test]
    fn follows_each_convention() {
        let cases: &[(RenameRule, &[&str], &[&str])] = &[
            (
                SnakeCase,
                &["id", "tenant_id", "http2_port", "a1"],
                &["", "_id", "id_", "a__b", "userId", "1a", "a-b"],
            ),
            (
                CamelCase,
                &["id", "tenantId", "http2Port"],
                &["TenantId", "tenant_id", "tenant-id", ""],
            ),
            (PascalCase, &["Id", "TenantId"], &["tenantId", "Tenant_Id"]),
            (
                ScreamingSnakeCase,
                &["ID", "TENANT_ID"],
                &["Tenant_ID", "TENANT__ID"],
            ),
            (
                KebabCase,
                &["tenant-id", "id"],
                &["tenant_id", "-id", "tenant--id"],
            ),
            (
                ScreamingKebabCase,
                &["TENANT-ID"],
                &["tenant-id", "TENANT_ID"],
            ),
            (LowerCase, &["tenantid", "id2"], &["tenant_id", "Id"]),
            (UpperCase, &["TENANTID"], &["TENANT_ID", "Id"]),
        ];
        for (rule, good, bad) in cases {
            for name in *good {
                assert!(rule.follows(name), "{name} should follow {rule}");
            }
            for name in *bad {
                assert!(!rule.follows(name), "{name} should not follow {rule}");
            }
        }
    }

    #[test]
    fn every_rule_accepts_what_it_produces() {
        for (_, rule) in RULES {
            if matches!(rule, LowerCase | UpperCase) {
                continue; // serde keeps the `_` for these two
            }
            for field in ["id", "tenant_id", "http2_port", "a_b_c"] {
                let name = rule.apply_to_field(field);
                assert!(rule.follows(&name), "{rule} rejects its own {name}");
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(SnakeCase.suggest("userId"), "user_id");
        assert_eq!(SnakeCase.suggest("Tenant-ID"), "tenant_id");
        assert_eq!(CamelCase.suggest("tenant_id"), "tenantId");
        assert_eq!(KebabCase.suggest("_leading"), "leading");
        assert_eq!(ScreamingSnakeCase.suggest("httpMethod"), "HTTP_METHOD");
        assert_eq!(LowerCase.suggest("tenant_id"), "tenantid");
    }
}
