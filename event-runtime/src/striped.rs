//! Counts that many threads add to: each thread adds to a stripe of its own, on a cache line of
//! its own, and a reader adds the stripes up. Knows nothing of Kafka.
//!
//! A count every emit and every delivery report changes, kept in one atomic, makes each change
//! wait for the cache line that holds it to come from the core that changed it last: emitting
//! threads and librdkafka's thread on different cores take turns with it record after record.
//! With stripes, a thread's changes stay in its core's cache; only a reader (`stats()`, rare)
//! gathers the lines.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

/// How many stripes a count has: threads past this many share stripes (still fewer meetings
/// than one atomic for all).
pub(crate) const STRIPES: usize = 16;

/// `T` alone on its cache line (128 bytes: adjacent-line prefetchers fetch lines in pairs); used
/// as the `T` it holds.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// This thread's stripe, `0..STRIPES`: threads get them in turn when they first count.
pub(crate) fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        if stripe.get() == usize::MAX {
            stripe.set(NEXT.fetch_add(1, Relaxed) % STRIPES);
        }
        stripe.get()
    })
}

/// A signed sum kept in stripes: [`add`](Self::add) changes this thread's stripe,
/// [`sum`](Self::sum) adds them all up (exact once the adding stops; while it goes on, some
/// changes may be seen before others made earlier on other threads).
#[derive(Default)]
pub(crate) struct StripedSum {
    stripes: [Padded<AtomicI64>; STRIPES],
}

impl StripedSum {
    pub fn add(&self, n: i64) {
        self.stripes[stripe()].fetch_add(n, Relaxed);
    }

    pub fn sum(&self) -> i64 {
        self.stripes.iter().map(|s| s.load(Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_take_stripes_in_turn_and_keep_theirs() {
        let stripes: Vec<(usize, usize)> = (0..2 * STRIPES)
            .map(|_| std::thread::spawn(|| (stripe(), stripe())).join().unwrap())
            .collect();
        // Each thread keeps the stripe it got.
        assert!(stripes.iter().all(|(first, again)| first == again));
        // Consecutive threads get different stripes (other tests' threads may take some in
        // between, so only most are checked to differ).
        let differing = stripes.windows(2).filter(|w| w[0].0 != w[1].0).count();
        assert!(differing >= stripes.len() / 2, "{stripes:?}");
        assert!(stripes.iter().all(|(s, _)| *s < STRIPES));
    }

    #[test]
    fn a_sum_adds_every_threads_changes() {
        let sum = std::sync::Arc::new(StripedSum::default());
        let threads: Vec<_> = (0..40)
            .map(|t| {
                let sum = sum.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        sum.add(t + 1);
                    }
                    // Taken away on another thread's stripe than it was added on, as a
                    // delivery report takes away what an emit added.
                    sum.add(-(t + 1) * 500);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(sum.sum(), (1..=40).map(|t| t * 500).sum::<i64>());
        sum.add(-sum.sum());
        assert_eq!(sum.sum(), 0);
    }

    #[test]
    fn a_stripe_is_a_cache_line_of_its_own() {
        assert_eq!(std::mem::align_of::<Padded<AtomicI64>>(), 128);
        assert_eq!(std::mem::size_of::<StripedSum>(), 128 * STRIPES);
    }
}
