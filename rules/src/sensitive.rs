//! Which names look like secrets: one list and one matching rule, shared by
//! `#[derive(KafkaEvent)]` (which refuses to compile a secret-looking field that is neither
//! redacted nor allowed) and by kafka-events' HTTP middleware (which masks such JSON fields and
//! query parameters). Use it through `kafka-events`.
//!
//! A name is split into words: at every character that is not a letter or digit, and where
//! camel case changes (`apiKey`, `APIKey` and `api-key` are all `api key`). A name matches an
//! entry of the list when the entry's words appear in it in a row (`x_api_key`, `newPassword`,
//! `aws_access_key_id`), or when one word of the name is the entry written as one word
//! (`apikey`), ends with it (entries of five letters or more: `accesstoken`, `clientsecret`)
//! or starts with it (six or more: `passwordhash`). A word ending in `s` matches as its singular
//! too (`api_keys`, `tokens`, `pins`). Short entries (`pin`, `otp`, `jwt`, `auth`) match whole
//! words only, so `shipping`, `author` and `option` are not masked.
//!
//! ```
//! use kafka_events_rules::{is_sensitive, sensitive_match};
//!
//! assert!(is_sensitive("X-Api-Key"));
//! assert!(is_sensitive("aws_access_key_id"));
//! assert!(is_sensitive("refreshToken"));
//! assert!(!is_sensitive("author"));
//! assert!(!is_sensitive("shipping_address"));
//! assert!(is_sensitive("apiKeys") && is_sensitive("refresh_tokens") && is_sensitive("pins"));
//! assert_eq!(sensitive_match("card_number"), Some("card number"));
//! ```

use alloc::string::String;
use alloc::vec::Vec;

/// The names masked by default, as words separated by spaces. Matching ignores case and how the
/// words are joined (see the crate docs).
///
/// ```
/// # use kafka_events_rules::SENSITIVE_NAMES as DEFAULT_SENSITIVE_FIELDS;
/// // In kafka-events: `kafka_events::middleware::DEFAULT_SENSITIVE_FIELDS`.
/// assert!(DEFAULT_SENSITIVE_FIELDS.contains(&"password"));
/// // One entry covers every spelling: `apiKey`, `X-Api-Key`, `api_key`.
/// assert!(DEFAULT_SENSITIVE_FIELDS.contains(&"api key"));
/// ```
pub const SENSITIVE_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "pw",
    "passphrase",
    "secret",
    "token",
    "api key",
    "access key",
    "private key",
    "secret key",
    "signing key",
    "encryption key",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "bearer",
    "cookie",
    "session",
    "session id",
    "jwt",
    "otp",
    "totp",
    "pin",
    "signature",
    "card number",
    "credit card",
    "cvv",
    "cvc",
    "ssn",
    "social security",
];

/// Names that are secrets as whole URL query parameters, though as words of a longer name they
/// are not: an API key (`key=`), a shared-access signature (`sig=`, `signature=`), an OAuth
/// authorization code (`code=`). `sort_key` and `status_code` are not masked.
///
/// ```
/// use kafka_events_rules::Matcher;
///
/// let matcher = Matcher::default();
/// assert!(matcher.matches_url_parameter("key") && matcher.matches_url_parameter("SIG"));
/// assert!(!matcher.matches_url_parameter("sort_key") && !matcher.matches_url_parameter("status_code"));
/// assert!(!matcher.matches("code")); // a JSON field named `code` is kept
/// ```
pub const URL_PARAMETER_NAMES: &[&str] = &["key", "sig", "signature", "code"];

/// Why a name can't be used as a sensitive name.
///
/// ```
/// use kafka_events_rules::{InvalidName, Matcher};
/// // In kafka-events: `kafka_events::middleware::InvalidName`, which
/// // `AuditLayer::mask_field` and `AuditLayer::sensitive_fields` return.
///
/// let mut matcher = Matcher::default();
/// assert_eq!(matcher.add("--"), Err(InvalidName)); // no letter or digit
/// assert_eq!(Matcher::with_names(["tax id", " _ "]), Err(InvalidName));
/// assert_eq!(InvalidName.to_string(), "a sensitive name needs at least one letter or digit");
/// assert!(matcher.add("tax-id").is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidName;

