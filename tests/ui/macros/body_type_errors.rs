// Type errors in the body are reported on the user's code, checked against
// the declared return type. (`#[tether::main]` on a function other than
// `main` generates the same code as `#[tether::test]` minus `#[test]`, which
// a compile-fail test, built without `--test`, would discard.)
#[tether::main]
async fn main() -> Result<(), String> {
    early_return();
    question_mark()?;
    let count = 1;
    count
}

#[tether::main(flavor = "current_thread")]
async fn early_return() -> u32 {
    if true {
        return "early";
    }
    3
}

#[tether::main]
async fn question_mark() -> Result<(), String> {
    std::fs::read("missing")?;
    Ok(())
}
