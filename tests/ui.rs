//! Compile-fail tests: one mistake per file in `tests/ui`, with the reviewed compiler output next
//! to it. The `.stderr` files depend on the compiler's wording, so they are checked on the rustc
//! they were recorded with; other compilers report this test as ignored, not failed.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "tests/ui/*.stderr were recorded with rustc 1.95"
)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
