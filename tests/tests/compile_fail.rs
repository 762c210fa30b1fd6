//! Compile-fail tests: what the borrow checker and the `Send` checks must
//! keep rejecting. Run with `cargo test -p tether-tests --test compile_fail`;
//! after an intended change of diagnostics, regenerate the expected output
//! with `TRYBUILD=overwrite`.

#[test]
fn scope_compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/scope/*.rs");
}
