//! A failed `fsync` is not taken for a successful one.

use std::time::Duration;

use super::super::faults::Fsync;
use super::super::{FsyncPolicy, Spool};
use super::{append, config, files_with, messages};

/// A sealed segment whose `fsync` fails keeps its records counted as not on disk, and is
/// tried again until an `fsync` of it succeeds; then its index is written, as for any other.
#[test]
fn a_sealed_segment_whose_fsync_fails_is_not_counted_as_synced_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&config(dir.path()).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
    spool.recover(|| false);
    spool.inner.faults.fail(&[Fsync::Sealed]);
    // 1 MiB segments: these fill more than one.
    for m in &messages(200) {
        append(&spool, m);
    }
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
    spool.inner.faults.fail(&[]);
    // Retried a second after the last failure.
    assert!(spool.sync(Duration::from_secs(10)));
    assert!(spool.put_away(Duration::from_secs(10)));
    assert_eq!(files_with(dir.path(), "idx"), files_with(dir.path(), "seg"));
}

/// A failed `fsync` of the spool directory (segments made since the last one are not on disk
/// for good) holds the count back too, and the directory's is tried again.
#[test]
fn a_failed_fsync_of_the_directory_is_not_counted_as_synced() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&config(dir.path()).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
    spool.recover(|| false);
    spool.inner.faults.fail(&[Fsync::Directory]);
    for m in &messages(200) {
        append(&spool, m);
    }
    assert!(!spool.sync(Duration::from_millis(1500)));
    let failures = spool.counts().fsync_failures;
    assert!(failures > 0);
    spool.inner.faults.fail(&[]);
    assert!(spool.sync(Duration::from_secs(10)));
    assert_eq!(spool.counts().fsync_failures, failures);
}

/// A spool dropped while its `fsync`s fail lets its directory go: the last round tries the
/// sealed segments once more and gives up, and the next start reads them through.
#[test]
fn a_spool_whose_fsyncs_fail_still_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(200);
    {
        let spool = Spool::open(&config(dir.path()).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
        spool.recover(|| false);
        spool.inner.faults.fail(&[Fsync::Sealed, Fsync::Active]);
        for m in &messages {
            append(&spool, m);
        }
    }
    super::wait_for_release(dir.path());
    let spool = super::open(dir.path());
    assert_eq!(spool.recover(|| false).records, 200);
    assert_eq!(super::replay_all(&spool), messages);
}
