//! The one door of the worker's `fsync`s ([`flush`]), where the spool's unit tests make them
//! fail, or hold them as a slow disk would: a real disk error or a slow disk can't be had on
//! demand. Outside tests it only calls through.

use std::io;

use super::state::Inner;

/// Which `fsync` it is.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fsync {
    /// A segment mapped when the round started (through its file, while that is open).
    Active,
    /// A sealed segment's file or mapping.
    Sealed,
    /// The spool directory.
    Directory,
}

/// Runs `fsync`, or fails it as a test asked.
#[cfg_attr(not(test), allow(unused_variables))]
pub(super) fn flush(
    inner: &Inner,
    which: Fsync,
    fsync: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    #[cfg(test)]
    inner.faults.wait_while_held(which);
    #[cfg(test)]
    if inner.faults.fails(which) {
        return Err(io::Error::other("an fsync failure a test asked for"));
    }
    fsync()
}

/// The `fsync`s a test wants failed, or held.
#[cfg(test)]
#[derive(Default)]
pub(super) struct Faults {
    failing: std::sync::Mutex<Vec<Fsync>>,
    held: std::sync::Mutex<Held>,
    /// Rung when a hold starts or ends, and when an `fsync` starts waiting on one.
    changed: std::sync::Condvar,
}

/// The kind of `fsync` held, and how many wait on the hold.
#[cfg(test)]
#[derive(Default)]
struct Held {
    which: Option<Fsync>,
    waiting: usize,
}

#[cfg(test)]
impl Faults {
    /// Fails every `fsync` of these kinds from now on (none, to stop).
    pub fn fail(&self, which: &[Fsync]) {
        *crate::flow::lock(&self.failing) = which.to_vec();
    }

    /// Holds every `fsync` of this kind before it starts, as a slow disk would, until
    /// [`Faults::release`].
    pub fn hold(&self, which: Fsync) {
        crate::flow::lock(&self.held).which = Some(which);
        self.changed.notify_all();
    }

    /// Lets the held `fsync`s go.
    pub fn release(&self) {
        crate::flow::lock(&self.held).which = None;
        self.changed.notify_all();
    }

    /// Waits up to `timeout` until an `fsync` waits on the hold; whether one does.
    pub fn wait_held(&self, timeout: std::time::Duration) -> bool {
        let held = crate::flow::lock(&self.held);
        let (held, _) = self
            .changed
            .wait_timeout_while(held, timeout, |h| h.waiting == 0)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.waiting > 0
    }

    fn wait_while_held(&self, which: Fsync) {
        let mut held = crate::flow::lock(&self.held);
        if held.which != Some(which) {
            return;
        }
        held.waiting += 1;
        self.changed.notify_all();
        let mut held = self
            .changed
            .wait_while(held, |h| h.which == Some(which))
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.waiting -= 1;
    }

    fn fails(&self, which: Fsync) -> bool {
        crate::flow::lock(&self.failing).contains(&which)
    }
}
