// Bad `flavor` values: the error points at the value.
#[tether::test(flavor = "multi-thread")]
async fn misspelled() {}

#[tether::test(flavor = current_thread)]
async fn not_a_string() {}

#[tether::main(flavor = "local")]
async fn main() {}
