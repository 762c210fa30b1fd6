// Options tether does not have: the error points at the name.
#[tether::main(start_frozen = true)]
async fn main() {}

#[tether::test(threadpool::size = 4)]
async fn path_as_option_name() {}
