//! Remote spawn and remote wake under a yield-heavy CPU load (issue 9.1).
//!
//! On a runtime with [`WORKERS`] workers, [`SPINNERS`] tasks each spin for
//! [`SPIN`] and `yield_now` in a loop, so the workers always have local
//! work. Under that load:
//!
//! * `remote_spawn`: the `block_on` thread (not a worker) spawns
//!   [`SLEEPERS`] tasks that each sleep [`SLEEP`]; a sleeper's *start delay*
//!   is the time from just before its `spawn` call to its first poll. A
//!   scheduler that looks at its injection queue too rarely, or takes one
//!   task per look, starves these.
//! * `remote_wake`: a task on the runtime awaits, [`WAKES`] times in a row, a
//!   oneshot that a plain `std::thread` completes after a random pause of
//!   0.2–1.2 ms; the *wake latency* is the time from just before the send to
//!   the task's poll that sees the value.
//!
//! Both print p50 / p99 / max beside tokio's (same workload, same worker
//! count, `futures` oneshots for both). Goal (issue 9): p99 ≤ 50 ms. If the
//! sleepers have not all started [`LOAD_CAP`] after the first spawn, the
//! load is stopped so the run ends; the table then says how many started
//! late (their delays are still counted, so the percentiles stay honest).
//!
//! Regenerate:
//!
//! ```text
//! cargo bench -p tether-benches --bench remote_spawn            # ~10 s
//! cargo bench -p tether-benches --bench remote_spawn -- --quick # smoke run
//! bash benches/latency.sh                                       # all latency benches
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use tether_benches::{
    BenchArgs, Distribution, Rng, Table, WORKERS, fmt_duration, fmt_ratio, spin_for,
};

/// CPU-bound tasks that keep the workers busy.
const SPINNERS: usize = 4;
/// CPU time between two `yield_now`s of a spinner.
const SPIN: Duration = Duration::from_micros(100);
/// Tasks spawned from the `block_on` thread.
const SLEEPERS: usize = 10_000;
/// What each sleeper does once started.
const SLEEP: Duration = Duration::from_millis(10);
/// Remote wakes measured per run.
const WAKES: usize = 500;
/// Longest the load runs while sleepers are still waiting to start: bounds
/// the bench's run time when a runtime starves them.
const LOAD_CAP: Duration = Duration::from_secs(10);
/// Time the spinners run before the measurement starts, so it sees the
/// steady state of the load.
const SETTLE: Duration = Duration::from_millis(50);

/// What one run measured.
#[derive(Default)]
struct Run {
    /// Spawn-to-first-poll of every sleeper.
    start_delays: Vec<Duration>,
    /// Whether [`LOAD_CAP`] stopped the load before every sleeper started.
    capped: bool,
    /// Sleepers that started after [`LOAD_CAP`] stopped the load.
    late: usize,
    /// Send-to-poll of every remote wake.
    wakes: Vec<Duration>,
}

#[path = "common/workloads.rs"]
#[allow(
    dead_code,
    reason = "shared with other benches; this one uses part of it"
)]
mod workloads;
use workloads::{Peer, Tether, Tokio};

