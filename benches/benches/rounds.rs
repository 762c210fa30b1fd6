//! The criterion goals whose ratio moves most with the machine's speed,
//! measured in interleaved rounds instead of one contender after the other.
//!
//! criterion measures each contender for a few seconds in turn, and on a
//! shared 2-core VM the speed of the machine changes by up to 2× over
//! seconds, so one ratio can compare a fast phase with a slow one. Here
//! every round runs each contender of a comparison for [`SLICE`] (after one
//! untimed iteration), in an order rotated from round to round; a round's
//! ratio compares two slices a fraction of a second apart. The table gives
//! the median, the range and how many rounds met the goal.
//!
//! The workloads are those of the criterion benches, unchanged:
//!
//! * `fanout/100` — `scope_fanout`'s N = 100 row: 100 children folding 64
//!   elements each of a borrowed `Vec`; `tether_scope` (a blocking
//!   `Runtime::scope` around `tether::scope` in a task) against
//!   `rayon::scope`, moro and tokio spawn + `Arc` + `JoinSet`;
//! * `join_fib/fine`, `join_fib/coarse` — `join`'s recursive `fib(32)`,
//!   sequential below 6 and below 20, `tether::join!` on boxed futures
//!   against `rayon::join`;
//! * `yield_many` — `runtime`'s 200 tasks spawned from outside × 1000
//!   yields (its own function), tether against tokio.
//!
//! Each ratio is the mean iteration time of the tether contender ÷ the
//! peer's, both from the same round.
//!
//! Each comparison also measures its main peer twice per round (`again`), and
//! a `control` row gives that A/A ratio: the spread of one workload against
//! itself, which is the part of every other row's spread that the host
//! makes, not the runtimes. The fan-out's goals against moro and tokio
//! are also applied to `rayon::scope` (`reference` rows): moro polls every
//! child on the calling thread, so when the host makes thread wake-ups
//! slow, no parallel fan-out gains on it, rayon's included.
//!
//! Run with `cargo bench -p tether-benches --bench rounds` (`-- --quick`:
//! two short rounds; a name filter selects comparisons, as in the other
//! latency-style benches).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tether_benches::{BenchArgs, Table, fmt_duration, median, median_f64};

/// Time each contender runs per round: long enough for a few iterations
/// of the slowest workload (fine-grained fib, ~20 ms), short enough that
/// the machine rarely changes speed within a round.
const SLICE: Duration = Duration::from_millis(150);

/// Rounds of a full run: the median of 15 is stable to a few per cent
/// here, and a run of every comparison takes about 30 s.
const ROUNDS: usize = 15;

/// Fan-out children.
const FANOUT: usize = 100;

#[path = "common/workloads.rs"]
#[allow(
    dead_code,
    reason = "shared with other benches; this one uses part of it"
)]
mod workloads;
use workloads::{
    CHUNK, FIB_N, GRAINS, Tether, Tokio, chunk_sum, fanout_moro, fanout_rayon_scope,
    fanout_tether_scope, fanout_tokio_arc, rayon_fib, rayon_pool, seq_fib, tether_fib_task,
    tokio_runtime, yield_many,
};

/// One contender: a name and one iteration of its workload.
type Contender<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// One comparison: contenders (the first is tether's) and the goals of
/// the ratios `first ÷ contender i`, as (peer index, bound): a round meets
/// a goal if its ratio is at most the bound.
///
/// `control` names a peer that every round measures twice, the second
/// time in a slot of its own in the rotated order (`<peer> again`): the
/// ratio of the two is what the host alone makes of one workload measured
/// twice a fraction of a second apart (an A/A comparison), the spread any
/// ratio of the round carries before the runtimes differ at all.
///
/// `references` hold a goal applied to two peers, as (numerator index,
/// denominator index, bound): whether `rayon::scope` itself would meet the
/// fan-out's goal against moro in that round, for example. A goal that the
/// best parallel peer misses in a round is out of reach of any runtime in
/// that round.
struct Comparison<'a> {
    name: String,
    contenders: Vec<Contender<'a>>,
    goals: Vec<(usize, f64)>,
    control: Option<usize>,
    references: Vec<(usize, usize, f64)>,
}

