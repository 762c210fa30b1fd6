// An option tether does not have: the error points at its name.
#[tether::main(start_paused = true)]
async fn main() {}
