// `#[tether::main]` on a function without `async`: the error points at `fn`.
#[tether::main]
fn main() {}
