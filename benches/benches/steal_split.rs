//! Diagnostic for the two modes of `spawn_many_local` (`--bench runtime`):
//! runs the same workload (one task on a worker spawns 10k tiny tasks; the
//! last to run signals) and sorts every iteration by *where the spawned
//! tasks ran*: all on the spawning worker (“no steal”: the other worker
//! never took part) or partly on the other worker (“stolen”). For each mode
//! it prints how many iterations fell in it and their spawn phase / total
//! time, and it calibrates what one cross-core cache-line round trip costs
//! on this machine right now (two threads bouncing one cache line), since
//! that is what the stolen mode pays per task.
//!
//! On a virtual machine the calibration can move (the hypervisor places
//! the vCPUs on one core complex or on two) and the stolen mode moves with
//! it; on a loaded machine the other worker is often not scheduled in time
//! and the no-steal mode dominates. Both explain a bench that is bimodal
//! from run to run.
//!
//! ```text
//! cargo bench -p tether-benches --bench steal_split                 # both runtimes
//! cargo bench -p tether-benches --bench steal_split -- --quick      # fewer iterations
//! # closer to an idle machine (real-time priority, a few seconds; root only):
//! chrt -f 10 target/release/deps/steal_split-<hash> --bench
//! ```
//!
//! Not part of `benches/latency.sh`: it explains a number rather than
//! producing one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::mpsc;
use tether_benches::{BenchArgs, Distribution, Table, WORKERS, fmt_duration};

/// Tasks spawned per iteration (as `spawn_many_local`).
const NUM_SPAWN: usize = 10_000;
/// Cache-line round trips timed by [`cross_core_round_trip`].
const ROUND_TRIPS: u64 = 100_000;

/// A small per-thread number, so a task can tell cheaply which thread runs
/// it (`std::thread::current().id()` clones an `Arc`).
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local! { static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed); }
    NUMBER.with(|n| *n)
}

/// One iteration's measurements.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// From the start to the end of the spawning loop.
    spawning: Duration,
    /// From the start to the last task's run (the signal's delivery to the
    /// waiting thread excluded: that is an OS wake-up, not runtime work).
    total: Duration,
    /// Spawned tasks that ran on another thread than their spawner.
    stolen: usize,
}

/// State shared by one runtime's iterations.
#[derive(Clone)]
struct Shared {
    remaining: Arc<AtomicUsize>,
    stolen: Arc<AtomicUsize>,
    spawner: Arc<AtomicUsize>,
    /// Nanoseconds since `start` at which the spawn loop ended.
    spawned_at: Arc<AtomicU64>,
    done_tx: mpsc::UnboundedSender<Instant>,
}

impl Shared {
    fn new(done_tx: mpsc::UnboundedSender<Instant>) -> Shared {
        Shared {
            remaining: Arc::new(AtomicUsize::new(0)),
            stolen: Arc::new(AtomicUsize::new(0)),
            spawner: Arc::new(AtomicUsize::new(0)),
            spawned_at: Arc::new(AtomicU64::new(0)),
            done_tx,
        }
    }

    /// The body of one spawned task.
    fn task(&self) -> impl Future<Output = ()> + Send + 'static {
        let s = self.clone();
        async move {
            if thread_number() != s.spawner.load(Ordering::Relaxed) {
                s.stolen.fetch_add(1, Ordering::Relaxed);
            }
            if s.remaining.fetch_sub(1, Ordering::Relaxed) == 1 {
                s.done_tx
                    .unbounded_send(Instant::now())
                    .expect("done receiver dropped");
            }
        }
    }
}

