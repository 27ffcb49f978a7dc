//! The benchmarks with mimalloc in place of the C library's `malloc`, for every allocation of
//! the process: Rust's, and librdkafka's through mimalloc's `override` feature. `benchmarks`
//! builds this program and runs it (`--throughput-only`) for the detached-throughput row "with
//! mimalloc", so that the allocator's part in a detached record's cost is measured in the same
//! run.
//!
//! librdkafka allocates each record's memory on the thread that produces it and frees it on the
//! thread that serves its delivery report: for a `KafkaProducer`, rdkafka's polling thread.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "benchmarks.rs"]
mod benchmarks;

fn main() {
    benchmarks::main()
}
