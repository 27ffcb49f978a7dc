use std::fs;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::codec::{self, FILE_HEADER};
use super::lock::wait_for_release;
use super::state::SPARES;
use super::*;
use crate::message::{Header, Message};

fn message(topic: &str, key: &[u8], payload: &[u8], headers: &[(&str, &[u8])]) -> Message {
    Message {
        topic: topic.to_owned().into(),
        key: key.to_vec(),
        payload: payload.to_vec(),
        headers: headers
            .iter()
            .map(|(n, v)| Header::new(n.to_string(), v.to_vec()))
            .collect(),
    }
}

fn config(dir: &Path) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_owned(),
        fsync: FsyncPolicy::Never,
        // The smallest a segment gets.
        segment_bytes: 0,
        durability: Durability::OnFailure,
    }
}

fn open(dir: &Path) -> Spool {
    Spool::open(&config(dir), 1 << 10).unwrap()
}

/// Appends (a burst faster than the worker waits for a segment in memory, in order).
fn append(spool: &Spool, m: &Message) {
    m.with_ref(|m| spool.append(m, false, Caller::Emitter))
        .unwrap();
}

/// Takes every pending record out, as replay would with a broker that acknowledges all.
fn replay_all(spool: &Spool) -> Vec<Message> {
    // Records still waiting for a segment are written to one first.
    assert!(spool.sync(Duration::from_secs(10)));
    let mut out = Vec::new();
    while let Some(ticket) = spool.next_to_replay() {
        out.extend(deliver_all(spool, &ticket));
    }
    out
}

/// Loads a ticket's records and has the broker acknowledge each; returns them.
fn deliver_all(spool: &Spool, ticket: &crate::spool::Ticket) -> Vec<Message> {
    // Into a buffer used before, as replay's is: longer than the segment, and not zeros.
    let used = vec![0xa5; (2 << 20) + 7];
    let loaded = spool.load(ticket, used).unwrap();
    let mut out = Vec::new();
    let mut headers = Vec::new();
    for (index, span) in &loaded.records {
        out.push(loaded.record(*span, &mut headers).unwrap().into());
        let position = Position {
            segment: ticket.segment,
            index: *index,
        };
        spool.sending(position);
        spool.delivered(position);
    }
    spool.sent(ticket.segment);
    out
}

/// The first record of a ticket fails (it comes back undelivered).
fn fail_first(spool: &Spool, ticket: &crate::spool::Ticket) {
    let position = Position {
        segment: ticket.segment,
        index: 0,
    };
    spool.sending(position);
    spool.release(position);
    spool.sent(ticket.segment);
}

/// The next segment to replay, once there is one (a segment retried after a failure is ready
/// after a pause, with no bell rung).
fn next_ticket(spool: &Spool) -> crate::spool::Ticket {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(ticket) = spool.next_to_replay() {
            return ticket;
        }
        assert!(std::time::Instant::now() < deadline, "no segment to replay");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn segment_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count()
}

/// Waits until the worker deleted finished segments (it runs on its own thread and rings the
/// spool's bell when it did).
fn wait_for_segments(spool: &Spool, dir: &Path, at_most: usize) {
    let deleted = spool
        .bell()
        .wait_until(Duration::from_secs(10), || segment_files(dir) <= at_most);
    assert!(deleted, "segments not deleted");
}

fn messages(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            message(
                "audit",
                format!("k{i}").as_bytes(),
                &vec![b'x'; i * 107],
                &[
                    ("content-type", b"application/json"),
                    ("event-type", b"audit.log"),
                ],
            )
        })
        .collect()
}

#[test]
fn round_trip_in_order_across_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(200);
    {
        let spool = open(dir.path());
        assert_eq!(spool.recover(|| false), &SpoolRecovery::default());
        for m in &messages {
            append(&spool, m);
        }
        assert_eq!(spool.counts().pending, 200);
    }
    let spool = open(dir.path());
    let recovery = spool.recover(|| false).clone();
    assert_eq!(recovery.records, 200);
    assert!(recovery.segments > 1, "1 MiB segments roll over");
    assert_eq!(replay_all(&spool), messages);
    assert!(spool.is_empty());
    drop(spool);
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 0);
}

#[test]
fn an_acknowledged_record_is_not_sent_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(10);
    {
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages {
            append(&spool, m);
        }
        let ticket = spool.next_to_replay().unwrap();
        let loaded = spool.load(&ticket, Vec::new()).unwrap();
        // Records 0, 3 and 7 are acknowledged; 5 failed (stays); the rest never got a report.
        for index in [0, 3, 5, 7] {
            let position = Position {
                segment: ticket.segment,
                index,
            };
            spool.sending(position);
            if index == 5 {
                spool.release(position);
            } else {
                spool.delivered(position);
            }
        }
        assert_eq!(loaded.records.len(), 10);
        spool.sent(ticket.segment);
        // Within this run, only the 7 not acknowledged are replayed (after a pause, as after
        // any failure).
        let mut again = None;
        assert!(spool.bell().wait_until(Duration::from_secs(10), || {
            again = spool.next_to_replay();
            again.is_some()
        }));
        let again = again.unwrap();
        assert_eq!(spool.load(&again, Vec::new()).unwrap().records.len(), 7);
    }
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 7);
    let expected: Vec<Message> = messages
        .iter()
        .enumerate()
        .filter(|(i, _)| ![0, 3, 7].contains(i))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(replay_all(&spool), expected);
}

