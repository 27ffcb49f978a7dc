//! The matcher's answers for the JSON keys this thread has masked lately: bodies of one API
//! repeat the same few dozen keys, and matching a key against the sensitive names costs far more
//! than looking the answer up. Answers are kept per masker (its id changes with its names) and
//! forgotten all at once when there are too many.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use kafka_events_rules::Matcher;

/// How many answers a thread keeps before it forgets them all.
const CAPACITY: usize = 4096;

/// Keys longer than this are matched every time (they are rarely repeated).
const LONGEST: usize = 64;

/// How many keys of the last body are kept in order.
const SEQUENCE: usize = 256;

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
    /// Per masker (a process has a few: a linear search finds one faster than hashing its id).
    by_masker: Vec<(u64, Answers)>,
}

/// One masker's answers.
#[derive(Default)]
struct Answers {
    /// By key: std's randomly seeded SipHash, since the keys are request bodies', chosen by
    /// clients.
    by_key: HashMap<Rc<[u8]>, bool>,
    /// The keys of the last body this masker read on this thread, in order, with their
    /// answers: bodies sent to one endpoint repeat the same keys in the same order, and
    /// comparing a key with the one at its place costs less than hashing it. Only a hint: a
    /// key is answered from here only when it is the same key.
    last_body: Vec<(Rc<[u8]>, bool)>,
}

/// Where a body's scan is among its keys (see [`Answers::last_body`]).
pub(super) struct Cursor(Option<usize>);

impl Cursor {
    /// For a body.
    pub fn body() -> Cursor {
        Cursor(Some(0))
    }

    /// For JSON inside a string of a body, whose keys are not where the body's keys were.
    pub fn nested() -> Cursor {
        Cursor(None)
    }

    /// Past a key answered elsewhere.
    pub fn skip(&mut self) {
        self.next();
    }

    fn next(&mut self) -> Option<usize> {
        let at = self.0?;
        self.0 = Some(at + 1);
        Some(at)
    }
}

/// This thread's answers for one masker, borrowed for a whole body (the thread-local taken and
/// the masker's answers found once, not at every key). Without them (a scan inside a scan on
/// this thread, or the thread's storage gone), each key is asked of the matcher, with no cache.
pub(super) struct Known<'a> {
    /// The thread's answers, and where this masker's are among them once it has any (a place
    /// is made with the first answer kept, so every masker kept holds a counted answer).
    seen: Option<(&'a mut Seen, Option<usize>)>,
    masker: u64,
}

