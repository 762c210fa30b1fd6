// `worker_threads` needs the multi-thread flavor; the error points at the
// option's name. A test is current-thread unless told otherwise.
#[tether::main(flavor = "current_thread", worker_threads = 2)]
async fn main() {}

#[tether::test(worker_threads = 2)]
async fn test_defaults_to_current_thread() {}
