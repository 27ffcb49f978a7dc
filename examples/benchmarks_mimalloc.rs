//! The benchmarks with mimalloc in place of the C library's `malloc`, for every allocation of
//! the process: Rust's, and librdkafka's through mimalloc's `override` feature. `benchmarks`
//! runs it (`--throughput-only`) for the detached-throughput row "with mimalloc" when it was
//! built next to it:
//!
//! ```text
//! cargo build --release --features outbox-postgres,otel --example benchmarks_mimalloc
//! ```
//!
//! librdkafka allocates each record's memory on the thread that produces it and frees it on
//! the thread that serves its delivery report. With glibc's `malloc` those two threads take
//! turns at the allocating thread's arena lock; a thread-caching allocator that replaces
//! `malloc` process-wide does not make them meet. What that is worth is this program's measure.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "benchmarks.rs"]
mod benchmarks;

fn main() {
    benchmarks::main()
}