#[test]
fn finished_segments_are_deleted_and_an_undeletable_one_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    for m in &messages(150) {
        append(&spool, m);
    }
    assert_eq!(replay_all(&spool).len(), 150);
    // Only the spare segments are left, and the active one (replayed in place: it stays until
    // it is full or the spool closes).
    wait_for_segments(&spool, dir.path(), SPARES + 1);
    assert!(spool.next_to_replay().is_none());
    drop(spool);
    wait_for_release(&fs::canonicalize(dir.path()).unwrap());
    assert_eq!(segment_files(dir.path()), 0);
}

#[test]
fn a_burst_faster_than_the_worker_is_never_refused_and_keeps_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    // Twenty 1 MiB segments' worth, faster than the worker makes segments ahead.
    let burst: Vec<Message> = (0..200u32)
        .map(|i| message("audit", &i.to_be_bytes(), &vec![1u8; 100_000], &[]))
        .collect();
    // A thread that may wait (not an async runtime's) waits when the records waiting for a
    // segment fill their memory.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    for m in &burst {
        m.with_ref(|m| spool.append(m, false, Caller::MayWaitUntil(until)))
            .expect("never refused for want of a segment");
    }
    assert_eq!(spool.counts().pending, 200);
    assert_eq!(replay_all(&spool), burst);
}

/// A worker stuck on a slow disk (here: on a lock it takes at the start of each round) does not
/// keep the spool from making segments: records go into segments, none waits in memory.
#[test]
fn segments_are_made_while_the_worker_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let stuck = crate::flow::lock(&spool.inner.jobs);
    // Ten times the segments made ahead at first, 1 MiB each.
    let big = message("audit", b"k", &vec![1u8; 100_000], &[]);
    for i in 0..SPARES * 10 * 10 {
        let ready = spool.bell().wait_until(Duration::from_secs(10), || {
            !crate::flow::lock(&spool.inner.active).spare.is_empty()
        });
        assert!(
            ready,
            "no segment made for record {i} while the worker is stuck"
        );
        let appended = big.with_ref(|m| spool.append(m, false, Caller::Emitter));
        assert!(matches!(appended, Ok(Appended::At(_))), "record {i}");
    }
    drop(stuck);
    assert_eq!(spool.counts().pending, (SPARES * 100) as u64);
}

#[test]
fn a_segment_that_keeps_failing_does_not_hold_up_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let messages = messages(4);
    append(&spool, &messages[0]);
    // Read in place from the active segment.
    let first = spool.next_to_replay().unwrap();
    assert_eq!(spool.load(&first, Vec::new()).unwrap().records.len(), 1);
    // Its record fails.
    fail_first(&spool, &first);
    // The segment is sealed at once, and pauses.
    assert!(spool.next_to_replay().is_none());
    for m in &messages[1..] {
        append(&spool, m);
    }
    // The next segment is replayed while the first one pauses.
    let second = spool.next_to_replay().unwrap();
    assert_ne!(second.segment, first.segment);
    assert_eq!(spool.load(&second, Vec::new()).unwrap().records.len(), 3);
}

/// A key an older segment holds (its record failed) waits in the active segment read in place,
/// while other keys go on; once the older record is delivered, the held ones follow it.
#[test]
fn records_held_back_in_place_follow_the_older_record_of_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let deliver = |ticket: &crate::spool::Ticket, out: &mut Vec<Vec<u8>>| {
        out.extend(deliver_all(&spool, ticket).into_iter().map(|m| m.payload));
    };
    append(&spool, &message("audit", b"a", b"a0", &[]));
    let first = spool.next_to_replay().unwrap();
    assert_eq!(spool.load(&first, Vec::new()).unwrap().records.len(), 1);
    fail_first(&spool, &first);
    // "a0" failed: its segment is sealed and pauses, holding key "a".
    assert!(spool.next_to_replay().is_none());
    append(&spool, &message("audit", b"a", b"a1", &[]));
    append(&spool, &message("audit", b"b", b"b0", &[]));
    let mut out = Vec::new();
    let second = spool.next_to_replay().unwrap();
    assert_ne!(second.segment, first.segment);
    deliver(&second, &mut out);
    assert_eq!(out, [b"b0".to_vec()], "key b goes on, a1 waits");
    // Nothing more to do until "a0" is retried (no busy turn over the held record).
    assert!(spool.next_to_replay().is_none());
    let retry = next_ticket(&spool);
    assert_eq!(retry.segment, first.segment);
    deliver(&retry, &mut out);
    let last = spool.next_to_replay().unwrap();
    assert_eq!(last.segment, second.segment);
    deliver(&last, &mut out);
    assert_eq!(out, [b"b0".to_vec(), b"a0".to_vec(), b"a1".to_vec()]);
    assert!(spool.is_empty());
}