/// One iteration on a runtime: `$spawn` is the runtime's spawn function.
macro_rules! iteration {
    ($rt:expr, $spawn:path, $shared:expr, $done_rx:expr) => {{
        let shared: &Shared = $shared;
        shared.remaining.store(NUM_SPAWN, Ordering::Relaxed);
        shared.stolen.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let spawner = shared.clone();
        let last_ran = $rt.block_on(async {
            drop($spawn(async move {
                spawner.spawner.store(thread_number(), Ordering::Relaxed);
                for _ in 0..NUM_SPAWN {
                    drop($spawn(spawner.task()));
                }
                spawner
                    .spawned_at
                    .store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }));
            $done_rx.next().await.expect("done channel closed")
        });
        Sample {
            spawning: Duration::from_nanos(shared.spawned_at.load(Ordering::Relaxed)),
            total: last_ran - start,
            stolen: shared.stolen.load(Ordering::Relaxed),
        }
    }};
}

fn run_tether(iters: usize) -> Vec<Sample> {
    let rt = tether_benches::tether_runtime();
    let (done_tx, mut done_rx) = mpsc::unbounded();
    let shared = Shared::new(done_tx);
    (0..iters)
        .map(|_| iteration!(rt, tether::spawn, &shared, done_rx))
        .collect()
}

fn run_tokio(iters: usize) -> Vec<Sample> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (done_tx, mut done_rx) = mpsc::unbounded();
    let shared = Shared::new(done_tx);
    (0..iters)
        .map(|_| iteration!(rt, tokio::spawn, &shared, done_rx))
        .collect()
}

/// Round trips per timed chunk of [`cross_core_round_trip`].
const CHUNK: u64 = 1_000;

/// Time of one round trip of a cache line between two threads (each waits
/// for the other's write, then writes back): the fastest chunk of
/// [`CHUNK`] round trips, so a chunk in which the OS descheduled one of the
/// threads does not count.
fn cross_core_round_trip() -> Duration {
    #[repr(align(128))]
    struct Line(AtomicU64);
    let line = Arc::new(Line(AtomicU64::new(0)));
    let other = line.clone();
    let echo = std::thread::spawn(move || {
        for i in 0..ROUND_TRIPS {
            while other.0.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            other.0.store(2 * i + 2, Ordering::Release);
        }
    });
    let mut best = Duration::MAX;
    for chunk in 0..ROUND_TRIPS / CHUNK {
        let start = Instant::now();
        for i in chunk * CHUNK..(chunk + 1) * CHUNK {
            line.0.store(2 * i + 1, Ordering::Release);
            while line.0.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        best = best.min(start.elapsed() / CHUNK as u32);
    }
    echo.join().expect("echo thread");
    best
}

fn main() {
    let args = BenchArgs::from_env();
    if !args.selects("steal_split") {
        return;
    }
    let iters = args.pick(500, 100);
    let before = cross_core_round_trip();
    let runs = [("tether", run_tether(iters)), ("tokio", run_tokio(iters))];
    let after = cross_core_round_trip();
    let table = Table::new(
        "steal_split: spawn_many_local by where the tasks ran",
        &format!(
            "{iters} iterations per runtime, {WORKERS} workers. Cross-core cache-line round \
             trip: {} before, {} after. “total” ends when the last task ran.",
            fmt_duration(before),
            fmt_duration(after)
        ),
        &[
            "runtime",
            "mode",
            "iterations",
            "tasks on the other worker (p50)",
            "spawning p50",
            "total p10",
            "total p50",
        ],
    );
    for (name, samples) in &runs {
        for (mode, stolen) in [("no steal", false), ("stolen", true)] {
            let sel: Vec<&Sample> = samples
                .iter()
                .filter(|s| (s.stolen > 0) == stolen)
                .collect();
            let total = Distribution::new(sel.iter().map(|s| s.total).collect());
            let spawning = Distribution::new(sel.iter().map(|s| s.spawning).collect());
            let mut moved: Vec<usize> = sel.iter().map(|s| s.stolen).collect();
            moved.sort_unstable();
            table.row(&[
                (*name).to_owned(),
                mode.to_owned(),
                sel.len().to_string(),
                moved.get(moved.len() / 2).copied().unwrap_or(0).to_string(),
                fmt_duration(spawning.p50()),
                fmt_duration(total.percentile(10.0)),
                fmt_duration(total.p50()),
            ]);
        }
    }
    table.finish();
}
