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
    let Some(bin) = matrix::Tansu::binary() else {
        assert!(
            std::env::var_os("KAFKA_EVENTS_REQUIRE_TANSU").is_none(),
            "KAFKA_EVENTS_REQUIRE_TANSU is set but KAFKA_EVENTS_TANSU names no binary"
        );
        eprintln!("skipped: set KAFKA_EVENTS_TANSU to a tansu 0.6.0 binary (scripts/tansu.sh bin)");
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
