//! Workloads shared by more than one bench binary, so that every binary
//! measures exactly the same code: the scoped fan-out (its per-child work
//! and its contenders), the recursive `fib` of the join benches, and the
//! runtime benches' [`Peer`] abstraction with `yield_many`. Included with `#[path]` by
//! `scope_fanout`, `join`, `runtime`, `rounds` and `remote_spawn`; each uses
//! what it needs.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::channel::mpsc;

/// Elements per fan-out child: a few microseconds of work, small enough
/// that scheduling overhead matters, large enough to be a "task".
pub const CHUNK: usize = 64;

/// The per-element work of a fan-out child: a few multiply/rotate rounds
/// the optimiser cannot fold away.
pub fn work(x: u64) -> u64 {
    let mut h = x;
    for _ in 0..8 {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x;
    }
    h
}

/// One fan-out child's result: `work` folded over its chunk.
pub fn chunk_sum(c: &[u64]) -> u64 {
    c.iter().map(|&x| work(x)).fold(0, u64::wrapping_add)
}

/// `fib(n)`, sequentially: the leaves of the recursive joins.
pub fn seq_fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        seq_fib(n - 1) + seq_fib(n - 2)
    }
}

/// `fib(FIB_N)` in the join benches: ~3.5 million leaves, a few
/// milliseconds for `rayon::join`.
pub const FIB_N: u64 = 32;

/// The join benches' two grains: (name, sequential below this `n`).
/// `fine` makes hundreds of thousands of joins of a few hundred
/// nanoseconds of work each (the cost of one join); `coarse` a few hundred
/// of ~20 µs each (how well the work is spread).
pub const GRAINS: [(&str, u64); 2] = [("fine", 6), ("coarse", 20)];

/// A boxed `Send` future, as recursion needs.
pub type BoxFut = Pin<Box<dyn Future<Output = u64> + Send>>;

/// `fib(n)` by `tether::join!` of the two recursive calls, sequential below
/// `cutoff`.
pub fn tether_fib(n: u64, cutoff: u64) -> BoxFut {
    Box::pin(async move {
        if n < cutoff {
            return seq_fib(black_box(n));
        }
        let (a, b) = tether::join!(tether_fib(n - 1, cutoff), tether_fib(n - 2, cutoff));
        a + b
    })
}

/// `fib(FIB_N)` by [`tether_fib`] in a task on `rt`, from outside it: one
/// iteration of the join benches' tether contender.
pub fn tether_fib_task(rt: &tether::Runtime, cutoff: u64) -> u64 {
    rt.block_on(async { tether::spawn(tether_fib(FIB_N, cutoff)).await })
        .expect("fib task panicked")
}

/// `fib(n)` by `rayon::join` of the two recursive calls, sequential below
/// `cutoff`.
pub fn rayon_fib(n: u64, cutoff: u64) -> u64 {
    if n < cutoff {
        return seq_fib(black_box(n));
    }
    let (a, b) = rayon::join(|| rayon_fib(n - 1, cutoff), || rayon_fib(n - 2, cutoff));
    a + b
}

/// The `tether_scope` fan-out: a blocking `Runtime::scope` around
/// `tether::scope` in a task, one child per chunk of `data`, each adding
/// its `chunk_sum` to `total` (both borrowed).
pub fn fanout_tether_scope(rt: &tether::Runtime, data: &[u64], total: &AtomicU64) {
    rt.scope(|bs| {
        bs.spawn(tether::scope(|s| async move {
            for c in data.chunks(CHUNK) {
                s.spawn(async move {
                    total.fetch_add(chunk_sum(c), Ordering::Relaxed);
                });
            }
        }));
    });
}

/// The same fan-out with `rayon::scope` (on the global pool, or the pool
/// of an enclosing `install`).
pub fn fanout_rayon_scope(data: &[u64], total: &AtomicU64) {
    rayon::scope(|s| {
        for c in data.chunks(CHUNK) {
            s.spawn(move |_| {
                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
            });
        }
    });
}

/// The same fan-out with moro, driven by `futures::executor::block_on`
/// (one thread).
pub fn fanout_moro(data: &[u64], total: &AtomicU64) {
    futures::executor::block_on(moro::async_scope!(|scope| {
        for c in data.chunks(CHUNK) {
            scope.spawn(async move {
                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
            });
        }
    }));
}

/// The same fan-out of `n` chunks with `tokio::spawn`: `'static` only, so
/// every task clones the `Arc`s; joined with a `JoinSet`.
pub fn fanout_tokio_arc(
    rt: &tokio::runtime::Runtime,
    shared: &Arc<Vec<u64>>,
    n: usize,
    total: &Arc<AtomicU64>,
) {
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let (shared, total) = (shared.clone(), total.clone());
            set.spawn(async move {
                let c = &shared[i * CHUNK..(i + 1) * CHUNK];
                total.fetch_add(chunk_sum(c), Ordering::Relaxed);
            });
        }
        while set.join_next().await.is_some() {}
    });
}