/// A record fails while the rest of its segment's replay is still with librdkafka: until that
/// replay ends (and its segment holds the key), no later segment is replayed, so no later
/// record of the key overtakes it.
#[test]
fn nothing_later_is_replayed_while_a_failed_replay_has_not_ended() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let big = vec![b'x'; 600_000];
    append(&spool, &message("audit", b"a", b"a0", &[]));
    append(&spool, &message("audit", b"x", &big, &[]));
    // Too large for the first segment's room: the second segment.
    append(&spool, &message("audit", b"a", &big, &[]));
    let first = spool.next_to_replay().unwrap();
    let loaded = spool.load(&first, Vec::new()).unwrap();
    assert_eq!(loaded.records.len(), 2);
    let at = |index| Position {
        segment: first.segment,
        index,
    };
    spool.sending(at(0));
    spool.sending(at(1));
    spool.release(at(0));
    spool.sent(first.segment);
    // "a0" failed; "x" is still with librdkafka.
    assert!(spool.next_to_replay().is_none(), "a1 would overtake a0");
    spool.delivered(at(1));
    // The replay ended: the first segment holds key "a", and pauses.
    let second = spool.next_to_replay().unwrap();
    assert_ne!(second.segment, first.segment);
    assert!(spool.load(&second, Vec::new()).unwrap().records.is_empty());
}

#[test]
fn the_active_segment_is_replayed_in_place_as_records_come() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let messages = messages(30);
    let mut replayed = Vec::new();
    let mut segments = std::collections::BTreeSet::new();
    // A replay that keeps up with a steady stream: a few records at a time.
    for chunk in messages.chunks(3) {
        for m in chunk {
            append(&spool, m);
        }
        let ticket = spool.next_to_replay().unwrap();
        segments.insert(ticket.segment);
        let delivered = deliver_all(&spool, &ticket);
        assert_eq!(delivered.len(), chunk.len(), "only the new records");
        replayed.extend(delivered);
        assert!(spool.is_empty());
    }
    assert_eq!(replayed, messages);
    // One segment for all of them, not one per replay.
    assert_eq!(segments.len(), 1);
}

#[test]
fn a_segment_cut_short_while_running_gives_what_it_has_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let messages = messages(10);
    for m in &messages {
        append(&spool, m);
    }
    let ticket = spool.next_to_replay().unwrap();
    let path = store::segment_path(dir.path(), ticket.segment);
    let spans = codec::scan(&fs::read(&path).unwrap()).records;
    // Someone truncates the file in the middle of the sixth record.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((spans[5].1.offset + 3) as u64)
        .unwrap();
    let loaded = spool.load(&ticket, Vec::new()).unwrap();
    assert_eq!(loaded.records.len(), 5);
    assert_eq!(spool.counts().lost, 5);
    assert_eq!(spool.counts().pending, 5);
}

#[test]
fn acknowledgements_of_a_segment_that_cannot_be_deleted_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let moved = dir.path().join("moved-away");
    let (segment, seg_path) = {
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages(3) {
            append(&spool, m);
        }
        let ticket = spool.next_to_replay().unwrap();
        let seg_path = store::segment_path(dir.path(), ticket.segment);
        // A non-empty directory where the file was: deleting it fails.
        fs::rename(&seg_path, &moved).unwrap();
        fs::create_dir(&seg_path).unwrap();
        fs::write(seg_path.join("x"), b"x").unwrap();
        for index in 0..3 {
            let position = Position {
                segment: ticket.segment,
                index,
            };
            spool.sending(position);
            spool.delivered(position);
        }
        assert!(spool.is_empty());
        (ticket.segment, seg_path)
    };
    wait_for_release(&fs::canonicalize(dir.path()).unwrap());
    fs::remove_dir_all(&seg_path).unwrap();
    fs::rename(&moved, &seg_path).unwrap();
    let spool = open(dir.path());
    let recovery = spool.recover(|| false);
    assert_eq!(recovery.records, 0, "segment {segment} would be sent again");
}

#[test]
fn one_producer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _held = open(dir.path());
    assert!(matches!(
        Spool::open(&config(dir.path()), 1 << 10),
        Err(SpoolError::Locked(_))
    ));
}

#[test]
fn a_record_larger_than_a_segment_is_refused_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    let huge = message("audit", b"k", &vec![0u8; 3 << 20], &[]);
    let err = huge
        .with_ref(|m| spool.append(m, false, Caller::Emitter))
        .unwrap_err();
    assert!(matches!(err, SpoolError::Unavailable { .. }), "{err}");
    assert_eq!(spool.counts().pending, 0);
}

#[test]
fn segments_hold_the_largest_record_the_producer_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&config(dir.path()), 1 << 20).unwrap();
    spool.recover(|| false);
    let big = message("audit", b"k", &vec![7u8; (1 << 20) - 100], &[]);
    append(&spool, &big);
    append(&spool, &big);
    assert_eq!(replay_all(&spool), vec![big.clone(), big]);
}