impl core::fmt::Display for InvalidName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a sensitive name needs at least one letter or digit")
    }
}

/// A name in its matching form: its words, lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    words: Vec<String>,
    joined: String,
}

impl Name {
    /// Splits `name` into words; fails when it has no letter or digit.
    pub fn new(name: &str) -> Result<Name, InvalidName> {
        let words = words(name);
        if words.is_empty() {
            return Err(InvalidName);
        }
        let joined = words.concat();
        Ok(Name { words, joined })
    }

    /// The name as words separated by spaces.
    pub fn as_words(&self) -> String {
        self.words.join(" ")
    }

    /// Whether `key` matches this name (see the crate docs).
    pub fn matches_words(&self, key: &[String]) -> bool {
        let n = self.words.len();
        if key.windows(n).any(|w| {
            w.iter()
                .zip(&self.words)
                .enumerate()
                .all(|(i, (k, name))| same_word(k.as_bytes(), name.as_bytes(), i + 1 == n))
        }) {
            return true;
        }
        key.iter()
            .any(|word| self.matches_one_word(word.as_bytes()))
    }

    /// Whether one word of a key is this name written as one word, ends or starts with it.
    fn matches_one_word(&self, word: &[u8]) -> bool {
        let joined = self.joined.as_bytes();
        let len = joined.len();
        [Some(word), singular(word), without_digits(word)]
            .into_iter()
            .flatten()
            .any(|word| {
                word == joined
                    || (len >= 5 && word.ends_with(joined))
                    || (len >= 6 && word.starts_with(joined))
            })
    }
}

/// The words of a name, lower-cased: split at every character that is not a letter or digit,
/// and where camel case changes.
pub fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(core::mem::take(&mut current));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let boundary = starts_word(prev, c, chars.get(i + 1).copied());
        if boundary && !current.is_empty() {
            words.push(core::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether camel case starts a new word at `c`: an upper-case letter after a lower-case letter
/// or a digit (`apiKey`), or the last capital of a run followed by lower case (`APIKey`).
fn starts_word(prev: Option<char>, c: char, next: Option<char>) -> bool {
    c.is_uppercase()
        && prev.is_some_and(|p| {
            p.is_lowercase()
                || p.is_ascii_digit()
                || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
        })
}

/// A set of sensitive names to match keys against. Matching allocates nothing for keys of up to
/// 128 ASCII bytes and 32 words, which is what JSON keys and query parameters are; such a key is
/// compared only with the names whose first two letters it has in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    names: Vec<Name>,
    candidates: Candidates,
}

impl Default for Matcher {
    /// [`SENSITIVE_NAMES`].
    fn default() -> Self {
        Matcher::from_names(
            SENSITIVE_NAMES
                .iter()
                .map(|n| Name::new(n).expect("the default names are valid"))
                .collect(),
        )
    }
}

/// Which names a key may match, from the pairs of letters it has in a row: every way a key
/// matches a name puts the name's letters and digits, in a row, among the key's, so a name
/// whose first two are nowhere in the key can't match it. Built for up to 64 names; with more,
/// every name is a candidate.
#[derive(Clone, PartialEq, Eq)]
struct Candidates {
    /// Bit `j` of `present[i]`: some name starts with the pair of classes `i`, `j` (see
    /// [`class`]); most pairs of a key are ruled out by it alone.
    present: [u64; CLASSES],
    /// Each first pair of the names (sorted), and the names (as bits of their index) it starts.
    by_pair: Vec<(u16, u64)>,
    /// Names of one letter or digit: candidates for every key.
    single: u64,
    /// More names than bits: no narrowing.
    all: bool,
}

/// Lower-case ASCII letters and digits: the bytes of a name's letters and digits.
const CLASSES: usize = 36;

/// The class of a lower-case ASCII letter or digit.
fn class(byte: u8) -> usize {
    match byte {
        b'a'..=b'z' => usize::from(byte - b'a'),
        _ => 26 + usize::from(byte.wrapping_sub(b'0')) % 10,
    }
}

impl core::fmt::Debug for Candidates {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Candidates")
            .field("pairs", &self.by_pair.len())
            .field("all", &self.all)
            .finish()
    }
}

