//! Prints the fault matrix: for each scenario, events sent, unique events a consumer read back,
//! lost, duplicates; then RSS before and after a million detached emits with the broker down.
//!
//! ```text
//! cargo run --release --example fault_matrix                 # embedded broker scenarios
//! KAFKA_EVENTS_TANSU=$(scripts/tansu.sh bin) cargo run --release --example fault_matrix
//! cargo run --release --example fault_matrix -- --quick     # N = 2 000, 100 000 for memory
//! ```

#[path = "../tests/support/matrix.rs"]
mod matrix;

use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let [bootstrap, spool, base, n] = &args[2..] else {
            panic!("usage: fault_matrix --child BOOTSTRAP SPOOL BASE N");
        };
        matrix::child_emit_then_wait(
            bootstrap,
            spool.as_ref(),
            base.parse().unwrap(),
            n.parse().unwrap(),
        );
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, n_sqlite, n_memory) = if quick {
        (2_000, 1_000, 100_000)
    } else {
        (10_000, 2_000, 1_000_000)
    };

    println!("{}", matrix::Row::header());
    println!("{}", "-".repeat(matrix::Row::header().len()));
    let mut rows = Vec::new();
    let mut print = |row: matrix::Row| {
        println!("{}", row.line());
        rows.push(row);
    };
    print(matrix::embedded_broker_down(n));
    print(matrix::injected_produce_errors(n));
    match matrix::Tansu::binary() {
        Some(bin) => print(matrix::tansu_killed(bin, n_sqlite)),
        None => println!(
            "3. (skipped: set KAFKA_EVENTS_TANSU to a tansu 0.6.0 binary, see scripts/tansu.sh)"
        ),
    }
    print(matrix::close_mid_load(n));
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.arg("--child");
    print(matrix::process_killed_while_broker_down(n, child));

    let (before, after, spooled, on_disk) = matrix::memory_with_broker_down(n_memory);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "\nmemory: {n_memory} detached emits with the broker down: RSS {:.1} MiB before, {:.1} MiB after \
         (+{:.1} MiB); {spooled} records ({:.1} MiB) went to the spool",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
        mib(on_disk)
    );

    let lost: usize = rows.iter().map(|r| r.lost).sum();
    if lost > 0 {
        eprintln!("LOST {lost} events");
        std::process::exit(1);
    }
}