/// The tokio peer's runtime: multi-thread, [`WORKERS`] workers, drivers
/// enabled as in `Runtime::new()` (its workers park in the I/O driver, as
/// tether's do).
///
/// [`WORKERS`]: tether_benches::WORKERS
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(tether_benches::WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The rayon peer's pool: [`WORKERS`] threads.
///
/// [`WORKERS`]: tether_benches::WORKERS
pub fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(tether_benches::WORKERS)
        .build()
        .expect("rayon pool")
}

// The runtime benches' peers (`runtime`, `rounds`).

/// The operations a bench needs from a runtime. Static methods, so a
/// generic workload monomorphises to direct calls: no dispatch cost differs
/// between peers.
pub trait Peer {
    /// The group member name (`<bench>/<NAME>`).
    const NAME: &'static str;
    /// The runtime value.
    type Runtime;
    /// A multi-thread runtime with [`WORKERS`](tether_benches::WORKERS) workers.
    fn runtime() -> Self::Runtime;
    /// Runs `fut` to completion on the calling (non-worker) thread.
    fn block_on<F: Future>(rt: &Self::Runtime, fut: F) -> F::Output;
    /// Spawns a detached task from inside the runtime.
    fn spawn<F: Future<Output = ()> + Send + 'static>(fut: F);
    /// Spawns a task from outside the runtime; the returned future resolves
    /// when the task has finished (and panics if the task failed).
    fn spawn_on<F: Future<Output = ()> + Send + 'static>(
        rt: &Self::Runtime,
        fut: F,
    ) -> impl Future<Output = ()> + Send + 'static;
    /// Spawns a task from inside the runtime; the returned future resolves
    /// to its output (and panics if the task failed).
    fn spawn_join<T: Send + 'static>(
        fut: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static;
    /// The runtime's `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// The runtime's timer: sleeps for `d`.
    fn sleep(d: std::time::Duration) -> impl Future<Output = ()> + Send;
}

/// tether's multi-thread runtime.
pub struct Tether;

impl Peer for Tether {
    const NAME: &'static str = "tether";
    type Runtime = tether::Runtime;

    fn runtime() -> tether::Runtime {
        tether_benches::tether_runtime()
    }

    fn block_on<F: Future>(rt: &tether::Runtime, fut: F) -> F::Output {
        rt.block_on(fut)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(fut: F) {
        drop(tether::spawn(fut));
    }

    fn spawn_on<F: Future<Output = ()> + Send + 'static>(
        rt: &tether::Runtime,
        fut: F,
    ) -> impl Future<Output = ()> + Send + 'static {
        let handle = rt.spawn(fut);
        async move { handle.await.expect("tether task failed") }
    }

    fn spawn_join<T: Send + 'static>(
        fut: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let handle = tether::spawn(fut);
        async move { handle.await.expect("tether task failed") }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tether::yield_now()
    }

    fn sleep(d: std::time::Duration) -> impl Future<Output = ()> + Send {
        tether::time::sleep(d)
    }
}

/// tokio's multi-thread runtime, with its drivers enabled (tether's are
/// always on).
pub struct Tokio;

impl Peer for Tokio {
    const NAME: &'static str = "tokio";
    type Runtime = tokio::runtime::Runtime;

    fn runtime() -> tokio::runtime::Runtime {
        tokio_runtime()
    }

    fn block_on<F: Future>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output {
        rt.block_on(fut)
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(fut: F) {
        drop(tokio::spawn(fut));
    }

    fn spawn_on<F: Future<Output = ()> + Send + 'static>(
        rt: &tokio::runtime::Runtime,
        fut: F,
    ) -> impl Future<Output = ()> + Send + 'static {
        let handle = rt.spawn(fut);
        async move { handle.await.expect("tokio task failed") }
    }

    fn spawn_join<T: Send + 'static>(
        fut: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = T> + Send + 'static {
        let handle = tokio::spawn(fut);
        async move { handle.await.expect("tokio task failed") }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: std::time::Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

/// Tasks in `yield_many` (tokio's `TASKS`).
pub const YIELD_TASKS: usize = 200;

/// Yields per task in `yield_many` (tokio's `NUM_YIELD`).
pub const NUM_YIELD: usize = 1_000;

/// 200 tasks spawned from outside, each yielding 1000 times; the outside
/// thread waits for 200 completion messages.
pub fn yield_many<P: Peer>(rt: &P::Runtime) -> impl FnMut() + '_ {
    let (done_tx, mut done_rx) = mpsc::unbounded();
    move || {
        for _ in 0..YIELD_TASKS {
            let done_tx = done_tx.clone();
            // Detached: the completion message is the signal.
            drop(P::spawn_on(rt, async move {
                for _ in 0..NUM_YIELD {
                    P::yield_now().await;
                }
                done_tx.unbounded_send(()).expect("done receiver dropped");
            }));
        }
        P::block_on(rt, async {
            for _ in 0..YIELD_TASKS {
                done_rx.next().await.expect("done channel closed");
            }
        });
    }
}
