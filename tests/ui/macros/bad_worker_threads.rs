// Bad `worker_threads` values: the error points at the value.
#[tether::test(flavor = "multi_thread", worker_threads = 0)]
async fn zero() {}

#[tether::test(flavor = "multi_thread", worker_threads = "4")]
async fn string() {}

#[tether::test(flavor = "multi_thread", worker_threads = -1)]
async fn negative() {}

#[tether::test(flavor = "multi_thread", worker_threads = 99999999999999999999999)]
async fn too_large() {}

fn main() {}
