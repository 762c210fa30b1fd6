//! Scoped fan-out: N small CPU tasks over a borrowed `Vec`, side by side.
//!
//! Every contender runs the same N tasks; task `i` folds `work` over chunk
//! `i` of the data (`CHUNK` elements) and adds the result to a shared
//! atomic. The contenders:
//!
//! * `tether_scope` — `tether::scope` inside a task (children forked over
//!   the workers within the scope's poll), children borrow the `Vec`;
//! * `tether_scope_one_thread` — the same scope under
//!   `futures::executor::block_on` (no runtime, one thread; compare `moro`);
//! * `tether_join_set` — `tether::ScopedJoinSet`, same borrowing;
//! * `tether_blocking_scope` — `Runtime::scope`, each child a runtime task;
//! * `tokio_arc_join_set` — `tokio::spawn` needs `'static`: `Arc<Vec>` cloned
//!   into every task, joined with a `JoinSet`;
//! * `rayon_scope`, `std_thread_scope` (N = 100 only: one thread per task),
//!   `async_scoped` (`TokioScope::scope_and_block`), `moro` (one-thread
//!   concurrency, driven by `futures::executor::block_on`).
//!
//! Run with `cargo bench -p tether-benches --bench scope_fanout`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Task counts compared.
const SIZES: [usize; 2] = [100, 10_000];

#[path = "common/workloads.rs"]
#[allow(
    dead_code,
    reason = "shared with other benches; this one uses part of it"
)]
mod workloads;
use workloads::{
    CHUNK, chunk_sum, fanout_moro, fanout_rayon_scope, fanout_tether_scope, fanout_tokio_arc,
};

fn fanout(c: &mut Criterion) {
    tether_benches::report_parallel_capacity("before");
    let tether_rt = tether::Runtime::new().unwrap();
    let tokio_rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("scope_fanout");
    group.sample_size(20);

    for &n in &SIZES {
        let data: Vec<u64> = (0..(n * CHUNK) as u64).collect();
        let expected = data.chunks(CHUNK).map(chunk_sum).fold(0, u64::wrapping_add);
        let total = AtomicU64::new(0);
        let check = |total: &AtomicU64| {
            assert_eq!(total.swap(0, Ordering::Relaxed), expected);
        };

        group.bench_with_input(BenchmarkId::new("tether_scope", n), &n, |b, _| {
            b.iter(|| {
                fanout_tether_scope(&tether_rt, &data, &total);
                check(&total);
            })
        });

        // The scope awaited directly in `block_on`, as `#[tether::main]`
        // does: the calling thread forks, the workers steal.
        group.bench_with_input(BenchmarkId::new("tether_scope_block_on", n), &n, |b, _| {
            b.iter(|| {
                let (data, total) = (&data, &total);
                tether_rt.block_on(tether::scope(|s| async move {
                    for c in data.chunks(CHUNK) {
                        s.spawn(async move {
                            total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                        });
                    }
                }));
                check(total);
            })
        });

        // Same scope, no runtime: one thread, like moro below.
        group.bench_with_input(
            BenchmarkId::new("tether_scope_one_thread", n),
            &n,
            |b, _| {
                b.iter(|| {
                    let (data, total) = (&data, &total);
                    futures::executor::block_on(tether::scope(|s| async move {
                        for c in data.chunks(CHUNK) {
                            s.spawn(async move {
                                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                            });
                        }
                    }));
                    check(total);
                })
            },
        );

        group.bench_with_input(BenchmarkId::new("tether_join_set", n), &n, |b, _| {
            b.iter(|| {
                let (data, total) = (&data, &total);
                tether_rt.scope(|bs| {
                    bs.spawn(async move {
                        let mut set = tether::ScopedJoinSet::new();
                        for c in data.chunks(CHUNK) {
                            set.spawn(async move {
                                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                            });
                        }
                        while set.join_next().await.is_some() {}
                    });
                });
                check(total);
            })
        });

        group.bench_with_input(BenchmarkId::new("tether_join_all", n), &n, |b, _| {
            b.iter(|| {
                let (data, total) = (&data, &total);
                tether_rt.scope(|bs| {
                    bs.spawn(async move {
                        let sums = tether::join_all(
                            data.chunks(CHUNK).map(|c| async move { chunk_sum(c) }),
                        )
                        .await;
                        total.fetch_add(
                            sums.into_iter().fold(0, u64::wrapping_add),
                            Ordering::Relaxed,
                        );
                    });
                });
                check(total);
            })
        });

        group.bench_with_input(BenchmarkId::new("tether_blocking_scope", n), &n, |b, _| {
            b.iter(|| {
                let total = &total;
                tether_rt.scope(|s| {
                    for c in data.chunks(CHUNK) {
                        s.spawn(async move {
                            total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                        });
                    }
                });
                check(total);
            })
        });

        let shared = Arc::new(data.clone());
        group.bench_with_input(BenchmarkId::new("tokio_arc_join_set", n), &n, |b, _| {
            let total = Arc::new(AtomicU64::new(0));
            b.iter(|| {
                fanout_tokio_arc(&tokio_rt, &shared, n, &total);
                check(&total);
            })
        });

        group.bench_with_input(BenchmarkId::new("tokio_futures_join_all", n), &n, |b, _| {
            b.iter(|| {
                let (data, total) = (&data, &total);
                // `futures::future::join_all` borrows, so it needs no `Arc`,
                // but polls every future on this one thread.
                let sums = tokio_rt.block_on(futures::future::join_all(
                    data.chunks(CHUNK).map(|c| async move { chunk_sum(c) }),
                ));
                total.fetch_add(
                    sums.into_iter().fold(0, u64::wrapping_add),
                    Ordering::Relaxed,
                );
                check(total);
            })
        });

        group.bench_with_input(BenchmarkId::new("rayon_scope", n), &n, |b, _| {
            b.iter(|| {
                fanout_rayon_scope(&data, &total);
                check(&total);
            })
        });

        if n <= 100 {
            group.bench_with_input(BenchmarkId::new("std_thread_scope", n), &n, |b, _| {
                b.iter(|| {
                    let total = &total;
                    std::thread::scope(|s| {
                        for c in data.chunks(CHUNK) {
                            s.spawn(move || {
                                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                            });
                        }
                    });
                    check(total);
                })
            });
        }

        group.bench_with_input(BenchmarkId::new("async_scoped", n), &n, |b, _| {
            let _enter = tokio_rt.enter();
            b.iter(|| {
                let total = &total;
                let ((), outs) = async_scoped::TokioScope::scope_and_block(|s| {
                    for c in data.chunks(CHUNK) {
                        s.spawn(async move {
                            total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                        });
                    }
                });
                black_box(outs);
                check(total);
            })
        });

        group.bench_with_input(BenchmarkId::new("moro", n), &n, |b, _| {
            b.iter(|| {
                fanout_moro(&data, &total);
                check(&total);
            })
        });
    }
    group.finish();
    tether_benches::report_parallel_capacity("after");
}

criterion_group!(benches, fanout);
criterion_main!(benches);
