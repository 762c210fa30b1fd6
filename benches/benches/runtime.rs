//! Foundation scheduler benchmarks: tether against tokio, both multi-thread
//! with [`WORKERS`](tether_benches::WORKERS) workers, in the same run.
//!
//! The workloads have the shapes of tokio's well-known multi-thread runtime
//! benches. Each one is written once, generic over [`Peer`], so both
//! runtimes execute exactly the same code; completion signals and the
//! ping-pong messages use `futures::channel` for both, so the channel is not
//! what differs.
//!
//! | group | workload |
//! |---|---|
//! | `spawn_many_local` | 10k spawns from a task on a worker; the last one signals |
//! | `spawn_many_remote` | 10k spawns from outside the runtime, then await every handle |
//! | `ping_pong` | 1000 pairs of tasks exchange a message each way over oneshots |
//! | `yield_many` | 200 tasks (spawned from outside) × 1000 `yield_now` |
//! | `chained_spawn` | a chain of 1000 tasks, each spawning the next |
//!
//! Run: `cargo bench -p tether-benches --bench runtime`, then
//! `bash benches/compare.sh` for the tether ÷ tokio table and chart.
//! For profiling, `TETHER_BENCH_PROFILE=<bench>/<peer>:<iterations>` runs
//! one workload a fixed number of times without criterion (see [`main`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use criterion::Criterion;
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use tether_benches::{MEASUREMENT_TIME, SAMPLE_SIZE, WARM_UP_TIME};

#[path = "common/workloads.rs"]
#[allow(
    dead_code,
    reason = "shared with other benches; this one uses part of it"
)]
mod workloads;
use workloads::{Peer, Tether, Tokio, yield_many};

/// Tasks spawned per iteration by the spawn benches (tokio's `NUM_SPAWN`).
const NUM_SPAWN: usize = 10_000;

/// Ping-pong pairs per iteration (tokio's `NUM_PINGS`).
const NUM_PINGS: usize = 1_000;

/// Length of the `chained_spawn` chain (tokio's `ITER`).
const CHAIN_LEN: usize = 1_000;

/// 10k detached spawns from a task on a worker thread (so they go through
/// the worker's local queue); a shared countdown lets the last task to run
/// signal completion.
///
/// tokio's bench of this name spawns from inside `block_on`, which on a
/// multi-thread runtime is not a worker: those spawns go through the
/// injection queue, which `spawn_many_remote` already measures. Spawning
/// from a task measures the local path the name promises.
fn spawn_many_local<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
    let (done_tx, mut done_rx) = mpsc::unbounded();
    let remaining = Arc::new(AtomicUsize::new(0));
    move || {
        remaining.store(NUM_SPAWN, Relaxed);
        let done_tx = done_tx.clone();
        let remaining_in_task = remaining.clone();
        P::block_on(rt, async {
            P::spawn(async move {
                for _ in 0..NUM_SPAWN {
                    let done_tx = done_tx.clone();
                    let remaining = remaining_in_task.clone();
                    P::spawn(async move {
                        if remaining.fetch_sub(1, Relaxed) == 1 {
                            done_tx.unbounded_send(()).expect("done receiver dropped");
                        }
                    });
                }
            });
            done_rx.next().await.expect("done channel closed");
        });
        assert_eq!(remaining.load(Relaxed), 0);
    }
}

/// 10k spawns from a non-runtime thread (through the injector), then the
/// same thread awaits every handle in order.
fn spawn_many_remote<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
    let ran = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    move || {
        ran.store(0, Relaxed);
        for _ in 0..NUM_SPAWN {
            let ran = ran.clone();
            handles.push(P::spawn_on(rt, async move {
                ran.fetch_add(1, Relaxed);
            }));
        }
        P::block_on(rt, async {
            for handle in handles.drain(..) {
                handle.await;
            }
        });
        assert_eq!(ran.load(Relaxed), NUM_SPAWN);
    }
}

/// One task spawns 1000 "ping" tasks; each spawns its "pong" partner,
/// sends it a message over a oneshot and awaits the reply over another.
fn ping_pong<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
    let (done_tx, mut done_rx) = mpsc::unbounded();
    let remaining = Arc::new(AtomicUsize::new(0));
    move || {
        remaining.store(NUM_PINGS, Relaxed);
        let done_tx = done_tx.clone();
        let remaining = remaining.clone();
        P::block_on(rt, async {
            P::spawn(async move {
                for _ in 0..NUM_PINGS {
                    let remaining = remaining.clone();
                    let done_tx = done_tx.clone();
                    P::spawn(async move {
                        let (ping_tx, ping_rx) = oneshot::channel::<()>();
                        let (pong_tx, pong_rx) = oneshot::channel::<()>();
                        P::spawn(async move {
                            ping_rx.await.expect("ping sender dropped");
                            pong_tx.send(()).expect("pong receiver dropped");
                        });
                        ping_tx.send(()).expect("ping receiver dropped");
                        pong_rx.await.expect("pong sender dropped");
                        if remaining.fetch_sub(1, Relaxed) == 1 {
                            done_tx.unbounded_send(()).expect("done receiver dropped");
                        }
                    });
                }
            });
            done_rx.next().await.expect("done channel closed");
        });
    }
}

