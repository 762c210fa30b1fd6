//! Compile-fail tests: each file under `ui/` must fail to build with exactly
//! the diagnostics recorded in the `.stderr` file next to it.
//!
//! Regenerate the expectations with `TRYBUILD=overwrite cargo test -p
//! tether-tests --test ui`, then review every changed `.stderr` by eye.

/// Misuse of `#[tether::main]` and `#[tether::test]`: every mistake gets a
/// clear message on the offending tokens.
#[test]
fn macros() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/macros/*.rs");
}
