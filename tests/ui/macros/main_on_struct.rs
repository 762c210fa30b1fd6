// The attribute only applies to functions.
#[tether::main]
struct Main;

fn main() {}