impl Candidates {
    fn new(names: &[Name]) -> Candidates {
        let mut candidates = Candidates {
            present: [0; CLASSES],
            by_pair: Vec::new(),
            single: 0,
            all: names.len() > 64,
        };
        if candidates.all {
            return candidates;
        }
        for (i, name) in names.iter().enumerate() {
            let bit = 1u64 << i;
            match name.joined.as_bytes() {
                [first, second, ..] if first.is_ascii() && second.is_ascii() => {
                    candidates.present[class(*first)] |= 1 << class(*second);
                    let pair = pair(*first, *second);
                    match candidates.by_pair.binary_search_by_key(&pair, |(p, _)| *p) {
                        Ok(at) => candidates.by_pair[at].1 |= bit,
                        Err(at) => candidates.by_pair.insert(at, (pair, bit)),
                    }
                }
                // One letter, or not ASCII (such a name matches only keys that are not, which
                // are not narrowed): a candidate for every key.
                _ => candidates.single |= bit,
            }
        }
        candidates
    }

    /// The names an ASCII `key` may match, as bits of their index; `None`: any name.
    fn of(&self, key: &[u8]) -> Option<u64> {
        if self.all {
            return None;
        }
        let mut found = self.single;
        let mut look = |first: u8, second: u8| {
            if self.present[class(first)] & (1 << class(second)) != 0 {
                let at = self
                    .by_pair
                    .binary_search_by_key(&pair(first, second), |(p, _)| *p);
                found |= at.map_or(0, |at| self.by_pair[at].1);
            }
        };
        // The pairs of the key's letters and digits, and the pairs that leave out a run of
        // digits (a word's number: `api2_key` matches `api key`).
        let (mut previous, mut before_digits): (Option<u8>, Option<u8>) = (None, None);
        for &byte in key {
            if !byte.is_ascii_alphanumeric() {
                continue;
            }
            let byte = byte.to_ascii_lowercase();
            if let Some(first) = previous {
                look(first, byte);
                let after_digits = first.is_ascii_digit() && !byte.is_ascii_digit();
                if let Some(letter) = before_digits.filter(|_| after_digits) {
                    look(letter, byte);
                }
            }
            if !byte.is_ascii_digit() {
                before_digits = Some(byte);
            }
            previous = Some(byte);
        }
        Some(found)
    }
}

fn pair(first: u8, second: u8) -> u16 {
    u16::from(first) << 8 | u16::from(second)
}

impl Matcher {
    /// A matcher for exactly these names.
    pub fn with_names<I, S>(names: I) -> Result<Matcher, InvalidName>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let names = names
            .into_iter()
            .map(|n| Name::new(n.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Matcher::from_names(names))
    }

    fn from_names(names: Vec<Name>) -> Matcher {
        let candidates = Candidates::new(&names);
        Matcher { names, candidates }
    }

    /// Adds a name.
    pub fn add(&mut self, name: &str) -> Result<(), InvalidName> {
        let name = Name::new(name)?;
        if !self.names.contains(&name) {
            self.names.push(name);
            self.candidates = Candidates::new(&self.names);
        }
        Ok(())
    }

