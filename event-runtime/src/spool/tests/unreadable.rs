//! A segment whose file can't be read: later segments wait for it, a file gone is written back
//! or its records are counted lost, and one bad file does not stop the spool for good.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::super::lock::wait_for_release;
use super::super::store;
use super::super::unreadable::{HOLD, MISSING_GRACE};
use super::super::{Position, Spool, Ticket};
use super::{append, deliver_all, message, next_ticket, open, replay_all};
use crate::flow::lock;
use crate::message::Message;

/// A running spool with records of one key, `a0`, `a1`, …, each filling most of a 1 MiB
/// segment: one segment each.
fn running(n: usize) -> (tempfile::TempDir, Spool) {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    fill(&spool, n);
    (dir, spool)
}

/// The same, left at rest by a spool that was dropped.
fn at_rest(n: usize) -> tempfile::TempDir {
    let (dir, spool) = running(n);
    drop(spool);
    wait_for_release(&fs::canonicalize(dir.path()).unwrap());
    dir
}

fn fill(spool: &Spool, n: usize) {
    for i in 0..n {
        let mut payload = format!("a{i}").into_bytes();
        payload.resize(600_000, b'x');
        append(spool, &message("audit", b"a", &payload, &[]));
    }
    assert!(spool.sync(Duration::from_secs(10)));
}

fn names(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload[..2]).into_owned())
        .collect()
}

/// Puts a directory where segment `id`'s file was (reading it then fails, whoever runs the
/// test); returns where the file went.
fn make_unreadable(dir: &Path, id: u64) -> std::path::PathBuf {
    let path = store::segment_path(dir, id);
    let aside = dir.join(format!("{id}.aside"));
    fs::rename(&path, &aside).unwrap();
    fs::create_dir(&path).unwrap();
    aside
}

fn make_readable(dir: &Path, id: u64, aside: &Path) {
    let path = store::segment_path(dir, id);
    fs::remove_dir(&path).unwrap();
    fs::rename(aside, &path).unwrap();
}

/// As if segment `id` had been unreadable (its file missing, if it is) for `long`.
fn unreadable_for(spool: &Spool, id: u64, long: Duration) {
    let since = Instant::now()
        .checked_sub(long)
        .expect("the machine is up for a minute");
    let mut segs = lock(&spool.inner.segs);
    let seg = segs.map.get_mut(&id).unwrap();
    seg.unreadable_since = Some(since);
    seg.missing_since = Some(since);
}

/// Its load fails.
fn unreadable(spool: &Spool, ticket: &Ticket) {
    assert!(spool.load(ticket, Vec::new()).is_err());
}

/// Waits for the spool's worker to count `n` records lost.
fn wait_lost(spool: &Spool, n: u64) {
    let lost = spool
        .bell()
        .wait_until(Duration::from_secs(10), || spool.counts().lost == n);
    assert!(lost, "{:?}", spool.counts());
}

/// `first` is the ticket of a segment that can be read now: delivers it, then the rest; all
/// done, none lost.
fn deliver_from(spool: &Spool, first: &Ticket) -> Vec<String> {
    let mut out = deliver_all(spool, first);
    out.extend(replay_all(spool));
    assert!(spool.is_empty());
    names(&out)
}

#[test]
fn later_segments_wait_for_one_that_cannot_be_read_until_it_can() {
    let (dir, spool) = running(2);
    let first = spool.next_to_replay().unwrap();
    let aside = make_unreadable(dir.path(), first.segment);
    unreadable(&spool, &first);
    // Which keys it holds is not known: nothing later goes ahead of it, only its own retries.
    for _ in 0..2 {
        let retried = next_ticket(&spool);
        assert_eq!(retried.segment, first.segment, "a1 would overtake a0");
        unreadable(&spool, &retried);
    }
    assert_eq!(spool.counts().unreadable, 1);
    make_readable(dir.path(), first.segment, &aside);
    let readable = next_ticket(&spool);
    assert_eq!(readable.segment, first.segment);
    assert_eq!(deliver_from(&spool, &readable), ["a0", "a1"]);
    assert_eq!((spool.counts().lost, spool.counts().unreadable), (0, 0));
}

