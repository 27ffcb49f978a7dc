//! The matcher's answers for the JSON keys this thread has masked lately: bodies of one API
//! repeat the same few dozen keys, and matching a key against the sensitive names costs far more
//! than looking the answer up. Answers are kept per masker (its id changes with its names) and
//! forgotten all at once when there are too many.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use kafka_events_rules::Matcher;

/// How many answers a thread keeps before it forgets them all.
const CAPACITY: usize = 4096;

/// Keys longer than this are matched every time (they are rarely repeated).
const LONGEST: usize = 64;

/// A new masker id.
pub(super) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

/// One masker's answers, by key: std's randomly seeded SipHash, since the keys are request
/// bodies', chosen by clients.
type Answers = HashMap<Box<[u8]>, bool>;

#[derive(Default)]
struct Seen {
    count: usize,
    /// Per masker (a process has a few: a linear search finds one faster than hashing its id).
    by_masker: Vec<(u64, Answers)>,
}

/// Whether `key` (UTF-8 text) matches `matcher`, whose masker has id `masker`; `None` if `key`
/// is not UTF-8.
pub(super) fn matches(masker: u64, matcher: &Matcher, key: &[u8]) -> Option<bool> {
    let answer = |key: &[u8]| std::str::from_utf8(key).ok().map(|k| matcher.matches(k));
    if key.len() > LONGEST {
        return answer(key);
    }
    SEEN.with(|seen| {
        let Ok(mut seen) = seen.try_borrow_mut() else {
            return answer(key);
        };
        let seen = &mut *seen;
        if seen.count >= CAPACITY {
            *seen = Seen::default();
        }
        let at = match seen.by_masker.iter().position(|(id, _)| *id == masker) {
            Some(at) => at,
            None => {
                seen.by_masker.push((masker, Answers::default()));
                seen.by_masker.len() - 1
            }
        };
        let keys = &mut seen.by_masker[at].1;
        if let Some(&known) = keys.get(key) {
            return Some(known);
        }
        let known = answer(key)?;
        keys.insert(key.into(), known);
        seen.count += 1;
        Some(known)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_the_matchers_and_kept_per_masker() {
        let default = Matcher::default();
        let custom = Matcher::with_names(["sku"]).unwrap();
        let (a, b) = (next_id(), next_id());
        for _ in 0..2 {
            assert!(matches(a, &default, b"password") == Some(true));
            assert!(matches(a, &default, b"sku") == Some(false));
            assert!(matches(b, &custom, b"sku") == Some(true));
            assert!(matches(b, &custom, b"password") == Some(false));
        }
        let long = "x".repeat(LONGEST + 1) + "_password";
        assert_eq!(matches(a, &default, long.as_bytes()), Some(true));
        assert_eq!(matches(a, &default, &[b'p', 0xff]), None);
    }

    #[test]
    fn a_full_cache_is_forgotten_and_still_right() {
        let matcher = Matcher::default();
        let id = next_id();
        for i in 0..CAPACITY + 10 {
            let key = format!("field_{i}");
            assert_eq!(matches(id, &matcher, key.as_bytes()), Some(false));
        }
        assert!(SEEN.with(|seen| seen.borrow().count) <= CAPACITY);
        assert_eq!(matches(id, &matcher, b"api_key"), Some(true));
    }
}