/// Runs `f` with this thread's answers for `masker` (a masker's id).
pub(super) fn with<R>(masker: u64, f: impl FnOnce(&mut Known<'_>) -> R) -> R {
    let mut f = Some(f);
    let mut run = |seen: Option<&mut Seen>| {
        let seen = seen.map(|seen| {
            if seen.count >= CAPACITY {
                *seen = Seen::default();
            }
            let index = seen.by_masker.iter().position(|(id, _)| *id == masker);
            (seen, index)
        });
        (f.take().expect("run once"))(&mut Known { seen, masker })
    };
    let result = SEEN.try_with(|seen| match seen.try_borrow_mut() {
        Ok(mut seen) => run(Some(&mut seen)),
        Err(_) => run(None),
    });
    result.unwrap_or_else(|_| run(None))
}

impl Known<'_> {
    /// Whether `key` (UTF-8 text) matches `matcher`, whose masker's answers these are; `None`
    /// if `key` is not UTF-8. `cursor` is where the key is among its body's keys.
    pub fn matches(&mut self, matcher: &Matcher, key: &[u8], cursor: &mut Cursor) -> Option<bool> {
        let at = cursor.next();
        let masker = self.masker;
        let answer = |key: &[u8]| std::str::from_utf8(key).ok().map(|k| matcher.matches(k));
        let Some((seen, index)) = self.seen.as_mut().filter(|_| key.len() <= LONGEST) else {
            return answer(key);
        };
        let place = at.filter(|at| *at < SEQUENCE);
        if let Some(index) = *index {
            let answers = &seen.by_masker[index].1;
            // The same key at the same place as in the last body: answered without hashing it.
            if let Some(&(ref known, answer)) = place.and_then(|at| answers.last_body.get(at))
                && **known == *key
            {
                return Some(answer);
            }
        }
        let found = index.and_then(|index| {
            let (shared, &known) = seen.by_masker[index].1.by_key.get_key_value(key)?;
            Some((index, shared.clone(), known))
        });
        let (index, shared, known) = match found {
            Some(found) => found,
            None => {
                let known = answer(key)?;
                if seen.count >= CAPACITY {
                    // Forgotten all at once.
                    **seen = Seen::default();
                    *index = None;
                }
                let at = *index.get_or_insert_with(|| {
                    seen.by_masker.push((masker, Answers::default()));
                    seen.by_masker.len() - 1
                });
                let shared: Rc<[u8]> = key.into();
                seen.by_masker[at].1.by_key.insert(shared.clone(), known);
                seen.count += 1;
                (at, shared, known)
            }
        };
        let last = &mut seen.by_masker[index].1.last_body;
        match place {
            Some(at) if at < last.len() => last[at] = (shared, known),
            Some(at) if at == last.len() => last.push((shared, known)),
            _ => {}
        }
        Some(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(masker: u64, matcher: &Matcher, key: &[u8]) -> Option<bool> {
        with(masker, |known| {
            known.matches(matcher, key, &mut Cursor::nested())
        })
    }

    #[test]
    fn answers_are_the_matchers_and_kept_per_masker() {
        let default = Matcher::default();
        let custom = Matcher::with_names(["sku"]).unwrap();
        let (a, b) = (next_id(), next_id());
        for _ in 0..2 {
            assert!(ask(a, &default, b"password") == Some(true));
            assert!(ask(a, &default, b"sku") == Some(false));
            assert!(ask(b, &custom, b"sku") == Some(true));
            assert!(ask(b, &custom, b"password") == Some(false));
        }
        let long = "x".repeat(LONGEST + 1) + "_password";
        assert_eq!(ask(a, &default, long.as_bytes()), Some(true));
        assert_eq!(ask(a, &default, &[b'p', 0xff]), None);
    }

    /// The last body's keys are a hint only: bodies whose keys come in another order, fewer or
    /// more of them, or other keys at the same places, get the matcher's answers.
    #[test]
    fn bodies_with_keys_in_any_order_get_the_matchers_answers() {
        let matcher = Matcher::default();
        let id = next_id();
        let bodies: [&[&str]; 6] = [
            &["sku", "password", "notes"],
            &["sku", "password", "notes"],
            &["password", "sku"],
            &["sku", "api_key", "notes", "token", "id"],
            &["sku", "password", "notes", "token"],
            &["id"],
        ];
        for _ in 0..2 {
            for body in bodies {
                let mut cursor = Cursor::body();
                with(id, |known| {
                    for key in body {
                        let answer = known.matches(&matcher, key.as_bytes(), &mut cursor);
                        assert_eq!(answer, Some(matcher.matches(key)), "{key} in {body:?}");
                    }
                });
            }
        }
    }

    /// A masker whose bodies give no key to keep (not JSON, no keys, only long keys) leaves
    /// nothing behind: the maskers kept are bounded by the answers kept.
    #[test]
    fn bodies_without_keys_leave_no_answers() {
        let matcher = Matcher::default();
        let long = "k".repeat(LONGEST + 1);
        for _ in 0..100 {
            with(next_id(), |known| {
                known.matches(&matcher, long.as_bytes(), &mut Cursor::body());
            });
        }
        assert!(SEEN.with(|seen| seen.borrow().by_masker.is_empty()));
        assert_eq!(ask(next_id(), &matcher, b"sku"), Some(false));
        assert_eq!(SEEN.with(|seen| seen.borrow().by_masker.len()), 1);
    }

    /// While a body's scan holds the thread's answers, a scan started inside it (on the same
    /// thread) matches every key instead.
    #[test]
    fn a_scan_inside_a_scan_gets_the_matchers_answers() {
        let matcher = Matcher::default();
        let id = next_id();
        with(id, |outer| {
            let mut cursor = Cursor::body();
            assert_eq!(
                outer.matches(&matcher, b"password", &mut cursor),
                Some(true)
            );
            with(id, |inner| {
                assert!(inner.seen.is_none());
                for (key, sensitive) in [(&b"password"[..], true), (b"sku", false)] {
                    let answer = inner.matches(&matcher, key, &mut Cursor::body());
                    assert_eq!(answer, Some(sensitive));
                }
            });
            assert_eq!(outer.matches(&matcher, b"sku", &mut cursor), Some(false));
        });
    }

    #[test]
    fn a_full_cache_is_forgotten_and_still_right() {
        let matcher = Matcher::default();
        let id = next_id();
        let mut cursor = Cursor::body();
        // One body with more keys than the cache holds: it is forgotten during the body, once.
        with(id, |known| {
            let before = known.seen.as_ref().map(|(seen, _)| seen.count).unwrap();
            for i in 0..CAPACITY + 10 {
                let key = format!("field_{i}");
                assert_eq!(
                    known.matches(&matcher, key.as_bytes(), &mut cursor),
                    Some(false)
                );
            }
            assert_eq!(
                known.matches(&matcher, b"api_key", &mut Cursor::nested()),
                Some(true)
            );
            let after = known.seen.as_ref().map(|(seen, _)| seen.count).unwrap();
            // CAPACITY + 11 answers kept, CAPACITY of them forgotten at once on the way.
            assert_eq!(after, before + 11);
        });
        assert!(SEEN.with(|seen| seen.borrow().count) <= CAPACITY);
        assert_eq!(ask(id, &matcher, b"api_key"), Some(true));
    }
}