/// Link `n` of the spawn chain: spawns link `n - 1`; link 0 signals.
fn chain<P: Peer>(done_tx: mpsc::UnboundedSender<()>, n: usize) {
    if n == 0 {
        done_tx.unbounded_send(()).expect("done receiver dropped");
    } else {
        P::spawn(async move { chain::<P>(done_tx, n - 1) });
    }
}

/// A chain of 1000 tasks, each spawning the next from inside the runtime.
fn chained_spawn<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
    let (done_tx, mut done_rx) = mpsc::unbounded();
    move || {
        let done_tx = done_tx.clone();
        P::block_on(rt, async {
            P::spawn(async move { chain::<P>(done_tx, CHAIN_LEN) });
            done_rx.next().await.expect("done channel closed");
        });
    }
}

/// A workload, generic over the peer that runs it.
trait Workload {
    /// The criterion group name.
    const NAME: &'static str;
    /// Sets the workload up on `rt` and returns one iteration.
    fn make<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_;
}

/// Declares a [`Workload`] type for a generic workload function.
macro_rules! workload {
    ($ty:ident, $func:ident) => {
        /// The workload of the function of the same name.
        struct $ty;
        impl Workload for $ty {
            const NAME: &'static str = stringify!($func);
            fn make<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
                $func::<P>(rt)
            }
        }
    };
}

workload!(SpawnManyLocal, spawn_many_local);
workload!(SpawnManyRemote, spawn_many_remote);
workload!(PingPong, ping_pong);
workload!(YieldMany, yield_many);
workload!(ChainedSpawn, chained_spawn);

/// Benches `W` on `P` as `<W::NAME>/<P::NAME>`, on a fresh runtime that is
/// dropped before the next peer starts, so two runtimes never compete for
/// the cores.
fn bench_peer<W: Workload, P: Peer>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let rt = P::runtime();
    let mut iteration = W::make::<P>(&rt);
    group.bench_function(P::NAME, |b| b.iter(&mut iteration));
}

/// Benches `W` on every peer, in one group.
fn bench_workload<W: Workload>(c: &mut Criterion) {
    let mut group = c.benchmark_group(W::NAME);
    bench_peer::<W, Tether>(&mut group);
    bench_peer::<W, Tokio>(&mut group);
    group.finish();
}

fn runtime_benches(c: &mut Criterion) {
    bench_workload::<SpawnManyLocal>(c);
    bench_workload::<SpawnManyRemote>(c);
    bench_workload::<PingPong>(c);
    bench_workload::<YieldMany>(c);
    bench_workload::<ChainedSpawn>(c);
}

/// Environment variable selecting the profiling mode (see [`main`]).
const PROFILE_ENV: &str = "TETHER_BENCH_PROFILE";

/// Runs `iters` iterations of `W` on `P` if `bench`/`peer` name them.
fn try_profile<W: Workload>(bench: &str, peer: &str, iters: u64) -> bool {
    fn run<W: Workload, P: Peer>(iters: u64) {
        let rt = P::runtime();
        let mut iteration = W::make::<P>(&rt);
        let mut times = Vec::with_capacity(iters as usize);
        for _ in 0..iters {
            let start = std::time::Instant::now();
            iteration();
            times.push(start.elapsed());
        }
        // The per-iteration spread shows whether a slow mode belongs to a
        // process (every iteration slow) or comes and goes.
        let d = tether_benches::Distribution::new(times);
        let f = tether_benches::fmt_duration;
        eprintln!(
            "{}/{}: {iters} iterations: min {} p10 {} p50 {} p90 {} max {}",
            W::NAME,
            P::NAME,
            f(d.min()),
            f(d.percentile(10.0)),
            f(d.p50()),
            f(d.percentile(90.0)),
            f(d.max()),
        );
    }
    if bench != W::NAME {
        return false;
    }
    match peer {
        Tether::NAME => run::<W, Tether>(iters),
        Tokio::NAME => run::<W, Tokio>(iters),
        _ => return false,
    }
    true
}

/// Profiling mode: runs one workload for a fixed number of iterations,
/// without criterion, so a profiler's totals divide by a known count:
///
/// ```text
/// TETHER_BENCH_PROFILE=ping_pong/tether:100 \
///     valgrind --tool=callgrind target/release/deps/runtime-<hash>
/// ```
fn profile(spec: &str) {
    let parsed = spec.rsplit_once(':').and_then(|(id, iters)| {
        let (bench, peer) = id.rsplit_once('/')?;
        Some((bench, peer, iters.parse::<u64>().ok()?))
    });
    let Some((bench, peer, iters)) = parsed else {
        eprintln!("{PROFILE_ENV} must look like `<bench>/<peer>:<iterations>`, got `{spec}`");
        std::process::exit(2);
    };
    let found = try_profile::<SpawnManyLocal>(bench, peer, iters)
        || try_profile::<SpawnManyRemote>(bench, peer, iters)
        || try_profile::<PingPong>(bench, peer, iters)
        || try_profile::<YieldMany>(bench, peer, iters)
        || try_profile::<ChainedSpawn>(bench, peer, iters);
    if !found {
        eprintln!("{PROFILE_ENV}: no bench `{bench}` with peer `{peer}`");
        std::process::exit(2);
    }
}

fn main() {
    if let Ok(spec) = std::env::var(PROFILE_ENV) {
        profile(&spec);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .measurement_time(MEASUREMENT_TIME)
        .warm_up_time(WARM_UP_TIME)
        .configure_from_args();
    runtime_benches(&mut c);
    c.final_summary();
}
