//! Fan-out over a borrowed slice: each chunk is summed by a scoped child,
//! in parallel on the runtime's workers, with no copy and no `Arc`.
//!
//! Run with `cargo run --release -p tether-examples --example parallel_sum`
//! (add `-- --small` for a quick run). Timings are printed for information
//! only; the benches compare runtimes properly.

use std::time::Instant;

/// Elements summed by default (8 M `u64`s, 64 MiB).
const DEFAULT_LEN: usize = 8 << 20;
/// Elements summed with `--small`.
const SMALL_LEN: usize = 1 << 16;
/// Chunks per run: enough to balance two to sixteen workers.
const CHUNKS: usize = 64;

/// A deliberately non-trivial per-element function, so the work is CPU-bound.
fn work(x: u64) -> u64 {
    x.wrapping_mul(x).rotate_left(7) ^ x
}

fn main() -> std::io::Result<()> {
    let size = tether_examples::Size::from_args(
        "parallel_sum",
        "Sums a borrowed slice in parallel with scoped children.\n\n\
         --small   a short slice (what CI runs)",
    );
    let len = size.pick(DEFAULT_LEN, SMALL_LEN);
    let data: Vec<u64> = (0..len as u64).collect();

    let t = Instant::now();
    let expected = data.iter().map(|&x| work(x)).fold(0u64, u64::wrapping_add);
    let sequential = t.elapsed();

    let rt = tether::Runtime::new()?;
    let chunk = len.div_ceil(CHUNKS);

    // The async scope, awaited right here in `block_on`: this thread forks
    // the children's polls and the idle workers steal them.
    let t = Instant::now();
    let data_ref = &data;
    let sum = rt.block_on(tether::scope(|s| async move {
        let handles: Vec<_> = data_ref
            .chunks(chunk)
            .map(|c| {
                s.spawn(async move { c.iter().map(|&x| work(x)).fold(0u64, u64::wrapping_add) })
            })
            .collect();
        let mut sum = 0u64;
        for h in handles {
            sum = sum.wrapping_add(h.await.unwrap());
        }
        sum
    }));
    let scoped = t.elapsed();
    assert_eq!(sum, expected);

    // The same with join_all, run as a task of a blocking scope (the
    // `std::thread::scope` form, for callers that are not async).
    let t = Instant::now();
    let sums = rt.scope(|bs| {
        bs.spawn(tether::join_all(data.chunks(chunk).map(|c| async move {
            c.iter().map(|&x| work(x)).fold(0u64, u64::wrapping_add)
        })))
        .join()
        .unwrap()
    });
    let joined = t.elapsed();
    assert_eq!(sums.into_iter().fold(0u64, u64::wrapping_add), expected);

    println!("summed {len} borrowed elements in {CHUNKS} scoped children (result {sum:#x})");
    println!("  sequential:          {sequential:?}");
    println!("  tether::scope:       {scoped:?}");
    println!("  tether::join_all:    {joined:?}");
    println!("no element was copied and no Arc was created: children borrowed `data`.");
    Ok(())
}
