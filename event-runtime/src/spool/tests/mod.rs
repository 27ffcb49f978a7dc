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

/// Appends, waiting for the worker when a burst of appends (faster than any emitting service)
/// has used every segment it made ahead.
fn append(spool: &Spool, m: &Message) -> Position {
    loop {
        let seen = spool.bell().rung();
        match m.with_ref(|m| spool.append(m, false, Caller::Emitter)) {
            Ok(position) => return position,
            Err(SpoolError::Unavailable { reason, .. }) if reason.contains("not ready") => {
                spool.bell().wait(seen, Duration::from_secs(5));
            }
            Err(other) => panic!("{other}"),
        }
    }
}

/// Takes every pending record out, as replay would with a broker that acknowledges all.
fn replay_all(spool: &Spool) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some(ticket) = spool.next_to_replay() {
        let loaded = spool.load(&ticket).unwrap();
        for (index, span) in &loaded.records {
            out.push(loaded.record(*span).unwrap().to_message());
            let position = Position {
                segment: ticket.segment,
                index: *index,
            };
            spool.sending(position);
            spool.delivered(position);
        }
    }
    out
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
        let loaded = spool.load(&ticket).unwrap();
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
        // Within this run, only the 7 not acknowledged are replayed.
        let again = spool.next_to_replay().unwrap();
        assert_eq!(spool.load(&again).unwrap().records.len(), 7);
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
    // Only the spare segments are left.
    wait_for_segments(&spool, dir.path(), SPARES);
    assert!(spool.next_to_replay().is_none());
}

#[test]
fn a_thread_that_may_block_makes_segments_itself_in_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    // Twenty 1 MiB segments' worth, faster than the writer makes segments ahead.
    let big = message("audit", b"k", &vec![1u8; 100_000], &[]);
    for _ in 0..200 {
        big.with_ref(|m| spool.append(m, false, Caller::MayBlock))
            .unwrap();
    }
    assert_eq!(spool.counts().pending, 200);
}

#[test]
fn a_segment_that_keeps_failing_does_not_hold_up_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    let messages = messages(4);
    append(&spool, &messages[0]);
    let first = spool.next_to_replay().unwrap();
    for m in &messages[1..] {
        append(&spool, m);
    }
    // The first segment's record fails.
    let position = Position {
        segment: first.segment,
        index: 0,
    };
    spool.sending(position);
    spool.release(position);
    spool.replayed(first.segment);
    // The next segment is replayed while the first one pauses.
    let second = spool.next_to_replay().unwrap();
    assert_ne!(second.segment, first.segment);
    assert_eq!(spool.load(&second).unwrap().records.len(), 3);
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
        .set_len((spans[5].offset + 3) as u64)
        .unwrap();
    let loaded = spool.load(&ticket).unwrap();
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

#[test]
fn the_directory_is_recreated_with_its_records_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let spool = open(&spool_dir);
    spool.recover(|| false);
    let messages = messages(100);
    for m in &messages[..50] {
        append(&spool, m);
    }
    fs::remove_dir_all(&spool_dir).unwrap();
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
    let ends = scan.records.iter().map(|s| s.offset + s.len).collect();
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

    /// A flipped byte anywhere: every record before it survives, the rest is set aside, and
    /// nothing after the damage is replayed as if it were good.
    #[test]
    fn corruption_keeps_every_good_record_before_it(
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
        prop_assert_eq!(replay_all(&spool), messages[..intact].to_vec());
        prop_assert_eq!(recovery.records as usize, intact);
        // Everything from the damaged record on is kept aside, byte for byte.
        let start = if intact == 0 { FILE_HEADER } else { ends[intact - 1] };
        prop_assert_eq!(recovery.damaged.len(), 1);
        // (Zeros at the end are left out: they can't be told from the preallocated tail.)
        let kept = &bytes[start..total];
        let used = kept.iter().rposition(|b| *b != 0).map_or(0, |last| last + 1);
        prop_assert_eq!(fs::read(&recovery.damaged[0]).unwrap(), kept[..used].to_vec());
    }
}

/// An emitter allowed to wait (the `block` policy, off any async runtime) waits for the writer
/// to prepare the next segment instead of being refused, however fast it appends.
#[test]
fn an_emitter_that_may_wait_is_never_refused_for_want_of_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    // Small records, many segments (the smallest segment holds a few of them).
    let messages: Vec<Message> = (0..3_000u32)
        .map(|i| message("audit", &i.to_be_bytes(), &[7u8; 200], &[]))
        .collect();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    for m in &messages {
        m.with_ref(|m| spool.append(m, false, Caller::EmitterUntil(until)))
            .expect("waits for a segment rather than failing");
    }
    drop(spool);
    let spool = open(dir.path());
    assert_eq!(spool.recover(|| false).records, messages.len() as u64);
    assert_eq!(replay_all(&spool), messages);
}

#[test]
fn acknowledgements_left_without_their_segment_do_not_mark_a_new_one_done() {
    let dir = tempfile::tempdir().unwrap();
    // As if an earlier run stopped between deleting segment 1 and its acknowledgements.
    store::write_acks(dir.path(), 1, &[u64::MAX]).unwrap();
    {
        let spool = open(dir.path());
        spool.recover(|| false);
        for m in &messages(3) {
            append(&spool, m);
        }
    }
    wait_for_release(&fs::canonicalize(dir.path()).unwrap());
    let spool = open(dir.path());
    assert_eq!(
        spool.recover(|| false).records,
        3,
        "every record is replayed"
    );
}

#[test]
fn sync_waits_for_queued_quarantine_writes_and_empty_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(dir.path());
    spool.recover(|| false);
    for m in messages(20) {
        spool.quarantine(m, "refused for good".into(), None);
    }
    assert!(spool.sync(Duration::from_secs(10)));
    assert!(spool.is_empty());
    assert_eq!(spool.quarantined().unwrap().len(), 20);
    assert_eq!(spool.counts().quarantined, 20);
}
