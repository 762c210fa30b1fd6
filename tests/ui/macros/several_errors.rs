// All problems are reported in one build, each at its own tokens.
#[tether::test(flavor = "threads", worker_threads = 0, speed = "fast")]
fn not_async(x: u32) {
    let _ = x;
}

fn main() {}
