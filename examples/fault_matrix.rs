//! Prints the fault matrix: for each scenario, events accepted, events a consumer read back,
//! lost, duplicates and what else the scenario checked; then RSS before and after a million
//! detached emits from eight threads with the broker down on a busy machine.
//!
//! ```text
//! cargo run --release --example fault_matrix                 # all rows (7 and 9 need root; 3, 16 and 18 Tansu)
//! KAFKA_EVENTS_TANSU=$(scripts/tansu.sh bin) cargo run --release --example fault_matrix
//! cargo run --release --example fault_matrix -- --quick     # smaller N
//! cargo run --release --example fault_matrix -- --row 13    # one row
//! ```

#[path = "../tests/support/matrix.rs"]
mod matrix;

use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        matrix::child_main(&args[2..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--row N` runs that row alone.
    let only: Option<usize> = args
        .iter()
        .position(|a| a == "--row")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let scale = |full: usize, small: usize| if quick { small } else { full };
    let child = || {
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.arg("--child");
        child
    };

    println!("{}", matrix::Row::header());
    println!("{}", "-".repeat(matrix::Row::header().len() + 20));
    let mut rows = Vec::new();
    let mut print = |row: matrix::Row| {
        println!("{}", row.line());
        rows.push(row);
    };
    let skipped = |what: &str| println!("({what})");
    let run = |row: usize| only.is_none_or(|only| only == row);
    if run(1) {
        print(matrix::embedded_broker_down(scale(10_000, 2_000)));
    }
    if run(2) {
        print(matrix::injected_produce_errors(scale(10_000, 2_000)));
    }
    if run(3)
        && let Some(row) = on_tansu(3, |bin| matrix::tansu_killed(bin, scale(2_000, 1_000)))
    {
        print(row);
    }
    if run(4) {
        print(matrix::close_mid_load(scale(10_000, 2_000)));
    }
    if run(5) {
        let n = scale(10_000, 2_000);
        print(matrix::process_killed_while_broker_down(n, child()));
    }
    if run(6) {
        print(matrix::poison_record(scale(1_000, 200)));
    }
    if run(7) {
        match matrix::undeletable_segment(scale(1_000, 300)) {
            Some(row) => print(row),
            None => skipped("7. skipped: needs root for chattr +i"),
        }
    }
    if run(8) {
        print(matrix::spool_directory_removed(scale(2_000, 600)));
    }
    if run(9) {
        match matrix::full_disk(20_000) {
            Some(row) => print(row),
            None => skipped("9. skipped: needs root to mount a small tmpfs"),
        }
    }
    if run(10) {
        print(matrix::drop_without_close(5_000));
    }
    if run(11) {
        let requests = scale(1_000, 300);
        print(matrix::full_queue_on_a_current_thread_runtime(requests));
    }
    if run(12) {
        let n = scale(1_000_000, 200_000);
        print(matrix::cancelled_emits(n, child()).0);
    }
    if run(13) {
        print(matrix::write_ahead_killed(scale(10_000, 4_000), child()));
    }
    if run(14) {
        print(matrix::order_through_an_outage(scale(21_000, 4_200)));
    }
    if run(15) {
        print(matrix::fatal_error_mid_load(scale(10_000, 2_000), false));
        print(matrix::fatal_error_mid_load(scale(10_000, 2_000), true));
    }
    if run(16) {
        let (seconds, freeze) = if quick { (12, 5) } else { (40, 15) };
        let freeze = std::time::Duration::from_secs(freeze);
        if let Some(row) = on_tansu(16, |bin| {
            matrix::tansu_stalled_under_load(bin, seconds, freeze)
        }) {
            print(row);
        }
    }
    if run(17) {
        print(matrix::records_the_spool_cannot_hold(scale(1_000, 300)));
    }
    if run(18) {
        let (seconds, freeze) = if quick { (20, 5) } else { (60, 15) };
        let freeze = std::time::Duration::from_secs(freeze);
        if let Some(row) = on_tansu(18, |bin| {
            matrix::http_load_through_a_stall(bin, 16, seconds, freeze)
        }) {
            print(row);
        }
    }
    if run(19) {
        print(matrix::spool_segments_removed_or_unreadable(20_000));
    }
    if only.is_some() {
        return;
    }

    let n_memory = scale(1_000_000, 100_000);
    // In a process of its own, so that what the rows above left in memory does not count.
    let output = child()
        .args(["memory", &n_memory.to_string()])
        .output()
        .expect("running the memory scenario");
    assert!(output.status.success(), "the memory scenario failed");
    let numbers: Vec<u64> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let [before, after, spooled, files] = numbers[..] else {
        panic!("the memory scenario said {numbers:?}");
    };
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "\nmemory: {n_memory} detached emits from 8 threads with the broker down, 2 busy processes \
         competing: RSS {:.1} MiB before, {:.1} MiB after (+{:.1} MiB); {spooled} records went to \
         the spool, none refused; at most {files} spool files open",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
    );

    let lost: usize = rows.iter().map(|r| r.lost).sum();
    if lost > 0 {
        eprintln!("LOST {lost} events");
        std::process::exit(1);
    }
}

/// Runs a row that needs Tansu, or says it was skipped.
fn on_tansu(
    row: usize,
    run: impl FnOnce(std::path::PathBuf) -> matrix::Row,
) -> Option<matrix::Row> {
    let bin = matrix::Tansu::binary();
    if bin.is_none() {
        println!("({row}. skipped: set KAFKA_EVENTS_TANSU (scripts/tansu.sh bin))");
    }
    bin.map(run)
}