/// A spool in `dir/spool` holding the first 50 of 100 records.
fn half_spooled(dir: &Path) -> (std::path::PathBuf, Spool, Vec<Message>) {
    let spool_dir = dir.join("spool");
    let spool = open(&spool_dir);
    spool.recover(|| false);
    let messages = messages(100);
    for m in &messages[..50] {
        append(&spool, m);
    }
    (spool_dir, spool, messages)
}

/// Waits until `spool` has made every segment it makes ahead.
fn all_made_ahead(spool: &Spool) {
    let made = spool.bell().wait_until(Duration::from_secs(10), || {
        let active = crate::flow::lock(&spool.inner.active);
        active.spare.len() >= active.spare_target
    });
    assert!(made, "no segments made ahead");
}

/// Removes a spool directory as a person would, again if the spool's worker adds a file
/// meanwhile.
fn remove_dir(dir: &Path) {
    while let Err(error) = fs::remove_dir_all(dir) {
        assert_eq!(error.kind(), io::ErrorKind::DirectoryNotEmpty, "{error}");
    }
}

#[test]
fn the_directory_is_recreated_with_its_records_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (spool_dir, spool, messages) = half_spooled(dir.path());
    remove_dir(&spool_dir);
    // The writer notices within a second and writes the segments back.
    let recreated = spool.bell().wait_until(Duration::from_secs(10), || {
        segment_files_or_zero(&spool_dir) > 0
    });
    assert!(recreated, "not recreated");
    let mut accepted = 0;
    for m in &messages[50..] {
        // Appends refused while it is being recreated get a typed error.
        match m.with_ref(|m| spool.append(m, false, Caller::Emitter)) {
            Ok(_) => accepted += 1,
            Err(SpoolError::Unavailable { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    drop(spool);
    let spool = open(&spool_dir);
    assert_eq!(spool.recover(|| false).records, 50 + accepted);
    assert_eq!(replay_all(&spool)[..50], messages[..50]);
}

/// A spool whose directory was removed and then locked by another producer before its worker
/// noticed writes nothing in it, and refuses records that need a new segment, until the other
/// lets go; then it takes the directory back with the records it held.
#[test]
fn a_recreated_directory_is_not_written_while_another_spool_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (spool_dir, spool, messages) = half_spooled(dir.path());
    // Every file in it, indexes and acknowledgements too.
    let files = |dir: &Path| {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let (other, theirs) = {
        // The worker held (it takes this lock each round), and the segments made ahead (made
        // under `preparing`), until the other spool has the directory.
        let _stuck = crate::flow::lock(&spool.inner.jobs);
        let _no_spares = crate::flow::lock(&spool.inner.preparing);
        remove_dir(&spool_dir);
        let other = open(&spool_dir);
        // The segments the other makes ahead are made before the files are listed: they are
        // its own, and under load they came after the listing.
        all_made_ahead(&other);
        let theirs = files(&spool_dir);
        (other, theirs)
    };
    let try_append = |m: &Message| m.with_ref(|m| spool.append(m, false, Caller::Emitter));
    // The worker's next check finds the directory locked by the other.
    let blocked = spool.bell().wait_until(Duration::from_secs(10), || {
        crate::flow::lock(&spool.inner.active).blocked.is_some()
    });
    assert!(blocked, "the directory's removal went unnoticed");
    assert!(matches!(
        try_append(&messages[50]),
        Err(SpoolError::Unavailable { .. })
    ));
    let mut accepted = Vec::new();
    // Every time the spool's state changes (a segment made ahead would ring), still refused and
    // nothing of ours written: for 3 s, the worker's next checks and the spares' rounds.
    let rounds = spool
        .inner
        .rounds
        .load(std::sync::atomic::Ordering::Relaxed);
    let taken = spool.bell().wait_until(Duration::from_secs(3), || {
        try_append(&messages[99]).is_ok() || files(&spool_dir) != theirs
    });
    assert!(
        !taken,
        "a segment was made in a directory another spool holds"
    );
    // Meanwhile the worker waited for its next checks (one a second), not spun.
    let rounds = spool
        .inner
        .rounds
        .load(std::sync::atomic::Ordering::Relaxed)
        - rounds;
    assert!(rounds < 30, "{rounds} rounds in 3 s");
    // The other leaves a record behind, in a segment with the id of one this spool holds.
    let theirs = message("audit", b"theirs", b"{}", &[]);
    append(&other, &theirs);
    drop(other);
    wait_for_release(&spool_dir);
    let left = files_with(&spool_dir, "seg");
    assert!(left.contains(&1) && crate::flow::lock(&spool.inner.segs).map.contains_key(&1));
    // Let go, but the other's segment is where this spool's would be written back: not
    // replaced, and records that need the spool are still refused.
    let taken = spool
        .bell()
        .wait_until(Duration::from_secs(3), || try_append(&messages[99]).is_ok());
    assert!(!taken, "the other's segment was written over");
    // Moved away (as the error says): the next check takes the directory back and writes
    // back what the spool holds; the other's record is where it was moved, whole.
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    for id in &left {
        for path in [
            store::segment_path(&spool_dir, *id),
            store::index_path(&spool_dir, *id),
        ] {
            if path.exists() {
                fs::rename(&path, elsewhere.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    let moved = open(&elsewhere);
    assert_eq!(moved.recover(|| false).records, 1);
    assert_eq!(replay_all(&moved), [theirs]);
    drop(moved);
    let back = spool.bell().wait_until(Duration::from_secs(10), || {
        try_append(&messages[50 + accepted.len()]).is_ok_and(|_| {
            accepted.push(messages[50 + accepted.len()].clone());
            true
        })
    });
    assert!(back, "the directory was not taken back");
    drop(spool);
    let spool = open(&spool_dir);
    let recovered = spool.recover(|| false).records;
    let replayed = replay_all(&spool);
    assert_eq!(recovered, replayed.len() as u64);
    assert_eq!(replayed[..50], messages[..50]);
    assert_eq!(replayed[50..], accepted[..]);
}

/// Between the directory's removal and the worker's next check, a segment made ahead is not
/// made in the directory another producer recreated and locked: the spares thread looks at the
/// lock file first, and has the worker check at once.
#[test]
fn no_segment_is_made_ahead_in_a_directory_another_spool_took_before_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let (spool_dir, spool, _) = half_spooled(dir.path());
    let _stuck = crate::flow::lock(&spool.inner.jobs);
    remove_dir(&spool_dir);
    let other = open(&spool_dir);
    all_made_ahead(&other);
    let theirs = files_with(&spool_dir, "seg");
    assert!(!super::spares::prepare_spare(&spool.inner));
    assert_eq!(
        files_with(&spool_dir, "seg"),
        theirs,
        "a segment made in the other's directory"
    );
    assert!(
        spool
            .inner
            .files_missing
            .load(std::sync::atomic::Ordering::Acquire),
        "the worker is not asked to check"
    );
}

/// A spool with no active segment (none appended yet) notices just the same that its directory
/// was removed and locked by another producer: it writes nothing there.
#[test]
fn a_directory_taken_while_no_segment_is_active_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let spool = open(&spool_dir);
    spool.recover(|| false);
    let _other = {
        let _stuck = crate::flow::lock(&spool.inner.jobs);
        remove_dir(&spool_dir);
        open(&spool_dir)
    };
    let noticed = spool.bell().wait_until(Duration::from_secs(10), || {
        crate::flow::lock(&spool.inner.active).blocked.is_some()
    });
    assert!(noticed, "another producer's directory taken for its own");
}

/// A directory copied away and back (its files new, their bytes the same): the spool takes its
/// segments for its own, not for another producer's, and goes on.
#[test]
fn a_segment_copied_back_in_place_is_taken_for_the_spools_own() {
    let dir = tempfile::tempdir().unwrap();
    let (spool_dir, spool, messages) = half_spooled(dir.path());
    let active = store::segment_path(&spool_dir, 1);
    let copy = dir.path().join("copy");
    fs::copy(&active, &copy).unwrap();
    fs::rename(&copy, &active).unwrap();
    // The worker notices within a second that the active segment's file is not its own.
    let noticed = spool.bell().wait_until(Duration::from_secs(10), || {
        crate::flow::lock(&spool.inner.active).current.is_none()
    });
    assert!(noticed, "the replaced file went unnoticed");
    let mut accepted = Vec::new();
    let back = spool.bell().wait_until(Duration::from_secs(10), || {
        let m = &messages[50 + accepted.len()];
        m.with_ref(|r| spool.append(r, false, Caller::Emitter))
            .is_ok_and(|_| {
                accepted.push(m.clone());
                true
            })
    });
    assert!(back, "blocked by a copy of its own segment");
    assert_eq!(replay_all(&spool)[..50], messages[..50]);
}

/// Files a crash left half written are removed when a spool opens.
#[test]
fn what_a_crash_left_half_written_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("00000000000000000003.seg.partial");
    fs::write(&partial, b"half").unwrap();
    let _spool = open(dir.path());
    assert!(!partial.exists());
}

fn segment_files_or_zero(dir: &Path) -> usize {
    if dir.join("spool.lock").exists() {
        segment_files(dir)
    } else {
        0
    }
}

#[test]
fn an_earlier_format_or_foreign_file_is_set_aside_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("00000000000000000001.seg"),
        b"not a segment",
    )
    .unwrap();
    let spool = open(dir.path());
    let recovery = spool.recover(|| false).clone();
    assert_eq!(recovery.records, 0);
    assert_eq!(recovery.damaged.len(), 1);
    assert_eq!(fs::read(&recovery.damaged[0]).unwrap(), b"not a segment");
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        "[a-z.]{1,20}",
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(
            (
                "[a-z-]{1,12}",
                proptest::collection::vec(any::<u8>(), 0..20),
            ),
            0..3,
        ),
    )
        .prop_map(|(topic, key, payload, headers)| Message {
            topic: topic.into(),
            key,
            payload,
            headers: headers
                .into_iter()
                .map(|(n, v)| Header::new(n, v))
                .collect(),
        })
}

/// Writes `messages` into one segment and returns its bytes and where each record ends.
fn write_all(dir: &Path, messages: &[Message]) -> (Vec<u8>, Vec<usize>) {
    let spool = open(dir);
    for m in messages {
        append(&spool, m);
    }
    drop(spool);
    // The writer finishes on its own thread: wait for it to let go of the directory.
    wait_for_release(&fs::canonicalize(dir).unwrap());
    let bytes = fs::read(store::segment_path(dir, 1)).unwrap();
    let scan = codec::scan(&bytes);
    assert!(scan.damage.is_none());
    let ends = scan.records.iter().map(|(_, s)| s.offset + s.len).collect();
    (bytes, ends)
}

fn rewrite(dir: &Path, bytes: &[u8]) {
    // Only the first segment: remove the spare ones the writes left.
    for id in store::list_segments(dir).unwrap() {
        if id != 1 {
            store::remove(dir, id).unwrap();
        }
    }
    fs::write(store::segment_path(dir, 1), bytes).unwrap();
    // As a process killed while writing it leaves it: sealed, it would have an index.
    store::remove_if_there(&store::index_path(dir, 1)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A process killed in the middle of a record has copied part of its body and not its
    /// length: every record before it comes back, and nothing of it.
    #[test]
    fn a_kill_at_any_point_keeps_the_complete_records(
        messages in proptest::collection::vec(arb_message(), 1..30),
        cut in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut bytes, ends) = write_all(dir.path(), &messages);
        let total = *ends.last().unwrap();
        let cut_at = FILE_HEADER + cut.index(total - FILE_HEADER + 1);
        let complete = ends.iter().filter(|&&end| end <= cut_at).count();
        let start = if complete == 0 { FILE_HEADER } else { ends[complete - 1] };
        // The torn record: length and checksum not written yet, body written up to the cut.
        for b in &mut bytes[start..(start + 8).min(total)] {
            *b = 0;
        }
        for b in &mut bytes[cut_at.max(start)..] {
            *b = 0;
        }
        rewrite(dir.path(), &bytes);

        let spool = open(dir.path());
        let recovery = spool.recover(|| false).clone();
        prop_assert_eq!(recovery.records, complete as u64);
        prop_assert_eq!(replay_all(&spool), messages[..complete].to_vec());
    }

    /// A flipped byte anywhere: every record before it survives; the damaged record is set
    /// aside alone when the record after it is whole, and with everything after it when the
    /// damage hides where the next one starts; nothing damaged is replayed as if it were good.
    #[test]
    fn corruption_keeps_every_good_record_it_can_find(
        messages in proptest::collection::vec(arb_message(), 1..30),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut bytes, ends) = write_all(dir.path(), &messages);
        let total = *ends.last().unwrap();
        let at = FILE_HEADER + at.index(total - FILE_HEADER);
        bytes[at] ^= flip;
        rewrite(dir.path(), &bytes);

        let spool = open(dir.path());
        let recovery = spool.recover(|| false).clone();
        let intact = ends.iter().filter(|&&end| end <= at).count();
        let replayed = replay_all(&spool);
        prop_assert_eq!(recovery.records as usize, replayed.len());
        // The records before the damage, then those after the damaged part.
        prop_assert_eq!(&replayed[..intact], &messages[..intact]);
        let after = &replayed[intact..];
        prop_assert!(after.len() < messages.len() - intact, "the damaged record is not replayed");
        prop_assert_eq!(after, &messages[messages.len() - after.len()..]);
        prop_assert!(!recovery.damaged.is_empty());
        // The damaged bytes are kept aside, byte for byte, from the damaged record on.
        let start = if intact == 0 { FILE_HEADER } else { ends[intact - 1] };
        let first = fs::read(&recovery.damaged[0]).unwrap();
        prop_assert!(bytes[start..].starts_with(&first) && !first.is_empty());
    }

    /// A sealed segment's index spares the next start a scan; damage found when its records
    /// are read for replay is set aside there, and every good record is still replayed.
    #[test]
    fn an_indexed_segment_damaged_at_rest_is_caught_when_replayed(
        messages in proptest::collection::vec(arb_message(), 2..30),
        which in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut bytes, ends) = write_all(dir.path(), &messages);
        prop_assert!(store::read_index(dir.path(), 1).is_some(), "sealed at close: indexed");
        // A flipped byte in the body of one record: its checksum fails.
        let k = which.index(messages.len());
        let start = if k == 0 { FILE_HEADER } else { ends[k - 1] };
        bytes[start + 9] ^= 0x5a;
        fs::write(store::segment_path(dir.path(), 1), &bytes).unwrap();

        let spool = open(dir.path());
        prop_assert_eq!(spool.recover(|| false).records, messages.len() as u64);
        let mut expected = messages.clone();
        expected.remove(k);
        prop_assert_eq!(replay_all(&spool), expected);
        prop_assert_eq!(spool.counts().lost, 1);
        prop_assert_eq!(spool.counts().pending, 0);
    }
}