#[test]
fn a_segment_unreadable_for_long_lets_later_ones_go_and_is_still_retried() {
    let (dir, spool) = running(2);
    let first = spool.next_to_replay().unwrap();
    let aside = make_unreadable(dir.path(), first.segment);
    unreadable(&spool, &first);
    // As if it had failed for as long as later segments wait: its next failure lets them go.
    unreadable_for(&spool, first.segment, HOLD);
    let later = loop {
        let ticket = next_ticket(&spool);
        if ticket.segment != first.segment {
            break ticket;
        }
        unreadable(&spool, &ticket);
    };
    // Later segments go on; its record stays pending, not lost.
    assert_eq!(names(&deliver_all(&spool, &later)), ["a1"]);
    assert_eq!((spool.counts().pending, spool.counts().lost), (1, 0));
    make_readable(dir.path(), first.segment, &aside);
    let readable = next_ticket(&spool);
    assert_eq!(readable.segment, first.segment);
    assert_eq!(deliver_from(&spool, &readable), ["a0"]);
}

/// A segment file removed while this process keeps it open is written back: nothing is lost.
#[test]
fn a_removed_segment_this_process_holds_open_is_written_back() {
    let (dir, spool) = running(2);
    let first = spool.next_to_replay().unwrap();
    let path = store::segment_path(dir.path(), first.segment);
    fs::remove_file(&path).unwrap();
    unreadable(&spool, &first);
    let back = spool
        .bell()
        .wait_until(Duration::from_secs(10), || path.is_file());
    assert!(back, "not written back");
    let retried = next_ticket(&spool);
    assert_eq!(retried.segment, first.segment);
    assert_eq!(deliver_from(&spool, &retried), ["a0", "a1"]);
    assert_eq!(spool.counts().lost, 0);
}

/// A segment file removed at rest (an earlier run's, which this process never opened): its
/// records are lost, counted, and what was left beside it goes; the spool goes on with the
/// rest instead of retrying it for ever.
#[test]
fn a_segment_removed_at_rest_loses_its_records_and_nothing_else() {
    let dir = at_rest(3);
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 3);
    let first = spool.next_to_replay().unwrap();
    fs::remove_file(store::segment_path(dir.path(), first.segment)).unwrap();
    // A file missing for a moment is not taken for gone.
    unreadable(&spool, &first);
    let retried = next_ticket(&spool);
    assert_eq!(retried.segment, first.segment);
    assert_eq!(spool.counts().lost, 0);
    unreadable_for(&spool, first.segment, MISSING_GRACE);
    unreadable(&spool, &retried);
    wait_lost(&spool, 1);
    assert_eq!(names(&replay_all(&spool)), ["a1", "a2"]);
    assert!(spool.is_empty());
    assert!(!store::index_path(dir.path(), first.segment).exists());
    assert!(!store::acks_path(dir.path(), first.segment).exists());
}

/// A segment file removed while no producer ran, its index left: what the index says it held
/// is counted lost when its turn comes, and the rest is replayed.
#[test]
fn a_segment_removed_while_no_producer_ran_is_counted_from_its_index() {
    let dir = at_rest(2);
    let first = store::list_segments(dir.path()).unwrap()[0];
    assert!(store::index_path(dir.path(), first).exists());
    fs::remove_file(store::segment_path(dir.path(), first)).unwrap();
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 2);
    let ticket = spool.next_to_replay().unwrap();
    assert_eq!(ticket.segment, first);
    unreadable_for(&spool, first, MISSING_GRACE);
    unreadable(&spool, &ticket);
    wait_lost(&spool, 1);
    assert_eq!(names(&replay_all(&spool)), ["a1"]);
    assert!(spool.is_empty());
    assert!(!store::index_path(dir.path(), first).exists());
}

