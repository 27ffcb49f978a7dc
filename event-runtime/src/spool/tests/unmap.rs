//! The unmapper: a sealed segment leaves the process's memory while the worker is busy.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::super::faults::Fsync;
use super::super::state::SegState;
use super::super::store::segment_path;
use super::super::{FsyncPolicy, Spool, SpoolConfig};
use super::{append, config, message, replay_all};
use crate::flow::lock;
use crate::message::Message;

/// Whether this process maps `path`.
fn mapped(path: &Path) -> bool {
    let path = fs::canonicalize(path).unwrap();
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|line| line.ends_with(path.to_str().unwrap()))
}

/// A spool in `dir` with an `fsync` after every append.
fn syncing_always(dir: &Path) -> Spool {
    let config = SpoolConfig {
        fsync: FsyncPolicy::Always,
        ..config(dir)
    };
    let spool = Spool::open(&config, 1 << 10).unwrap();
    spool.recover(|| false);
    spool
}

/// Appends the next record of `appended` (its key numbered after those before it).
fn append_next(spool: &Spool, appended: &mut Vec<Message>, bytes: usize) {
    let i = appended.len();
    let record = message("audit", format!("k{i}").as_bytes(), &vec![b'x'; bytes], &[]);
    append(spool, &record);
    appended.push(record);
}

/// Waits until segment `id` of the spool in `dir` is no longer mapped (the unmapper rings the
/// worker's bell once it has unmapped it); whether it went within 10 s.
fn unmapped(spool: &Spool, dir: &Path, id: u64) -> bool {
    let path = segment_path(dir, id);
    spool
        .inner
        .work
        .wait_until(Duration::from_secs(10), || !mapped(&path))
}

/// Nothing is lost on the way: every record appended is synced and replays, in order.
fn synced_and_replayed(spool: &Spool, appended: &[Message]) {
    assert!(
        spool.sync(Duration::from_secs(10)),
        "the fsync did not complete"
    );
    assert_eq!(replay_all(spool), appended);
}

#[test]
fn a_sealed_segment_leaves_memory_while_the_worker_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    // With an `fsync` after every append: the segment is flushed through its file once unmapped.
    let spool = syncing_always(dir.path());
    // The worker stops at the first step of its next round, as it would in a long `fsync` (the
    // first append below rings it: a segment started).
    let worker_busy = lock(&spool.inner.jobs);
    let mut appended = Vec::new();
    let sealed = loop {
        append_next(&spool, &mut appended, 900);
        // The segment is sealed when the next one starts.
        let segs = lock(&spool.inner.segs);
        if let Some((&id, _)) = segs.map.iter().find(|(_, s)| s.state == SegState::Sealed) {
            break id;
        }
    };
    assert!(
        unmapped(&spool, dir.path(), sealed),
        "segment {sealed} is still mapped"
    );
    drop(worker_busy);
    synced_and_replayed(&spool, &appended);
}

/// The segment appends go to when the worker starts an `fsync` is synced through its file, not
/// its mapping: sealed while the disk works, it leaves memory at once rather than when that
/// `fsync` returns (a burst fills segments far faster than a loaded disk syncs one).
#[test]
fn a_segment_sealed_while_its_fsync_runs_leaves_memory_before_that_returns() {
    let dir = tempfile::tempdir().unwrap();
    let spool = syncing_always(dir.path());
    spool.inner.faults.hold(Fsync::Active);
    let held = Released(&spool);
    let mut appended = Vec::new();
    append_next(&spool, &mut appended, 300);
    // The worker's `fsync` of the active segment has started, and waits as on a slow disk.
    assert!(
        spool.inner.faults.wait_held(Duration::from_secs(10)),
        "no fsync of the active segment started"
    );
    let first = lock(&spool.inner.active).current.as_ref().unwrap().id;
    // Appends go on until that segment is sealed.
    while lock(&spool.inner.segs).map[&first].state != SegState::Sealed {
        append_next(&spool, &mut appended, 300);
    }
    assert!(
        unmapped(&spool, dir.path(), first),
        "segment {first} stays mapped while its fsync runs"
    );
    drop(held);
    synced_and_replayed(&spool, &appended);
}

/// Lets the held `fsync`s go when dropped, so that a failed assertion leaves no worker held.
struct Released<'a>(&'a Spool);

impl Drop for Released<'_> {
    fn drop(&mut self) {
        self.0.inner.faults.release();
    }
}