/// What the spool holds is every audited request's payload: only its owner may read it,
/// whatever the umask, and a link planted in the directory is never followed.
#[test]
fn only_the_owner_can_read_the_spool() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("spool");
    // As a directory an earlier version (or an operator) left readable by everyone.
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let spool = open(&dir);
    spool.recover(|| false);
    for m in &messages(5) {
        append(&spool, m);
    }
    spool.quarantine(messages(1).remove(0), "refused".into(), None);
    assert!(spool.sync(Duration::from_secs(10)));
    let ticket = spool.next_to_replay().unwrap();
    let position = Position {
        segment: ticket.segment,
        index: 0,
    };
    spool.sending(position);
    spool.delivered(position);
    spool.sent(ticket.segment);
    // The worker writes the acknowledgements.
    assert!(spool.bell().wait_until(Duration::from_secs(10), || {
        store::acks_path(&dir, ticket.segment).exists()
    }));
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("quarantine")), 0o700);
    let mut files = 0;
    for entry in fs::read_dir(&dir)
        .unwrap()
        .chain(fs::read_dir(dir.join("quarantine")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    assert!(
        files >= 4,
        "segments, acknowledgements, the lock, the quarantined record"
    );
    // A link planted where the next acknowledgement file's temporary name will be.
    let target = parent.path().join("elsewhere");
    fs::write(&target, b"untouched").unwrap();
    let partial = dir.join(format!("{:020}.acks.partial", ticket.segment));
    std::os::unix::fs::symlink(&target, &partial).unwrap();
    store::write_acks(&dir, ticket.segment, &[1]).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"untouched");
    assert_eq!(store::read_acks(&dir, ticket.segment), [1]);
}

