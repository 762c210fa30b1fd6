//! Siblings of a CPU-heavy child: one child does [`HEAVY_POLLS`] polls of
//! [`HEAVY_POLL`] of CPU each (yielding between them) beside [`TICKERS`]
//! children that each await a [`TICK`] timer [`TICKS`] times. Measures when
//! the tickers are all done: a runtime that lets the heavy child hold up its
//! siblings (or the timers) shows it here.
//!
//! Peers, each on a runtime with [`WORKERS`] workers:
//!
//! * `tether_scope`: the children of a `tether::scope` awaited in
//!   `block_on` (as `#[tether::main]` does), borrowing the start instant and
//!   the result counters from the caller's stack;
//! * `tether_scope_in_task`: the same scope inside a `tether::spawn`ed task,
//!   so its owner is a worker;
//! * `tether_spawn`: `tether::spawn` + `Arc`;
//! * `tokio`: `tokio::spawn` + `Arc` (the baseline).
//!
//! Goal (issue 8): `tether_scope` ≤ 1.25× tokio. Runs are repeated with the
//! peers' order rotated; the table shows the median, min and max.
//!
//! Regenerate:
//!
//! ```text
//! cargo bench -p tether-benches --bench cpu_siblings            # ~10 s
//! cargo bench -p tether-benches --bench cpu_siblings -- --quick # smoke run
//! bash benches/latency.sh                                       # all latency benches
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tether_benches::{BenchArgs, Table, WORKERS, fmt_duration, fmt_ratio, median, spin_for};

/// CPU-bound polls of the heavy child.
const HEAVY_POLLS: usize = 10;
/// CPU time of each of the heavy child's polls.
const HEAVY_POLL: Duration = Duration::from_millis(20);
/// Timer-ticking siblings.
const TICKERS: usize = 50;
/// Timer awaits per ticker.
const TICKS: usize = 50;
/// Each ticker's timer.
const TICK: Duration = Duration::from_millis(1);

/// When the last ticker and the heavy child finished, in nanoseconds since
/// the start.
#[derive(Debug, Default)]
struct Finish {
    tickers: AtomicU64,
    heavy: AtomicU64,
}

impl Finish {
    fn record(slot: &AtomicU64, start: Instant) {
        slot.fetch_max(start.elapsed().as_nanos() as u64, Relaxed);
    }

    fn read(&self) -> (Duration, Duration) {
        (
            Duration::from_nanos(self.tickers.load(Relaxed)),
            Duration::from_nanos(self.heavy.load(Relaxed)),
        )
    }
}

/// The heavy child, generic over the runtime's `yield_now`.
async fn heavy<Y: Future<Output = ()>>(yield_now: impl Fn() -> Y, start: Instant, finish: &Finish) {
    for _ in 0..HEAVY_POLLS {
        spin_for(HEAVY_POLL);
        yield_now().await;
    }
    Finish::record(&finish.heavy, start);
}

/// A ticker, generic over the runtime's `sleep`.
async fn ticker<S: Future<Output = ()>>(
    sleep: impl Fn(Duration) -> S,
    start: Instant,
    finish: &Finish,
) {
    for _ in 0..TICKS {
        sleep(TICK).await;
    }
    Finish::record(&finish.tickers, start);
}

/// The peers.
#[derive(Debug, Clone, Copy)]
enum Peer {
    TetherScope,
    TetherScopeInTask,
    TetherSpawn,
    Tokio,
}

/// Every peer, the baseline (tokio) last.
const PEERS: [Peer; 4] = [
    Peer::TetherScope,
    Peer::TetherScopeInTask,
    Peer::TetherSpawn,
    Peer::Tokio,
];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::TetherScope => "tether_scope",
            Peer::TetherScopeInTask => "tether_scope_in_task",
            Peer::TetherSpawn => "tether_spawn",
            Peer::Tokio => "tokio",
        }
    }
}

/// The scoped version: the children borrow `start` and `finish`.
async fn tether_scoped(start: Instant, finish: &Finish) {
    tether::scope(|s| async move {
        s.spawn(heavy(tether::yield_now, start, finish));
        for _ in 0..TICKERS {
            s.spawn(ticker(tether::time::sleep, start, finish));
        }
    })
    .await;
}

