// A `crate` path that does not resolve is reported on the string.
#[tether::main(crate = "::no_such_crate")]
async fn main() {}
