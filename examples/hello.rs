//! The smallest tether program: a runtime, a spawned task and its result.
//!
//! Run with `cargo run --example hello`.

#[tether::main]
async fn main() {
    // Nothing to shrink: `--small` is accepted so every example takes it.
    let _ = tether_examples::Size::from_args("hello", "Spawns one task and prints its result.");
    let greeting = tether::spawn(async { "hello from a tether task" })
        .await
        .expect("the task panicked");
    println!("{greeting}");
}
