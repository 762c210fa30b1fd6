//! Recursive `join!`: fork/join inside one task, side by side with
//! `rayon::join` and `tokio::spawn`.
//!
//! Every contender computes `fib(FIB_N)` by recursive two-way joins down to a
//! cutoff, below which it computes sequentially:
//!
//! * `fine` — cutoff 6: hundreds of thousands of joins of a few hundred
//!   nanoseconds of work each; measures the cost of one join.
//! * `coarse` — cutoff 20: a few hundred joins of ~20 µs each; measures how
//!   well the work is spread over the workers.
//!
//! The contenders (each with [`WORKERS`](tether_benches::WORKERS) threads):
//!
//! * `tether` — `tether::join!(fib(n - 1), fib(n - 2))` on boxed futures
//!   (a recursive `async fn` needs a box), the root spawned as a task of a
//!   multi-thread runtime;
//! * `rayon` — `rayon::join` on closures in a pool (no future, no box);
//! * `tokio` — `tokio::spawn` of one side and `.await` of the other, on
//!   boxed futures (`'static` only, so no borrowing; `fib` needs none).
//!
//! A second group, `join_pair`, measures one two-way join alone: a task
//! runs [`PAIRS`] joins of two ready leaves one after the other (each leaf
//! `fib(LEAF)`, about a hundred nanoseconds), so the time per join is the
//! join's own cost — the fork, the pop-back, the two polls — next to
//! `rayon::join` of the same two closures and tokio's `join!` (which polls
//! both on the caller's thread, no fork) of the same two futures. No
//! future is boxed here.
//!
//! Run with `cargo bench -p tether-benches --bench join`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tether_benches::{MEASUREMENT_TIME, WARM_UP_TIME};

/// Joins per iteration of `join_pair`.
const PAIRS: u64 = 1000;

/// `join_pair`'s leaf: `fib(LEAF)` is 67 calls, about a hundred
/// nanoseconds: work a fork would not pay for, so the join should cost
/// little more than polling both sides in a row.
const LEAF: u64 = 8;

/// Samples per contender: enough for a stable median at a few ms to a few
/// hundred ms per iteration.
const SAMPLES: usize = 10;

#[path = "common/workloads.rs"]
#[allow(
    dead_code,
    reason = "shared with other benches; this one uses part of it"
)]
mod workloads;
use workloads::{
    BoxFut, FIB_N, GRAINS, rayon_fib, rayon_pool, seq_fib, tether_fib_task, tokio_runtime,
};

/// A leaf of `join_pair`: a future returned by a call, so `join!` sees
/// that it is `Send` and may fork it.
async fn leaf(n: u64) -> u64 {
    seq_fib(black_box(n))
}

fn tokio_fib(n: u64, cutoff: u64) -> BoxFut {
    Box::pin(async move {
        if n < cutoff {
            return seq_fib(black_box(n));
        }
        let a = tokio::spawn(tokio_fib(n - 1, cutoff));
        let b = tokio_fib(n - 2, cutoff).await;
        a.await.expect("fib task panicked") + b
    })
}

fn join(c: &mut Criterion) {
    tether_benches::report_parallel_capacity("before");
    let tether_rt = tether_benches::tether_runtime();
    let tokio_rt = tokio_runtime();
    let pool = rayon_pool();
    let expected = seq_fib(FIB_N);

    let mut group = c.benchmark_group("join_fib");
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP_TIME)
        .measurement_time(MEASUREMENT_TIME);
    for (grain, cutoff) in GRAINS {
        group.bench_with_input(BenchmarkId::new(grain, "tether"), &cutoff, |b, &cutoff| {
            b.iter(|| assert_eq!(tether_fib_task(&tether_rt, cutoff), expected))
        });
        group.bench_with_input(BenchmarkId::new(grain, "rayon"), &cutoff, |b, &cutoff| {
            b.iter(|| assert_eq!(pool.install(|| rayon_fib(FIB_N, cutoff)), expected))
        });
        group.bench_with_input(BenchmarkId::new(grain, "tokio"), &cutoff, |b, &cutoff| {
            b.iter(|| {
                let out = tokio_rt
                    .block_on(async { tokio::spawn(tokio_fib(FIB_N, cutoff)).await })
                    .expect("fib task panicked");
                assert_eq!(out, expected);
            })
        });
    }
    group.finish();

    let expected_pairs = PAIRS * 2 * seq_fib(LEAF);
    let mut group = c.benchmark_group("join_pair");
    group
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP_TIME)
        .measurement_time(MEASUREMENT_TIME);
    group.bench_function("tether", |b| {
        b.iter(|| {
            let out = tether_rt
                .block_on(async {
                    tether::spawn(async {
                        let mut sum = 0;
                        for _ in 0..PAIRS {
                            let (a, b) = tether::join!(leaf(LEAF), leaf(LEAF));
                            sum += a + b;
                        }
                        sum
                    })
                    .await
                })
                .expect("join task panicked");
            assert_eq!(out, expected_pairs);
        })
    });
    group.bench_function("rayon", |b| {
        b.iter(|| {
            let out: u64 = pool.install(|| {
                (0..PAIRS)
                    .map(|_| {
                        let (a, b) =
                            rayon::join(|| seq_fib(black_box(LEAF)), || seq_fib(black_box(LEAF)));
                        a + b
                    })
                    .sum()
            });
            assert_eq!(out, expected_pairs);
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let out = tokio_rt
                .block_on(async {
                    tokio::spawn(async {
                        let mut sum = 0;
                        for _ in 0..PAIRS {
                            let (a, b) = tokio::join!(leaf(LEAF), leaf(LEAF));
                            sum += a + b;
                        }
                        sum
                    })
                    .await
                })
                .expect("join task panicked");
            assert_eq!(out, expected_pairs);
        })
    });
    group.finish();
    tether_benches::report_parallel_capacity("after");
}

criterion_group!(benches, join);
criterion_main!(benches);