/// However long an outage, the spool keeps a bounded number of files open: a long backlog
/// never runs into the process's limit on open files.
#[test]
fn open_files_stay_bounded_however_many_segments() {
    let open_files = |dir: &Path| {
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| fs::read_link(fd.unwrap().path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    };
    let dir = tempfile::tempdir().unwrap();
    let dir_path = fs::canonicalize(dir.path()).unwrap();
    let spool = open(&dir_path);
    spool.recover(|| false);
    // Sixty 1 MiB segments' worth.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let big = message("audit", b"k", &vec![1u8; 100_000], &[]);
    for _ in 0..600 {
        big.with_ref(|m| spool.append(m, false, Caller::MayWaitUntil(until)))
            .unwrap();
    }
    assert!(spool.sync(Duration::from_secs(10)));
    assert!(store::list_segments(&dir_path).unwrap().len() >= 60);
    // The worker closes the files of older sealed segments as it goes.
    let bound = 1 + 1 + super::state::MAX_SPARES + super::state::OPEN_SEALED;
    assert!(
        spool
            .bell()
            .wait_until(Duration::from_secs(10), || open_files(&dir_path) <= bound),
        "{} files open",
        open_files(&dir_path)
    );
    drop(spool);
    wait_for_release(&dir_path);
    // A restart opens none of them until it reads them.
    let spool = open(&dir_path);
    assert!(open_files(&dir_path) <= 1 + super::state::MAX_SPARES + 1);
    assert_eq!(spool.recover(|| false).records, 600);
}

fn files_with(dir: &Path, extension: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_str()?.parse().ok()?;
            (path.extension()? == extension).then_some(stem)
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// A closing producer puts the spool away: no spare segment is left behind and every segment
/// has its index, so the next start reads no segment through (a process may exit as soon as
/// `close` returns, before the worker finishes).
#[test]
fn put_away_leaves_only_indexed_segments_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(200);
    let spool = Spool::open(&config(dir.path()).fsync(FsyncPolicy::Always), 1 << 10).unwrap();
    spool.recover(|| false);
    for m in &messages {
        append(&spool, m);
    }
    assert!(spool.sync(Duration::from_secs(10)));
    assert!(spool.put_away(Duration::from_secs(10)));
    // Every record is in an indexed segment: a start reads none of them through (a spare the
    // worker makes after the put-away holds none).
    let indexed = files_with(dir.path(), "idx");
    assert!(indexed.len() > 1, "1 MiB segments roll over");
    let records: u32 = indexed
        .iter()
        .map(|id| store::read_index(dir.path(), *id).unwrap().records)
        .sum();
    assert_eq!(records, 200);
    // One segment is made ahead for what comes after (spares ring the bell as they are made),
    // not the four a running spool keeps: a process that exits now leaves it behind.
    let spares = || crate::flow::lock(&spool.inner.active).spare.len();
    assert!(
        spool
            .bell()
            .wait_until(Duration::from_secs(10), || spares() > 0)
    );
    assert!(
        !spool
            .bell()
            .wait_until(Duration::from_secs(1), || spares() > 1)
    );
    // A record appended after it (a delivery report of the teardown) goes into a mapped
    // segment at once, not into memory to wait for one; dropping the spool puts it away too.
    append(&spool, &messages[0]);
    assert!(spool.sync(Duration::from_secs(10)));
    let again = messages[1]
        .with_ref(|m| spool.append(m, false, Caller::Emitter))
        .unwrap();
    assert!(
        matches!(again, crate::spool::Appended::At(_)),
        "appends find a segment again after the put-away: {again:?}"
    );
    drop(spool);
    wait_for_release(dir.path());
    assert_eq!(files_with(dir.path(), "idx"), files_with(dir.path(), "seg"));
    let spool = open(dir.path());
    let recovered = spool.recover(|| false).records;
    let after = replay_all(&spool);
    assert_eq!(after.len() as u64, recovered);
    assert_eq!(after[..200], messages[..]);
    assert_eq!(after[200..], [messages[0].clone(), messages[1].clone()]);
}

/// `put_away` returns once the acknowledgements are written: a process that exits as soon as
/// `close` returns does not send acknowledged records again at its next start.
#[test]
fn put_away_returns_with_the_acknowledgements_written() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages(5) {
            append(&spool, m);
        }
        assert!(spool.sync(Duration::from_secs(10)));
        let ticket = spool.next_to_replay().unwrap();
        // Three of the five acknowledged: the segment stays, with its acknowledgements.
        for index in 0..3 {
            let position = Position {
                segment: ticket.segment,
                index,
            };
            spool.sending(position);
            spool.delivered(position);
        }
        assert!(spool.put_away(Duration::from_secs(10)));
        assert_eq!(store::read_acks(dir.path(), ticket.segment), [0b111]);
    }
}

