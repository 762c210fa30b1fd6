//! The smallest tether program: a runtime, a spawned task and its result.
fn main() {
    println!("hello from tether");
}