    /// The names, as words separated by spaces.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.names.iter().map(Name::as_words)
    }

    /// Whether `key` matches any of the names.
    pub fn matches(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Whether a URL query parameter named `name` holds a secret: it matches one of the names,
    /// or it is one of [`URL_PARAMETER_NAMES`] as a whole.
    pub fn matches_url_parameter(&self, name: &str) -> bool {
        URL_PARAMETER_NAMES
            .iter()
            .any(|p| name.trim().eq_ignore_ascii_case(p))
            || self.matches(name)
    }

    /// The first name `key` matches.
    pub fn find(&self, key: &str) -> Option<&Name> {
        let narrowed = if key.is_ascii() {
            match self.candidates.of(key.as_bytes()) {
                Some(0) => return None,
                narrowed => narrowed,
            }
        } else {
            None
        };
        match Words::split(key) {
            Some(words) => {
                let Some(mut candidates) = narrowed else {
                    return self.names.iter().find(|n| n.matches(&words));
                };
                // In the names' order, as without the narrowing.
                while candidates != 0 {
                    let name = &self.names[candidates.trailing_zeros() as usize];
                    candidates &= candidates - 1;
                    if name.matches(&words) {
                        return Some(name);
                    }
                }
                None
            }
            None => {
                let key = words(key);
                self.names.iter().find(|n| n.matches_words(&key))
            }
        }
    }
}

impl Name {
    fn matches(&self, key: &Words) -> bool {
        let joined = self.joined.as_bytes();
        // Every way to match puts the name's letters and digits, in a row, among the key's, or
        // among the key's with the digits its words end with left out (`api2_key`): most keys
        // are ruled out here, by one or two scans.
        let contains = |haystack: &[u8]| haystack.windows(joined.len()).any(|w| w == joined);
        if !contains(key.joined()) && !contains(key.unnumbered().joined()) {
            return false;
        }
        let n = self.words.len();
        let count = key.count;
        if n <= count
            && (0..=count - n).any(|start| {
                (0..n).all(|i| same_word(key.word(start + i), self.words[i].as_bytes(), i + 1 == n))
            })
        {
            return true;
        }
        (0..count).any(|i| self.matches_one_word(key.word(i)))
    }
}

/// A word without a trailing `s` (of a plural), if it has one and something before it.
fn singular(word: &[u8]) -> Option<&[u8]> {
    word.strip_suffix(b"s").filter(|w| !w.is_empty())
}

/// A word without the digits it ends with (`cvv2`, `token2`), if it has letters before them.
fn without_digits(word: &[u8]) -> Option<&[u8]> {
    let letters = word.len() - word.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    (letters > 0 && letters < word.len()).then(|| &word[..letters])
}

/// Whether a key's word is a name's word, numbered (`key2`), or (for the name's last word) its
/// plural.
fn same_word(key: &[u8], name: &[u8], last: bool) -> bool {
    key == name || without_digits(key) == Some(name) || (last && singular(key) == Some(name))
}

/// The words of a short ASCII key, lower-cased into a buffer on the stack, and its letters and
/// digits alone.
struct Words {
    bytes: [u8; 128],
    bounds: [(u8, u8); 32],
    count: usize,
    alnum: [u8; 128],
    alnum_len: usize,
}

impl Words {
    fn split(key: &str) -> Option<Words> {
        let key = key.as_bytes();
        if key.len() > 128 || !key.is_ascii() {
            return None;
        }
        let mut words = Words {
            bytes: [0; 128],
            bounds: [(0, 0); 32],
            count: 0,
            alnum: [0; 128],
            alnum_len: 0,
        };
        let mut start: Option<usize> = None;
        for (i, &c) in key.iter().enumerate() {
            let lower = c.to_ascii_lowercase();
            words.bytes[i] = lower;
            if c.is_ascii_alphanumeric() {
                words.alnum[words.alnum_len] = lower;
                words.alnum_len += 1;
            }
            if !c.is_ascii_alphanumeric() {
                if let Some(s) = start.take() {
                    words.push(s, i)?;
                }
                continue;
            }
            let boundary = starts_word(
                i.checked_sub(1).map(|p| char::from(key[p])),
                char::from(c),
                key.get(i + 1).map(|n| char::from(*n)),
            );
            match start {
                Some(s) if boundary => {
                    words.push(s, i)?;
                    start = Some(i);
                }
                None => start = Some(i),
                Some(_) => {}
            }
        }
        if let Some(s) = start {
            words.push(s, key.len())?;
        }
        Some(words)
    }

    fn push(&mut self, start: usize, end: usize) -> Option<()> {
        if self.count == self.bounds.len() {
            return None;
        }
        self.bounds[self.count] = (start as u8, (end - 1) as u8);
        self.count += 1;
        Some(())
    }

