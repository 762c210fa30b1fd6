// An option given twice: the error points at the repeated name.
#[tether::main(flavor = "multi_thread", flavor = "current_thread")]
async fn main() {}
