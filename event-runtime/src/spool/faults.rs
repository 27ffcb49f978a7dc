//! The one door of the worker's `fsync`s ([`flush`]), where the spool's unit tests make them
//! fail: a real disk error can't be had on demand. Outside tests it only calls through.

use std::io;

use super::state::Inner;

/// Which `fsync` it is.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fsync {
    /// A mapping in use when the round started.
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
    if inner.faults.fails(which) {
        return Err(io::Error::other("an fsync failure a test asked for"));
    }
    fsync()
}

/// The `fsync`s a test wants failed.
#[cfg(test)]
#[derive(Default)]
pub(super) struct Faults {
    failing: std::sync::Mutex<Vec<Fsync>>,
}

#[cfg(test)]
impl Faults {
    /// Fails every `fsync` of these kinds from now on (none, to stop).
    pub fn fail(&self, which: &[Fsync]) {
        *crate::flow::lock(&self.failing) = which.to_vec();
    }

    fn fails(&self, which: Fsync) -> bool {
        crate::flow::lock(&self.failing).contains(&which)
    }
}
