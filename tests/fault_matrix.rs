//! The fault matrix (see `tests/support/matrix.rs`): in every scenario no accepted event is
//! lost, and each fault has its documented, typed outcome.
//!
//! Row 3 needs Tansu: `KAFKA_EVENTS_TANSU` names its binary (`scripts/tansu.sh install` puts it
//! in a cache). Rows 7 and 9 need root (`chattr +i`, mounting a small tmpfs); without it they
//! say they were skipped. `.ci/run` sets `KAFKA_EVENTS_REQUIRE_TANSU=1` and
//! `KAFKA_EVENTS_REQUIRE_PRIVILEGED=1`, so there they must run.

#[path = "support/matrix.rs"]
mod matrix;

use std::process::Command;

const N: usize = 10_000;
const N_SQLITE: usize = 2_000;

/// The Tansu binary, or `None` (the test is skipped) when none is set and none is required.
fn tansu() -> Option<std::path::PathBuf> {
    matrix::Tansu::binary_for_test()
}

fn assert_no_loss(row: &matrix::Row) {
    println!("{}\n{}", matrix::Row::header(), row.line());
    assert_eq!(row.lost, 0, "{row:?}");
}

/// This test binary again, as the child process of a scenario ([`child_process`]).
fn child() -> Command {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FAULT_MATRIX_CHILD", "1");
    child
}

/// Not a test of its own: the child process of a scenario when `FAULT_MATRIX_CHILD` is set (its
/// arguments come after the test harness's), and nothing otherwise.
#[test]
fn child_process() {
    if std::env::var_os("FAULT_MATRIX_CHILD").is_none() {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let start = args.iter().position(|a| a == "--test-threads=1").unwrap() + 1;
    matrix::child_main(&args[start..]);
}

#[test]
fn embedded_broker_down_mid_load() {
    assert_no_loss(&matrix::embedded_broker_down(N));
}

#[test]
fn injected_retriable_produce_errors() {
    assert_no_loss(&matrix::injected_produce_errors(N));
}

#[test]
fn tansu_killed_mid_load_and_restarted_on_sqlite() {
    let Some(bin) = tansu() else {
        return;
    };
    assert_no_loss(&matrix::tansu_killed(bin, N_SQLITE));
}

/// Also: `close(1 ms)` returns within its bound with `fsync` after every record.
#[test]
fn close_mid_load_then_new_producer_on_the_same_spool() {
    assert_no_loss(&matrix::close_mid_load(N));
}

#[test]
fn emitting_process_killed_while_broker_down() {
    assert_no_loss(&matrix::process_killed_while_broker_down(N, child()));
}

/// Also: the 1.5 MB event is refused with `MessageTooLarge`, the poison record is quarantined
/// with its reason and drained, events after a second outage are delivered.
#[test]
fn poison_record_during_an_outage_then_a_second_outage() {
    assert_no_loss(&matrix::poison_record(200));
}

/// Also: the records are delivered once each (no duplicates) and the segment stays.
#[test]
fn replayed_segment_that_cannot_be_deleted() {
    match matrix::undeletable_segment(300) {
        Some(row) => {
            assert_no_loss(&row);
            assert_eq!(row.duplicates, 0, "{row:?}");
        }
        None => eprintln!("skipped: needs root for chattr +i"),
    }
}

/// Also: events refused while the directory is recreated get `SpoolError::Unavailable` and
/// are counted as dropped.
#[test]
fn spool_directory_removed_during_an_outage() {
    assert_no_loss(&matrix::spool_directory_removed(600));
}

/// Also: events refused on the full disk get `SpoolError::Full` and are counted as dropped.
#[test]
fn spool_disk_full_during_an_outage() {
    match matrix::full_disk(20_000) {
        Some(row) => assert_no_loss(&row),
        None => eprintln!("skipped: needs root to mount a small tmpfs"),
    }
}

#[test]
fn dropped_without_close_on_an_async_worker() {
    assert_no_loss(&matrix::drop_without_close(5_000));
}

/// Also: no request waits for room, and the other task runs.
#[test]
fn full_queue_without_a_spool_never_blocks_the_runtime() {
    let row = matrix::full_queue_on_a_current_thread_runtime(300);
    println!("{}\n{}", matrix::Row::header(), row.line());
}

#[test]
fn cancelled_emits_free_what_they_held() {
    let (row, growth) = matrix::cancelled_emits(200_000, child());
    println!("{}\n{}", matrix::Row::header(), row.line());
    assert!(growth < 10 << 20, "RSS grew by {growth} bytes: {row:?}");
}

#[test]
fn write_ahead_process_killed_mid_load() {
    assert_no_loss(&matrix::write_ahead_killed(4_000, child()));
}

#[test]
fn one_keys_order_through_an_outage_and_the_brokers_coming_back() {
    let row = matrix::order_through_an_outage(4_200);
    assert_no_loss(&row);
    assert!(row.note.starts_with("order kept"), "{row:?}");
}

#[test]
fn a_fatal_librdkafka_error_mid_load_loses_nothing() {
    for with_spool in [false, true] {
        let row = matrix::fatal_error_mid_load(2_000, with_spool);
        assert_no_loss(&row);
        assert!(
            row.note.contains("fatal_errors 1, client replaced: true"),
            "{row:?}"
        );
    }
}

/// Also: the broker may answer the idempotent producer out of sequence after it resumes (a
/// fatal error); the producer replaces its client.
#[test]
fn tansu_stalled_under_load_then_resumed() {
    let Some(bin) = tansu() else {
        return;
    };
    assert_no_loss(&matrix::tansu_stalled_under_load(
        bin,
        12,
        std::time::Duration::from_secs(5),
    ));
}

/// What the load test did with `wrk` against `examples/axum_service.rs`, in-process:
/// every request answered has its audit entry and its usage event on the topics.
#[test]
fn http_load_through_a_tansu_stall_leaves_every_entry() {
    let Some(bin) = tansu() else {
        return;
    };
    let row = matrix::http_load_through_a_stall(bin, 16, 20, std::time::Duration::from_secs(8));
    assert!(row.sent > 0, "{row:?}");
    assert_no_loss(&row);
}

#[test]
fn records_the_spool_cannot_hold_or_that_were_damaged_lose_nothing_else() {
    assert_no_loss(&matrix::records_the_spool_cannot_hold(300));
}

/// Also: the removed segment's records are counted lost, and the records after the unreadable
/// segment wait for it, so the rest arrive in order.
#[test]
fn spool_segments_removed_or_unreadable_at_rest_lose_only_the_removed_ones() {
    let row = matrix::spool_segments_removed_or_unreadable(20_000);
    assert_no_loss(&row);
    assert!(row.note.contains("order kept"), "{row:?}");
}

/// Eight threads, two busy processes competing: no detached emit is refused for want of a
/// segment, memory stays bounded, and the spool keeps few files open.
#[test]
fn a_burst_from_eight_threads_on_a_busy_machine_is_never_refused() {
    let (before, after, spooled, files) = matrix::memory_with_broker_down(200_000);
    assert_eq!(spooled, 200_000);
    assert!(
        after.saturating_sub(before) < 64 << 20,
        "RSS grew by {} bytes",
        after - before
    );
    assert!(files <= 24, "{files} spool files open");
}
