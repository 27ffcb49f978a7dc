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

#[derive(Default)]
struct Seen {
    count: usize,
    /// Keyed by std's randomly seeded hasher: the keys are request bodies', chosen by clients.
    by_masker: HashMap<u64, HashMap<Box<str>, bool>>,
}

/// Whether `key` matches `matcher`, whose masker has id `masker`.
pub(super) fn matches(masker: u64, matcher: &Matcher, key: &str) -> bool {
    if key.len() > LONGEST {
        return matcher.matches(key);
    }
    SEEN.with(|seen| {
        let Ok(mut seen) = seen.try_borrow_mut() else {
            return matcher.matches(key);
        };
        if let Some(&answer) = seen.by_masker.get(&masker).and_then(|keys| keys.get(key)) {
            return answer;
        }
        let answer = matcher.matches(key);
        if seen.count == CAPACITY {
            *seen = Seen::default();
        }
        seen.count += 1;
        seen.by_masker
            .entry(masker)
            .or_default()
            .insert(key.into(), answer);
        answer
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
            assert!(matches(a, &default, "password") && !matches(a, &default, "sku"));
            assert!(matches(b, &custom, "sku") && !matches(b, &custom, "password"));
        }
        let long = "x".repeat(LONGEST + 1) + "_password";
        assert!(matches(a, &default, &long));
    }

    #[test]
    fn a_full_cache_is_forgotten_and_still_right() {
        let matcher = Matcher::default();
        let id = next_id();
        for i in 0..CAPACITY + 10 {
            let key = format!("field_{i}");
            assert!(!matches(id, &matcher, &key));
        }
        assert!(SEEN.with(|seen| seen.borrow().count) <= CAPACITY);
        assert!(matches(id, &matcher, "api_key"));
    }
}
