//! The fault matrix (see `tests/support/matrix.rs`): in every scenario, no event is lost.
//!
//! Scenario 3 needs Tansu: `KAFKA_EVENTS_TANSU` names its binary (`scripts/tansu.sh install`
//! puts it in a cache; `.ci/run` sets the variable and `KAFKA_EVENTS_REQUIRE_TANSU=1`).

#[path = "support/matrix.rs"]
mod matrix;

use std::process::Command;

const N: usize = 10_000;
const N_SQLITE: usize = 2_000;

fn assert_no_loss(row: matrix::Row) {
    println!("{}\n{}", matrix::Row::header(), row.line());
    assert_eq!(row.lost, 0, "{row:?}");
    assert_eq!(row.unique, row.sent, "{row:?}");
}

#[test]
fn embedded_broker_down_mid_load() {
    assert_no_loss(matrix::embedded_broker_down(N));
}

#[test]
fn injected_retriable_produce_errors() {
    assert_no_loss(matrix::injected_produce_errors(N));
}

#[test]
fn close_mid_load_then_new_producer_on_the_same_spool() {
    assert_no_loss(matrix::close_mid_load(N));
}

/// Scenario 5 runs this test binary again as the emitting process, through
/// [`child_process_for_scenario_5`].
#[test]
fn emitting_process_killed_while_broker_down() {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "child_process_for_scenario_5",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FAULT_MATRIX_CHILD", "1");
    assert_no_loss(matrix::process_killed_while_broker_down(N, child));
}

/// Not a test of its own: the emitting process of scenario 5 when `FAULT_MATRIX_CHILD` is set
/// (its arguments come after the test-harness ones), and nothing otherwise.
#[test]
fn child_process_for_scenario_5() {
    if std::env::var_os("FAULT_MATRIX_CHILD").is_none() {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let [bootstrap, spool, base, n] = &args[args.len() - 4..] else {
        unreachable!()
    };
    matrix::child_emit_then_wait(
        bootstrap,
        spool.as_ref(),
        base.parse().unwrap(),
        n.parse().unwrap(),
    );
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
    assert_no_loss(matrix::tansu_killed(bin, N_SQLITE));
}