/// A segment an earlier run left, removed before this run could read it: the spool stops
/// waiting for it (new records no longer go behind it) and replays the rest.
#[test]
fn a_segment_removed_before_it_was_checked_is_not_waited_for() {
    let dir = at_rest(2);
    let ids = store::list_segments(dir.path()).unwrap();
    // Without their indexes, the check reads the segments themselves.
    for id in &ids {
        let _ = fs::remove_file(store::index_path(dir.path(), *id));
    }
    let spool = open(dir.path());
    fs::remove_file(store::segment_path(dir.path(), ids[0])).unwrap();
    unreadable_for(&spool, ids[0], MISSING_GRACE);
    assert_eq!(spool.recover(|| false).records, 1);
    let settled = spool
        .bell()
        .wait_until(Duration::from_secs(10), || !spool.has_unchecked());
    assert!(settled, "still waiting for the removed segment");
    assert_eq!(names(&replay_all(&spool)), ["a1"]);
    assert!(spool.is_empty());
    assert!(!spool.has_waiting());
}

/// What a deletion cut short left (the segment file gone, its index and acknowledgements, every
/// record acknowledged, still there): nothing to replay, nothing lost, and the files go.
#[test]
fn what_a_deletion_cut_short_left_is_removed() {
    let dir = at_rest(2);
    let first = store::list_segments(dir.path()).unwrap()[0];
    store::write_acks(dir.path(), first, &[1]).unwrap();
    fs::remove_file(store::segment_path(dir.path(), first)).unwrap();
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 1);
    let gone = spool.bell().wait_until(Duration::from_secs(10), || {
        !store::index_path(dir.path(), first).exists()
            && !store::acks_path(dir.path(), first).exists()
    });
    assert!(gone, "left behind");
    assert_eq!(names(&replay_all(&spool)), ["a1"]);
    assert_eq!(spool.counts().lost, 0);
    assert!(spool.is_empty());
}

/// Segment files removed while records of one of them are with librdkafka: that one is not
/// taken for gone (its records' reports still come), the other's records are lost, and each
/// record ends one way only.
#[test]
fn a_removed_segment_with_records_in_flight_is_not_forgotten() {
    let dir = at_rest(3);
    let spool = open(dir.path());
    spool.recover(|| false);
    let first = spool.next_to_replay().unwrap();
    let loaded = spool.load(&first, Vec::new()).unwrap();
    let (index, _) = loaded.records[0];
    let at = Position {
        segment: first.segment,
        index,
    };
    spool.sending(at);
    spool.sent(first.segment);
    let second = spool.next_to_replay().unwrap();
    for id in [first.segment, second.segment] {
        fs::remove_file(store::segment_path(dir.path(), id)).unwrap();
        unreadable_for(&spool, id, MISSING_GRACE);
    }
    unreadable(&spool, &second);
    wait_lost(&spool, 1);
    spool.delivered(at);
    assert_eq!(names(&replay_all(&spool)), ["a2"]);
    assert!(spool.is_empty());
    assert_eq!(spool.counts().lost, 1, "a0 was delivered");
}

/// The active segment's file removed, the directory and its lock file still there: the worker
/// writes it back (keeping the lock it holds), and its record is replayed.
#[test]
fn a_removed_active_segment_is_written_back() {
    let (dir, spool) = running(1);
    let active = lock(&spool.inner.active).current.as_ref().unwrap().id;
    let path = store::segment_path(dir.path(), active);
    fs::remove_file(&path).unwrap();
    // The worker looks every second.
    let back = spool
        .bell()
        .wait_until(Duration::from_secs(10), || path.is_file());
    assert!(back, "not written back");
    assert_eq!(names(&replay_all(&spool)), ["a0"]);
    assert!(spool.is_empty());
    assert_eq!(spool.counts().lost, 0);
}