/// Runs `f` for `slice` after one untimed iteration; the mean iteration.
fn mean_over(f: &mut dyn FnMut(), slice: Duration) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < slice || n == 0 {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn run(cmp: &mut Comparison<'_>, rounds: usize, slice: Duration, table: &Table) {
    let k = cmp.contenders.len();
    // Slot `k`, if any, measures the control peer a second time.
    let slots = k + usize::from(cmp.control.is_some());
    let names: Vec<String> = (0..slots)
        .map(|i| match cmp.control {
            Some(peer) if i == k => format!("{} again", cmp.contenders[peer].0),
            _ => cmp.contenders[i].0.to_owned(),
        })
        .collect();
    // means[slot][round]
    let mut means = vec![Vec::with_capacity(rounds); slots];
    for round in 0..rounds {
        for j in 0..slots {
            let i = (j + round) % slots;
            let contender = match cmp.control {
                Some(peer) if i == k => peer,
                _ => i,
            };
            let m = mean_over(&mut cmp.contenders[contender].1, slice);
            means[i].push(m);
        }
    }
    // One row: the ratio `num ÷ den` per round, against `bound` if any.
    let row = |num: usize, den: usize, bound: Option<f64>, note: &str| {
        let ratios: Vec<f64> = means[num]
            .iter()
            .zip(&means[den])
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        let median_ratio = median_f64(&ratios).expect("at least one round");
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        let (goal, met) = match bound {
            Some(bound) => {
                let met = ratios.iter().filter(|&&r| r <= bound).count();
                (format!("≤ {bound}"), format!("{met} of {rounds}"))
            }
            None => ("—".to_owned(), "—".to_owned()),
        };
        table.row(&[
            cmp.name.clone(),
            format!("{} ÷ {}{note}", names[num], names[den]),
            goal,
            fmt_duration(median(&means[num])),
            fmt_duration(median(&means[den])),
            format!("{median_ratio:.2}"),
            format!("{lo:.2}–{hi:.2}"),
            met,
        ]);
    };
    for &(peer, bound) in &cmp.goals {
        row(0, peer, Some(bound), "");
    }
    for &(num, den, bound) in &cmp.references {
        row(num, den, Some(bound), " (reference)");
    }
    if let Some(peer) = cmp.control {
        row(peer, k, None, " (control)");
    }
}

fn main() {
    let args = BenchArgs::from_env();
    let names = [
        "fanout/100",
        "join_fib/fine",
        "join_fib/coarse",
        "yield_many",
    ];
    if !names.iter().any(|n| args.selects(n)) {
        return;
    }
    let rounds = args.pick(ROUNDS, 2);
    let slice = args.pick(SLICE, Duration::from_millis(20));

    let tether_rt = tether_benches::tether_runtime();
    let tokio_rt = tokio_runtime();
    let pool = rayon_pool();

    let table = Table::new(
        "rounds: interleaved goal comparisons",
        &format!(
            "{rounds} rounds; in each, every contender of a comparison runs for {} \
             (after one untimed iteration), in an order rotated from round to round; a \
             round's ratio is tether's mean iteration ÷ the peer's in that round. \
             Times are the medians over rounds of the contenders' means.",
            fmt_duration(slice)
        ),
        &[
            "comparison",
            "ratio",
            "goal",
            "tether",
            "peer",
            "median ratio",
            "min–max",
            "rounds meeting the goal",
        ],
    );

    let data: Vec<u64> = (0..(FANOUT * CHUNK) as u64).collect();
    let expected = data.chunks(CHUNK).map(chunk_sum).fold(0, u64::wrapping_add);
    let total = AtomicU64::new(0);
    let check = |total: &AtomicU64| assert_eq!(total.swap(0, Ordering::Relaxed), expected);

    if args.selects("fanout/100") {
        let shared = Arc::new(data.clone());
        let arc_total = Arc::new(AtomicU64::new(0));
        let (data, total, check) = (&data, &total, &check);
        let mut cmp = Comparison {
            name: "fanout/100".to_owned(),
            contenders: vec![
                (
                    "tether_scope",
                    Box::new(|| {
                        fanout_tether_scope(&tether_rt, data, total);
                        check(total);
                    }),
                ),
                (
                    "rayon_scope",
                    Box::new(|| {
                        pool.install(|| fanout_rayon_scope(data, total));
                        check(total);
                    }),
                ),
                (
                    "moro",
                    Box::new(|| {
                        fanout_moro(data, total);
                        check(total);
                    }),
                ),
                (
                    "tokio_arc_join_set",
                    Box::new(|| {
                        fanout_tokio_arc(&tokio_rt, &shared, FANOUT, &arc_total);
                        check(&arc_total);
                    }),
                ),
            ],
            goals: vec![(1, 1.3), (2, 0.8), (3, 0.7)],
            control: Some(1),
            references: vec![(1, 2, 0.8), (1, 3, 0.7)],
        };
        run(&mut cmp, rounds, slice, &table);
    }

    // The goals for the grains, in `GRAINS` order (fine, coarse).
    let join_goals = [3.0, 1.1];
    for ((grain, cutoff), bound) in GRAINS.into_iter().zip(join_goals) {
        let grain = ["join_fib/", grain].concat();
        if !args.selects(&grain) {
            continue;
        }
        let want = seq_fib(FIB_N);
        let mut cmp = Comparison {
            name: grain,
            contenders: vec![
                (
                    "tether",
                    Box::new(|| assert_eq!(tether_fib_task(&tether_rt, cutoff), want)),
                ),
                (
                    "rayon",
                    Box::new(|| assert_eq!(pool.install(|| rayon_fib(FIB_N, cutoff)), want)),
                ),
            ],
            goals: vec![(1, bound)],
            control: Some(1),
            references: Vec::new(),
        };
        run(&mut cmp, rounds, slice, &table);
    }

    if args.selects("yield_many") {
        let mut cmp = Comparison {
            name: "yield_many".to_owned(),
            contenders: vec![
                ("tether", Box::new(yield_many::<Tether>(&tether_rt))),
                ("tokio", Box::new(yield_many::<Tokio>(&tokio_rt))),
            ],
            goals: vec![(1, 0.9)],
            control: Some(1),
            references: Vec::new(),
        };
        run(&mut cmp, rounds, slice, &table);
    }
    table.finish();
}
