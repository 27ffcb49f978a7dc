//! The unmapper: a sealed segment leaves the process's memory while the worker is busy.

use std::fs;
use std::time::Duration;

use super::super::faults::Fsync;
use super::super::state::SegState;
use super::super::store::segment_path;
use super::super::{FsyncPolicy, Spool, SpoolConfig};
use super::{append, config, message, replay_all};
use crate::flow::lock;

/// Whether this process maps `path`.
fn mapped(path: &std::path::Path) -> bool {
    let path = fs::canonicalize(path).unwrap();
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|line| line.ends_with(path.to_str().unwrap()))
}

#[test]
fn a_sealed_segment_leaves_memory_while_the_worker_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    // With an `fsync` after every append: the segment is flushed through its file once unmapped.
    let config = SpoolConfig {
        fsync: FsyncPolicy::Always,
        ..config(dir.path())
    };
    let spool = Spool::open(&config, 1 << 10).unwrap();
    spool.recover(|| false);
    // The worker stops at the first step of its next round, as it would in a long `fsync` (the
    // first append below rings it: a segment started).
    let worker_busy = lock(&spool.inner.jobs);
    let mut appended = Vec::new();
    let sealed = loop {
        let i = appended.len();
        let record = message("audit", format!("k{i}").as_bytes(), &[b'x'; 900], &[]);
        append(&spool, &record);
        appended.push(record);
        // The segment is sealed when the next one starts.
        let segs = lock(&spool.inner.segs);
        if let Some((&id, _)) = segs.map.iter().find(|(_, s)| s.state == SegState::Sealed) {
            break id;
        }
    };
    let path = segment_path(dir.path(), sealed);
    // The unmapper rings the worker's bell once it has unmapped it.
    let gone = spool
        .inner
        .work
        .wait_until(Duration::from_secs(10), || !mapped(&path));
    assert!(gone, "{} is still mapped", path.display());
    drop(worker_busy);
    // Nothing is lost on the way: the worker syncs it and every record replays, in order.
    assert!(
        spool.sync(Duration::from_secs(10)),
        "the fsync did not complete"
    );
    assert_eq!(replay_all(&spool), appended);
}

/// The segment appends go to when the worker starts an `fsync` is synced through its file, not
/// its mapping: sealed while the disk works, it leaves memory at once rather than when that
/// `fsync` returns (a burst fills segments far faster than a loaded disk syncs one).
#[test]
fn a_segment_sealed_while_its_fsync_runs_leaves_memory_before_that_returns() {
    let dir = tempfile::tempdir().unwrap();
    let config = SpoolConfig {
        fsync: FsyncPolicy::Always,
        ..config(dir.path())
    };
    let spool = Spool::open(&config, 1 << 10).unwrap();
    spool.recover(|| false);
    spool.inner.faults.hold(Fsync::Active);
    let held = Released(&spool);
    let mut appended = Vec::new();
    let append_one = |appended: &mut Vec<_>| {
        let i = appended.len();
        let record = message("audit", format!("k{i}").as_bytes(), &[b'x'; 300], &[]);
        append(&spool, &record);
        appended.push(record);
    };
    append_one(&mut appended);
    // The worker's `fsync` of the active segment has started, and waits as on a slow disk.
    assert!(
        spool.inner.faults.wait_held(Duration::from_secs(10)),
        "no fsync of the active segment started"
    );
    let first = lock(&spool.inner.active).current.as_ref().unwrap().id;
    // Appends go on until that segment is sealed.
    while lock(&spool.inner.segs).map[&first].state != SegState::Sealed {
        append_one(&mut appended);
    }
    let path = segment_path(dir.path(), first);
    // The unmapper rings the worker's bell once it has unmapped it.
    let gone = spool
        .inner
        .work
        .wait_until(Duration::from_secs(10), || !mapped(&path));
    assert!(gone, "{} stays mapped while its fsync runs", path.display());
    drop(held);
    // Nothing is lost on the way: every record is synced and replays, in order.
    assert!(
        spool.sync(Duration::from_secs(10)),
        "the fsync did not complete"
    );
    assert_eq!(replay_all(&spool), appended);
}

/// Lets the held `fsync`s go when dropped, so that a failed assertion leaves no worker held.
struct Released<'a>(&'a Spool);

impl Drop for Released<'_> {
    fn drop(&mut self) {
        self.0.inner.faults.release();
    }
}
