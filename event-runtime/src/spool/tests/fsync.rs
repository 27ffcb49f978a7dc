//! A failed `fsync` is not taken for a successful one.

use std::time::Duration;

use super::super::faults::Fsync;
use super::super::store::segment_path;
use super::super::{FsyncPolicy, Spool};
use super::{append, config, files_with, messages};

/// A sealed segment whose `fsync` fails keeps its records counted as not on disk, and is
/// written anew (a new file, synced) until that succeeds; then its index is written, as for
/// any other.
#[test]
fn a_sealed_segment_whose_fsync_fails_is_not_counted_as_synced_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spooled_while_failing(dir.path(), &[Fsync::Sealed]);
    // The active segment's `fsync`s succeed; the sealed ones' do not.
    assert!(
        !spool.sync(Duration::from_millis(1500)),
        "counted as synced while a sealed segment's fsync fails"
    );
    assert!(spool.counts().fsync_failures > 0);
    assert!(
        files_with(dir.path(), "idx").is_empty(),
        "no segment is on disk yet"
    );
    heals_written_anew(&spool, dir.path());
    assert!(spool.put_away(Duration::from_secs(10)));
    // Every record is in an indexed segment (a segment the worker makes ahead after the
    // put-away holds none, and is gone once the spool is).
    let indexed: u32 = files_with(dir.path(), "idx")
        .iter()
        .map(|id| {
            super::super::store::read_index(dir.path(), *id)
                .unwrap()
                .records
        })
        .sum();
    assert_eq!(indexed, 200);
    drop(spool);
    super::wait_for_release(dir.path());
    assert_eq!(files_with(dir.path(), "idx"), files_with(dir.path(), "seg"));
    let spool = super::open(dir.path());
    assert_eq!(spool.recover(|| false).records, 200);
    assert_eq!(super::replay_all(&spool), messages(200));
}

/// An `fsync` of the active segment that fails: appends go on filling it while the
/// disk fails, and once an `fsync` succeeds again it is sealed and written anew (not when it
/// fills); no record is counted as on disk until then.
#[test]
fn an_active_segment_whose_fsync_fails_is_written_anew_once_the_disk_answers() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&config(dir.path()).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
    spool.recover(|| false);
    spool.inner.faults.fail(&[Fsync::Active]);
    let messages = messages(3);
    append(&spool, &messages[0]);
    assert!(!spool.sync(Duration::from_millis(1500)));
    append(&spool, &messages[1]);
    assert!(!spool.sync(Duration::from_millis(1500)));
    let active = |spool: &Spool| {
        crate::flow::lock(&spool.inner.active)
            .current
            .as_ref()
            .map(|c| c.id)
    };
    assert_eq!(active(&spool), Some(1), "a segment sealed at every failure");
    heals_written_anew(&spool, dir.path());
    assert_eq!(active(&spool), None, "not sealed");
    // Appends go on in the next segment.
    append(&spool, &messages[2]);
    assert!(spool.sync(Duration::from_secs(10)));
    assert_eq!(super::replay_all(&spool), messages);
}

/// The disk heals: everything is synced, and segment 1 (an `fsync` of it failed) is not by
/// another `fsync` of the same file, which Linux would let succeed whether or not its pages
/// reached the disk, but written anew: a new file (tried a second after the last failure).
fn heals_written_anew(spool: &Spool, dir: &std::path::Path) {
    let first = inode(&segment_path(dir, 1));
    spool.inner.faults.fail(&[]);
    assert!(spool.sync(Duration::from_secs(10)));
    assert_ne!(inode(&segment_path(dir, 1)), first, "not written anew");
}

fn inode(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// A failed `fsync` of the spool directory (segments made since the last one are not on disk
/// for good) holds the count back too, and the directory's is tried again.
#[test]
fn a_failed_fsync_of_the_directory_is_not_counted_as_synced() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spooled_while_failing(dir.path(), &[Fsync::Directory]);
    assert!(!spool.sync(Duration::from_millis(1500)));
    assert!(spool.counts().fsync_failures > 0);
    spool.inner.faults.fail(&[]);
    assert!(spool.sync(Duration::from_secs(10)));
    // None fails after: more records are synced without one counted.
    let failures = spool.counts().fsync_failures;
    append(&spool, &messages(1)[0]);
    assert!(spool.sync(Duration::from_secs(10)));
    assert_eq!(spool.counts().fsync_failures, failures);
}

/// A spool dropped while its `fsync`s fail lets its directory go: the last round tries the
/// sealed segments once more and gives up, and the next start reads them through.
#[test]
fn a_spool_whose_fsyncs_fail_still_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    drop(spooled_while_failing(
        dir.path(),
        &[Fsync::Sealed, Fsync::Active],
    ));
    super::wait_for_release(dir.path());
    let spool = super::open(dir.path());
    assert_eq!(spool.recover(|| false).records, 200);
    assert_eq!(super::replay_all(&spool), messages(200));
}

/// A spool (`fsync` after every append) whose `fsync`s of these kinds fail, holding 200
/// records: more than one 1 MiB segment.
fn spooled_while_failing(dir: &std::path::Path, failing: &[Fsync]) -> Spool {
    let spool = Spool::open(&config(dir).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
    spool.recover(|| false);
    spool.inner.faults.fail(failing);
    for m in &messages(200) {
        append(&spool, m);
    }
    spool
}