/// Runs the workload once on `peer` (its runtime already built); returns
/// (tickers done, heavy child done).
fn run_once(
    peer: Peer,
    tether_rt: &tether::Runtime,
    tokio_rt: &tokio::runtime::Runtime,
) -> (Duration, Duration) {
    match peer {
        Peer::TetherScope => {
            let finish = Finish::default();
            tether_rt.block_on(tether_scoped(Instant::now(), &finish));
            finish.read()
        }
        Peer::TetherScopeInTask => tether_rt.block_on(async {
            tether::spawn(async {
                let finish = Finish::default();
                tether_scoped(Instant::now(), &finish).await;
                finish.read()
            })
            .await
            .expect("scope task")
        }),
        Peer::TetherSpawn => {
            let finish = Arc::new(Finish::default());
            tether_rt.block_on(async {
                let start = Instant::now();
                let mut handles = Vec::with_capacity(TICKERS + 1);
                let f = finish.clone();
                handles.push(tether::spawn(async move {
                    heavy(tether::yield_now, start, &f).await
                }));
                for _ in 0..TICKERS {
                    let f = finish.clone();
                    handles.push(tether::spawn(async move {
                        ticker(tether::time::sleep, start, &f).await
                    }));
                }
                for h in handles {
                    h.await.expect("child");
                }
            });
            finish.read()
        }
        Peer::Tokio => {
            let finish = Arc::new(Finish::default());
            tokio_rt.block_on(async {
                let start = Instant::now();
                let mut handles = Vec::with_capacity(TICKERS + 1);
                let f = finish.clone();
                handles.push(tokio::spawn(async move {
                    heavy(tokio::task::yield_now, start, &f).await
                }));
                for _ in 0..TICKERS {
                    let f = finish.clone();
                    handles.push(tokio::spawn(async move {
                        ticker(tokio::time::sleep, start, &f).await
                    }));
                }
                for h in handles {
                    h.await.expect("child");
                }
            });
            finish.read()
        }
    }
}

fn main() {
    let args = BenchArgs::from_env();
    if !args.selects("cpu_siblings") {
        return;
    }
    let reps = args.pick(10, 3);
    // Both runtimes live for the whole bench; the idle one's workers are
    // parked while the other runs.
    let tether_rt = tether_benches::tether_runtime();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for peer in PEERS {
        run_once(peer, &tether_rt, &tokio_rt); // warm-up
    }
    let mut tickers: Vec<Vec<Duration>> = PEERS.iter().map(|_| Vec::new()).collect();
    let mut heavies: Vec<Vec<Duration>> = PEERS.iter().map(|_| Vec::new()).collect();
    for rep in 0..reps {
        for k in 0..PEERS.len() {
            let idx = (k + rep) % PEERS.len();
            let (t, h) = run_once(PEERS[idx], &tether_rt, &tokio_rt);
            tickers[idx].push(t);
            heavies[idx].push(h);
        }
    }
    let table = Table::new(
        "cpu_siblings: timer siblings of a CPU-heavy child",
        &format!(
            "One child does {HEAVY_POLLS} polls of {} of CPU beside {TICKERS} children that \
             await a {} timer {TICKS} times; “tickers done” is when the last of them \
             finished (median, min–max of {reps} runs; peers' order rotated). \
             Goal: tether_scope ≤ 1.25× tokio.",
            fmt_duration(HEAVY_POLL),
            fmt_duration(TICK)
        ),
        &[
            "bench",
            "peer",
            "tickers done",
            "min–max",
            "heavy child done",
            "tickers ÷ tokio",
        ],
    );
    let base = median(&tickers[PEERS.len() - 1]);
    for (i, peer) in PEERS.iter().enumerate() {
        let t = median(&tickers[i]);
        let lo = tickers[i].iter().min().copied().unwrap_or_default();
        let hi = tickers[i].iter().max().copied().unwrap_or_default();
        table.row(&[
            "cpu_siblings".to_owned(),
            peer.name().to_owned(),
            fmt_duration(t),
            format!("{}–{}", fmt_duration(lo), fmt_duration(hi)),
            fmt_duration(median(&heavies[i])),
            fmt_ratio(t.as_secs_f64(), base.as_secs_f64()),
        ]);
    }
    table.finish();
}