/// A segment the start had to read through (its index lost) gets its index then: the start
/// after reads it no more.
#[test]
fn a_segment_read_through_at_a_start_is_indexed_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(200);
    {
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages {
            append(&spool, m);
        }
    }
    wait_for_release(dir.path());
    let segments = files_with(dir.path(), "seg");
    for id in &segments {
        store::remove_if_there(&store::index_path(dir.path(), *id)).unwrap();
    }
    {
        let spool = open(dir.path());
        assert_eq!(spool.recover(|| false).records, 200);
        assert_eq!(files_with(dir.path(), "idx"), segments);
    }
    wait_for_release(dir.path());
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, 200);
    assert_eq!(replay_all(&spool), messages);
}

/// Bytes this thread has read with `read` calls (`rchar` in `/proc/thread-self/io`).
fn bytes_read_by_this_thread() -> u64 {
    fs::read_to_string("/proc/thread-self/io")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("rchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

/// Whether the filesystem under `dir` reports space allocated and never written as a hole
/// (ext4, xfs, tmpfs do): asked of a file of its own, as a segment made ahead is made.
fn reports_unwritten_as_holes(dir: &Path) -> bool {
    use rustix::fs::{FallocateFlags, SeekFrom, fallocate, seek};
    let path = dir.join("probe");
    let file = fs::File::create(&path).unwrap();
    let holes = fallocate(&file, FallocateFlags::empty(), 0, 1 << 20).is_ok()
        && seek(&file, SeekFrom::Data(0)) == Err(rustix::io::Errno::NXIO);
    fs::remove_file(path).unwrap();
    holes
}

/// A process that exits right after `close` leaves the segments made ahead since: a start
/// tells they never took a record without reading them through, and deletes them.
#[test]
fn segments_made_ahead_and_left_empty_are_not_read_through_at_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let messages = messages(20);
    let next = {
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages {
            append(&spool, m);
        }
        assert!(spool.put_away(Duration::from_secs(10)));
        crate::flow::lock(&spool.inner.segs).next_id
    };
    wait_for_release(dir.path());
    // Made as the spool makes them (allocated whole, the file header written), never written.
    let left: Vec<u64> = (next + 100..next + 104).collect();
    for id in &left {
        drop(store::prepare(dir.path(), *id, 4 << 20).unwrap());
    }
    let spool = open(dir.path());
    let before = bytes_read_by_this_thread();
    let recovery = spool.recover(|| false).clone();
    let read = bytes_read_by_this_thread() - before;
    assert_eq!((recovery.records, recovery.damaged_bytes), (20, 0));
    if reports_unwritten_as_holes(dir.path()) {
        // The indexes, and 64 KiB of each segment left.
        assert!(
            read < 1 << 20,
            "{read} bytes read: the empty segments were read through"
        );
    }
    // Done, so deleted.
    let gone = spool.bell().wait_until(Duration::from_secs(10), || {
        left.iter()
            .all(|id| !store::segment_path(dir.path(), *id).exists())
    });
    assert!(gone, "the empty segments were not deleted");
    assert_eq!(replay_all(&spool), messages);
}

/// A segment whose first record's place is zeros but with bytes written further on is read
/// through: those bytes are set aside as damaged, as before.
#[test]
fn a_segment_with_bytes_past_an_empty_start_is_still_read_through() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let prepared = store::prepare(dir.path(), 7, 4 << 20).unwrap();
    prepared.file.write_all_at(b"not zeros", 3 << 20).unwrap();
    drop(prepared);
    let spool = open(dir.path());
    let recovery = spool.recover(|| false).clone();
    assert_eq!(recovery.records, 0);
    assert!(recovery.damaged_bytes > 0, "{recovery:?}");
}

mod fsync;
mod unmap;
mod unreadable;
