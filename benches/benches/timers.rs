//! Timer benchmarks: tether against tokio, same workload, same worker count.
//!
//! Run with `cargo bench -p tether-benches --bench timers`.
//!
//! * `create_cancel/100k`: 100k sleeps (deadlines 1–60 s away) are created,
//!   registered by one poll each, then dropped before firing; split over
//!   two tasks on a two-worker runtime. Measures registration plus O(1)
//!   cancellation.
//! * `fire/100k`: 100k tasks each await one sleep due 0–4 ms from now;
//!   the iteration ends when all have fired. Measures registration plus the
//!   expiry path (the ~4 ms of waiting, and spawning the tasks, are part of
//!   both runtimes' numbers).
//!
//! (A `FuturesUnordered` of 100k sleeps inside a spawned task is not used
//! for `fire`: with tokio it runs into a known quadratic interaction between
//! its cooperative budget and `FuturesUnordered`, which would measure that
//! rather than the timers.)
//!
//! Both runtimes run the same code: sleeps are boxed and pinned for both
//! (tokio's `Sleep` is `!Unpin`; tether's is `Unpin` and would not need it).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// Timers per iteration.
const TIMERS: usize = 100_000;
/// Worker threads of both runtimes (the bench machine has two cores).
const WORKERS: usize = 2;
/// Tasks sharing the timers, so both workers register concurrently.
const TASKS: usize = 2;

/// Creates, registers and cancels `n` sleeps made by `make`.
macro_rules! create_cancel {
    ($sleep:path, $n:expr) => {
        async move {
            let mut sleeps = Vec::with_capacity($n);
            for i in 0..$n {
                let d = Duration::from_millis(1_000 + (i as u64 * 7919) % 59_000);
                sleeps.push(Box::pin($sleep(d)));
            }
            for s in &mut sleeps {
                assert!(futures::poll!(s.as_mut()).is_pending());
            }
            drop(black_box(sleeps));
        }
    };
}

/// Spawns `n` tasks that each await a sleep due within a few
/// milliseconds, and waits for all of them.
macro_rules! fire {
    ($spawn:path, $sleep:path, $n:expr) => {
        async move {
            let tasks: Vec<_> = (0..$n)
                .map(|i| $spawn($sleep(Duration::from_millis(i as u64 % 5))))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
}

fn tether_rt() -> tether::Runtime {
    tether::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .build()
        .unwrap()
}

fn create_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_cancel/100k");
    let rt = tether_rt();
    group.bench_function("tether", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| tether::spawn(create_cancel!(tether::time::sleep, TIMERS / TASKS)))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    drop(rt);
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| tokio::spawn(create_cancel!(tokio::time::sleep, TIMERS / TASKS)))
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

fn fire(c: &mut Criterion) {
    let mut group = c.benchmark_group("fire/100k");
    let rt = tether_rt();
    group.bench_function("tether", |b| {
        b.iter(|| rt.block_on(fire!(tether::spawn, tether::time::sleep, TIMERS)))
    });
    drop(rt);
    let rt = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| rt.block_on(fire!(tokio::spawn, tokio::time::sleep, TIMERS)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = create_cancel, fire
}
criterion_main!(benches);
