// A paused clock needs the current-thread runtime.
#[tether::main(start_paused = true)]
async fn main() {}

#[tether::test(flavor = "multi_thread", start_paused = true)]
async fn explicit_multi_thread() {}

#[tether::test(start_paused = 1)]
async fn not_a_bool() {}
