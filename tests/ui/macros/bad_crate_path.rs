// `crate = "..."` takes a string holding a path.
#[tether::main(crate = tether)]
async fn not_a_string() {}

#[tether::main(crate = "not a path")]
async fn not_a_path() {}

fn main() {}