    fn word(&self, i: usize) -> &[u8] {
        let (start, last) = self.bounds[i];
        &self.bytes[start as usize..=last as usize]
    }

    fn joined(&self) -> &[u8] {
        &self.alnum[..self.alnum_len]
    }

    /// The key's words, each without the digits it ends with (as [`same_word`] reads them):
    /// its `joined` is what is left of the key's letters and digits. On the stack, as the key.
    fn unnumbered(&self) -> Words {
        let mut out = Words {
            bytes: [0; 128],
            bounds: [(0, 0); 32],
            count: 0,
            alnum: [0; 128],
            alnum_len: 0,
        };
        for i in 0..self.count {
            let word = self.word(i);
            let kept = without_digits(word).unwrap_or(word);
            out.alnum[out.alnum_len..out.alnum_len + kept.len()].copy_from_slice(kept);
            out.alnum_len += kept.len();
        }
        out
    }
}

/// The entry of [`SENSITIVE_NAMES`] that `name` matches, if any.
pub fn sensitive_match(name: &str) -> Option<&'static str> {
    let key = words(name);
    SENSITIVE_NAMES
        .iter()
        .find(|entry| Name::new(entry).is_ok_and(|n| n.matches_words(&key)))
        .copied()
}

/// Whether `name` looks like it holds a secret, by the default list.
pub fn is_sensitive(name: &str) -> bool {
    sensitive_match(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn words_split_like_people_write_names() {
        for (name, expected) in [
            ("api_key", vec!["api", "key"]),
            ("X-Api-Key", vec!["x", "api", "key"]),
            ("apiKey", vec!["api", "key"]),
            ("APIKey", vec!["api", "key"]),
            ("sessionID", vec!["session", "id"]),
            ("aws4Signature", vec!["aws4", "signature"]),
            ("  ", vec![]),
        ] {
            assert_eq!(words(name), expected, "{name}");
        }
    }

    #[test]
    fn secrets_under_their_usual_spellings() {
        for name in [
            "password",
            "Password",
            "new_password",
            "passwordHash",
            "userpassword",
            "passphrase",
            "pwd",
            "credentials",
            "session_id",
            "sessionId",
            "jwt",
            "otp",
            "pin",
            "card_pin",
            "aws_access_key_id",
            "AWS_SECRET_ACCESS_KEY",
            "signature",
            "auth",
            "authToken",
            "authorization",
            "access_token",
            "accesstoken",
            "refresh-token",
            "client_secret",
            "clientsecret",
            "apikey",
            "X-API-KEY",
            "cardNumber",
            "credit_card_number",
            "cvv",
            "ssn",
            "private_key",
            "Cookie",
            "api_keys",
            "apiKeys",
            "access_keys",
            "tokens",
            "refresh_tokens",
            "pins",
            "jwts",
            "passwords",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
    }

    /// One table: how a name is read as a JSON field and as a URL query parameter.
    #[test]
    fn names_as_fields_and_as_url_parameters() {
        let matcher = Matcher::default();
        // (name, masked as a JSON field, masked as a URL parameter)
        for (name, field, parameter) in [
            ("cvv2", true, true),
            ("token2", true, true),
            ("apiKey2", true, true),
            ("password1", true, true),
            ("pass", true, true),
            ("db_pass", true, true),
            ("pw", true, true),
            ("user_pw", true, true),
            ("key", false, true),
            ("KEY", false, true),
            ("sig", false, true),
            ("code", false, true),
            ("signature", true, true),
            ("sort_key", false, false),
            ("primary_key", false, false),
            ("status_code", false, false),
            ("zip_code", false, false),
            ("passport", false, false),
            ("bypass", false, false),
            ("page", false, false),
            ("sku2", false, false),
            ("v2", false, false),
        ] {
            assert_eq!(matcher.matches(name), field, "{name} as a field");
            assert_eq!(is_sensitive(name), field, "{name} by the default list");
            assert_eq!(
                matcher.matches_url_parameter(name),
                parameter,
                "{name} as a URL parameter"
            );
        }
    }

    #[test]
    fn ordinary_names_are_not_secrets() {
        for name in [
            "author",
            "authority",
            "shipping_address",
            "pinned",
            "option",
            "description",
            "quantity",
            "sku",
            "id",
            "tenant_id",
            "user_agent",
            "full_url",
            "primary_key",
            "sort_key",
            "tokenizer_version",
            "authors",
            "options",
            "keys",
            "status",
        ] {
            assert_eq!(sensitive_match(name), None, "{name}");
        }
    }

    #[test]
    fn the_matcher_agrees_with_the_list_without_allocating() {
        let matcher = Matcher::default();
        for name in [
            "X-API-KEY",
            "apiKey",
            "refresh-token",
            "cardNumber",
            "author",
            "shipping_address",
            "sessionID",
            "aws4Signature",
            "pinned",
            "tokenizer_version",
            "passwordHash",
        ] {
            assert_eq!(matcher.matches(name), is_sensitive(name), "{name}");
            // The same through the allocating path (non-ASCII key).
            let long = alloc::format!("{name}_é");
            assert_eq!(matcher.matches(&long), is_sensitive(&long), "{long}");
        }
        let mut custom = Matcher::with_names(["tax id"]).unwrap();
        assert!(custom.matches("customerTaxId") && !custom.matches("password"));
        custom.add("pin").unwrap();
        assert!(custom.matches("card_pin"));
        // A numbered word that is not the last (`api2`): the rule matches it, and so must the
        // narrowing and the substring check in front of it.
        assert!(custom.matches("tax2Id") && custom.matches("customer_tax2_id"));
        assert!(matcher.matches("api2_key") && is_sensitive("api2_key"));
        assert!(matcher.matches("x-Api3-Key") && !matcher.matches("api_2_key"));
        assert_eq!(custom.add("--"), Err(InvalidName));
    }

    proptest::proptest! {
        /// The matcher's fast path (stack buffers, a substring check first) says what the
        /// list says, for keys made of pieces of secret and ordinary names.
        #[test]
        fn the_fast_path_agrees_with_the_rule(
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "pass", "Word", "api", "KEY", "token", "pin", "ship", "_", "-", "x", "Secret",
                    "auth", "or", "ID", "card", "number", "session", "access", "2", "hash",
                ][..]),
                0..6,
            )
        ) {
            let key = pieces.concat();
            proptest::prop_assert_eq!(Matcher::default().matches(&key), is_sensitive(&key), "{}", key);
        }

        /// Narrowing by pairs of letters finds the name the whole list finds first, also with
        /// one-letter names and with more names than it narrows.
        #[test]
        fn narrowing_finds_the_first_name_of_the_list(
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "pass", "Word", "api", "KEY", "tok", "en", "pin", "x", "Q", "_", "tax", "Id",
                    "secret", "2", "s", "card", "42", "-",
                ][..]),
                0..6,
            ),
            many in proptest::bool::ANY,
        ) {
            let mut names: Vec<String> = ["x", "tax id", "en", "word", "card number", "pass"]
                .iter()
                .map(|n| String::from(*n))
                .collect();
            if many {
                names.extend((0..70).map(|i| alloc::format!("name {i}")));
            }
            names.extend(SENSITIVE_NAMES.iter().map(|n| String::from(*n)));
            let matcher = Matcher::with_names(&names).unwrap();
            let key = pieces.concat();
            let listed: Vec<Name> = names.iter().map(|n| Name::new(n).unwrap()).collect();
            let first = listed.iter().find(|n| n.matches_words(&words(&key)));
            proptest::prop_assert_eq!(matcher.find(&key), first, "{}", key);
        }
    }

    #[test]
    fn a_name_needs_a_letter_or_digit() {
        assert_eq!(Name::new(""), Err(InvalidName));
        assert_eq!(Name::new("-_ "), Err(InvalidName));
        assert_eq!(Name::new("Tax-ID").unwrap().as_words(), "tax id");
    }
}
