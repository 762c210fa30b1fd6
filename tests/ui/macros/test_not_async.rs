// `#[tether::test]` on a function without `async`: the error points at `fn`.
#[tether::test]
fn not_async() {}

fn main() {}
