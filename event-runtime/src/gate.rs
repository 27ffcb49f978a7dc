//! A gate for decisions made on a shared state: a thread passes through it while it acts on
//! what it read, and a thread that changed the state waits at [`Gate::wait_passed`] until
//! every thread that may have read the old state has finished acting on it. Knows nothing of
//! Kafka.
//!
//! A pass costs an atomic increment and decrement on this thread's own stripe, and a fence. The
//! waiting side is rare and may block: the crate's own threads only.
//!
//! Why it holds: [`Gate::pass`] counts the pass, then a `SeqCst` fence, then the caller reads
//! the state; [`Gate::wait_passed`] is called after the change is made (it happens before the
//! call), then a `SeqCst` fence, then the counts are read. Of the two fences one comes first:
//! either the waiter's reads see the pass counted (and wait for it to end), or the passing
//! thread's reads see the changed state.

use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use crate::striped::{Padded, STRIPES, stripe};

#[derive(Default)]
pub(crate) struct Gate {
    /// Passes under way, by the stripe of the thread that made them.
    passing: [Padded<AtomicU64>; STRIPES],
}

/// A pass through a [`Gate`]: over when dropped.
#[must_use = "the pass is over when it is dropped"]
pub(crate) struct Pass<'a> {
    count: &'a AtomicU64,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Release);
    }
}

impl Gate {
    /// Starts a pass; read the state after this, and act on it before dropping the pass. The
    /// pass must not wait for anything that may wait for [`Gate::wait_passed`].
    pub fn pass(&self) -> Pass<'_> {
        let count = &*self.passing[stripe()];
        count.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        Pass { count }
    }

    /// Waits until every pass that started before this call is over: call it after changing
    /// the state. Passes that start meanwhile read the changed state; a stripe is looked at
    /// until it has been seen with no pass under way once, so new passes can't keep it waiting
    /// for long. Returns false when `timeout` passed first. Blocks: for the crate's own threads.
    pub fn wait_passed(&self, timeout: Duration) -> bool {
        fence(Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        for count in &self.passing {
            let mut spins = 0u32;
            while count.load(Ordering::Acquire) != 0 {
                if Instant::now() >= deadline {
                    return false;
                }
                // A pass is a few hundred nanoseconds, unless its thread was descheduled.
                if spins < 64 {
                    std::thread::yield_now();
                    spins += 1;
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    #[test]
    fn the_waiter_waits_for_a_pass_under_way_and_no_longer() {
        let gate = Arc::new(Gate::default());
        assert!(gate.wait_passed(Duration::ZERO), "no pass under way");
        let (entered, in_pass) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let passing = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                let pass = gate.pass();
                entered.send(()).unwrap();
                released.recv().unwrap();
                drop(pass);
            })
        };
        in_pass.recv().unwrap();
        assert!(
            !gate.wait_passed(Duration::from_millis(20)),
            "a pass is under way"
        );
        release.send(()).unwrap();
        assert!(gate.wait_passed(Duration::from_secs(30)));
        passing.join().unwrap();
    }

    /// Many threads read a flag inside a pass and record what they did; once the flag is set
    /// and the waiter is through, no thread that read it unset is still acting.
    #[test]
    fn after_the_wait_no_thread_acts_on_the_old_state() {
        let gate = Arc::new(Gate::default());
        let flag = Arc::new(AtomicBool::new(false));
        let acting_on_old = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (gate, flag, acting_on_old, stop) = (
                    gate.clone(),
                    flag.clone(),
                    acting_on_old.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let pass = gate.pass();
                        if !flag.load(Ordering::Acquire) {
                            acting_on_old.fetch_add(1, Ordering::AcqRel);
                            std::hint::spin_loop();
                            acting_on_old.fetch_sub(1, Ordering::AcqRel);
                        }
                        drop(pass);
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            flag.store(false, Ordering::Release);
            std::thread::yield_now();
            flag.store(true, Ordering::Release);
            assert!(gate.wait_passed(Duration::from_secs(30)));
            assert_eq!(acting_on_old.load(Ordering::Acquire), 0);
        }
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
