//! What the audit layer costs in instructions, which callgrind counts the same on any run
//! (unlike time on a shared machine): `N` requests of `examples/audit_overhead.rs` (a `POST`
//! with a 189 B JSON body holding a field to mask) go through an axum router in one thread,
//! without a network, plain or behind `AuditLayer` with a producer that drops every record
//! (entries are still built, masked and serialized). The layer's instructions per request are
//! the difference of the two slopes:
//!
//! ```text
//! cargo build --release --example layer_instructions
//! for mode in plain audited; do for n in 1000 3000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/layer_instructions $mode $n 2>&1 | grep Collected
//! done; done
//! # per request: (count at 3000 - count at 1000) / 2000, audited minus plain
//! ```
#[allow(dead_code)] // Its router and loop; not its `main` or the served endpoints.
#[path = "audit_overhead.rs"]
mod audit_overhead;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(Ok(n))) = (args.next(), args.next().map(|n| n.parse::<usize>())) else {
        eprintln!("usage: layer_instructions plain|audited REQUESTS");
        std::process::exit(2);
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(audit_overhead::requests_in_a_loop(
            &audit_overhead::orders(mode == "audited"),
            n,
        ));
}