/// One run on a fresh runtime: starts the load, measures `sleepers`
/// remote spawns then `wakes` remote wakes, stops the load.
fn run<P: Peer>(sleepers: usize, wakes: usize, seed: u64) -> Run {
    let rt = P::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    P::block_on(&rt, async {
        let start_load = || -> Vec<_> {
            stop.store(false, Ordering::Relaxed);
            let load = (0..SPINNERS)
                .map(|_| {
                    let stop = stop.clone();
                    P::spawn_join(async move {
                        while !stop.load(Ordering::Relaxed) {
                            spin_for(SPIN);
                            P::yield_now().await;
                        }
                    })
                })
                .collect();
            std::thread::sleep(SETTLE);
            load
        };
        let mut spinners = start_load();

        // Remote spawns, with a watchdog that ends the load at LOAD_CAP.
        let all_started = Arc::new(AtomicBool::new(false));
        let cap_hit = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let (stop, all_started, cap_hit) = (stop.clone(), all_started.clone(), cap_hit.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + LOAD_CAP;
                while Instant::now() < deadline {
                    if all_started.load(Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                cap_hit.store(true, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                true
            })
        };
        let mut handles = Vec::with_capacity(sleepers);
        for _ in 0..sleepers {
            let cap_hit = cap_hit.clone();
            let spawned = Instant::now();
            handles.push(P::spawn_join(async move {
                let delay = spawned.elapsed();
                let late = cap_hit.load(Ordering::Relaxed);
                P::sleep(SLEEP).await;
                (delay, late)
            }));
        }
        let mut start_delays = Vec::with_capacity(sleepers);
        let mut late = 0;
        for h in handles {
            let (delay, was_late) = h.await;
            start_delays.push(delay);
            late += usize::from(was_late);
        }
        all_started.store(true, Ordering::Relaxed);
        let capped = watchdog.join().expect("watchdog");

        // Remote wakes (under the load again if the cap stopped it).
        if capped {
            for s in spinners {
                s.await;
            }
            spinners = start_load();
        }
        let (req_tx, req_rx) = std::sync::mpsc::channel::<oneshot::Sender<Instant>>();
        let waker_thread = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            for tx in req_rx {
                std::thread::sleep(Duration::from_micros(rng.range(200, 1_200)));
                let _ = tx.send(Instant::now());
            }
        });
        let wake_latencies = P::spawn_join(async move {
            let mut latencies = Vec::with_capacity(wakes);
            for _ in 0..wakes {
                let (tx, rx) = oneshot::channel();
                req_tx.send(tx).expect("waker thread");
                let sent = rx.await.expect("waker thread dropped the sender");
                latencies.push(sent.elapsed());
            }
            latencies
        })
        .await;
        waker_thread.join().expect("waker thread");

        stop.store(true, Ordering::Relaxed);
        for s in spinners {
            s.await;
        }
        Run {
            start_delays,
            capped,
            late,
            wakes: wake_latencies,
        }
    })
}

fn main() {
    let args = BenchArgs::from_env();
    let (spawn_on, wake_on) = (args.selects("remote_spawn"), args.selects("remote_wake"));
    if !spawn_on && !wake_on {
        return;
    }
    let reps = args.pick(2, 1);
    let sleepers = args.pick(SLEEPERS, 2_000);
    let wakes = args.pick(WAKES, 100);
    run::<Tether>(100, 10, 0); // warm-up
    run::<Tokio>(100, 10, 0);
    let mut results: [Run; 2] = Default::default();
    for rep in 0..reps {
        // Alternate which peer goes first.
        for k in 0..2 {
            let which = (k + rep) % 2;
            let r = if which == 0 {
                run::<Tether>(sleepers, wakes, rep as u64 + 1)
            } else {
                run::<Tokio>(sleepers, wakes, rep as u64 + 1)
            };
            results[which].start_delays.extend(r.start_delays);
            results[which].wakes.extend(r.wakes);
            results[which].capped |= r.capped;
            results[which].late += r.late;
        }
    }
    let names = [Tether::NAME, Tokio::NAME];
    let header = [
        "bench",
        "runtime",
        "samples",
        "p50",
        "p99",
        "max",
        "p99 ÷ tokio",
        "p99 ≤ 50 ms",
    ];
    let note = format!(
        "{SPINNERS} tasks spin {} and `yield_now` in a loop on {WORKERS} workers. \
         remote_spawn: {sleepers} tasks spawned from the `block_on` thread, delay from \
         spawn to first poll. remote_wake: a task awaits a oneshot completed by a plain \
         thread, {wakes} times, latency from send to poll. {reps} run(s) per runtime.",
        fmt_duration(SPIN)
    );
    let table = Table::new("remote spawn and wake under CPU load", &note, &header);
    let dists: Vec<(Distribution, Distribution)> = results
        .iter()
        .map(|r| {
            (
                Distribution::new(r.start_delays.clone()),
                Distribution::new(r.wakes.clone()),
            )
        })
        .collect();
    for (section, pick) in [("remote_spawn", 0usize), ("remote_wake", 1)] {
        if !args.selects(section) {
            continue;
        }
        let dist = |i: usize| if pick == 0 { &dists[i].0 } else { &dists[i].1 };
        let base = dist(1).p99();
        for (i, name) in names.iter().enumerate() {
            let d = dist(i);
            let capped = if pick == 0 && results[i].capped {
                format!(
                    " ({} started only after the load was stopped at {})",
                    results[i].late,
                    fmt_duration(LOAD_CAP)
                )
            } else {
                String::new()
            };
            table.row(&[
                section.to_owned(),
                (*name).to_owned(),
                d.len().to_string(),
                fmt_duration(d.p50()),
                fmt_duration(d.p99()),
                format!("{}{capped}", fmt_duration(d.max())),
                fmt_ratio(d.p99().as_secs_f64(), base.as_secs_f64()),
                if d.p99() <= Duration::from_millis(50) {
                    "yes"
                } else {
                    "**no**"
                }
                .to_owned(),
            ]);
        }
    }
    table.finish();
}
