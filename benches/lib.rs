//! Helpers shared by tether's criterion benchmarks (in `benches/benches/`).
//!
//! Every bench compares tether with its peers in the same run, with the same
//! number of worker threads, under criterion group names
//! `<bench>[/<param>]/<peer>` (`tether`, `tokio`, ...), which
//! `benches/compare.sh` pairs to print tether ÷ peer ratios.
//!
//! Run with `cargo bench -p tether-benches`, then `bash benches/compare.sh`.

use std::time::Duration;

/// Worker threads of every multi-thread runtime in the benches: the target
/// machine has 2 cores, and every peer must get the same number of workers
/// for the comparison to be fair.
///
/// ```
/// assert_eq!(tether_benches::WORKERS, 2);
/// ```
pub const WORKERS: usize = 2;

/// Criterion samples per bench: the statistical minimum criterion accepts
/// comfortably, so the whole suite runs in minutes on 2 cores.
///
/// ```
/// assert!(tether_benches::SAMPLE_SIZE >= 10);
/// ```
pub const SAMPLE_SIZE: usize = 20;

/// Criterion measurement time per bench: long enough for 20 samples of the
/// slowest foundation bench (a few ms per iteration), short enough to keep
/// the suite modest.
///
/// ```
/// assert!(tether_benches::MEASUREMENT_TIME.as_secs() >= 1);
/// ```
pub const MEASUREMENT_TIME: Duration = Duration::from_secs(3);

/// Criterion warm-up time per bench: lets the worker threads, allocator
/// caches and the CPU frequency settle before sampling.
///
/// ```
/// assert!(tether_benches::WARM_UP_TIME < tether_benches::MEASUREMENT_TIME);
/// ```
pub const WARM_UP_TIME: Duration = Duration::from_secs(1);

/// A multi-thread tether runtime with [`WORKERS`] worker threads.
///
/// # Panics
///
/// If the runtime cannot be built (no threads or no epoll left): a bench
/// cannot run without it.
///
/// ```
/// let rt = tether_benches::tether_runtime();
/// assert_eq!(rt.metrics().num_workers(), tether_benches::WORKERS);
/// ```
pub fn tether_runtime() -> tether::Runtime {
    tether::Runtime::builder()
        .worker_threads(WORKERS)
        .build()
        .expect("failed to build the tether runtime")
}

// ---------------------------------------------------------------------------
// Helpers for the latency benches (`echo_latency`, `cpu_siblings`,
// `remote_spawn`): plain `harness = false` programs that print markdown
// tables with percentiles, which criterion (means and medians only) does not.
// ---------------------------------------------------------------------------

/// Environment variable that selects the short smoke run of the latency
/// benches (same as passing `--quick`); any value but `0` or empty enables it.
pub const QUICK_ENV: &str = "TETHER_BENCH_QUICK";

/// The command line of a latency bench.
///
/// `cargo bench` passes `--bench` (and whatever follows `--`) to every bench
/// binary, including options meant for criterion (`--save-baseline r1`, ...)
/// when the whole package runs; flags a latency bench does not know are
/// ignored rather than rejected, so `cargo bench -p tether-benches -- ARGS`
/// keeps working. Words that do not start with `-` select sections by
/// substring, like criterion's filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchArgs {
    /// `--quick` or `TETHER_BENCH_QUICK=1`: a short smoke run.
    pub quick: bool,
    /// Section filters; empty runs every section.
    pub filters: Vec<String>,
}

impl BenchArgs {
    /// Reads the process arguments and [`QUICK_ENV`].
    pub fn from_env() -> BenchArgs {
        let quick_env = std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        let mut args = BenchArgs::parse(std::env::args().skip(1));
        args.quick |= quick_env;
        args
    }

    /// Parses `args` (without the program name).
    ///
    /// ```
    /// let a = tether_benches::BenchArgs::parse(
    ///     ["--bench", "--quick", "burn", "--save-baseline"].map(String::from),
    /// );
    /// assert!(a.quick);
    /// assert_eq!(a.filters, ["burn"]);
    /// assert!(a.selects("echo_burn/64") && !a.selects("soak"));
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> BenchArgs {
        let mut out = BenchArgs::default();
        for arg in args {
            if arg == "--quick" {
                out.quick = true;
            } else if !arg.starts_with('-') && !arg.is_empty() {
                out.filters.push(arg);
            }
        }
        out
    }

    /// Whether the section `name` should run.
    pub fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// `full` normally, `quick` in a smoke run.
    ///
    /// ```
    /// let a = tether_benches::BenchArgs { quick: true, filters: vec![] };
    /// assert_eq!(a.pick(200, 20), 20);
    /// ```
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// A latency distribution: the sorted samples of one measurement.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    sorted: Vec<Duration>,
}

impl Distribution {
    /// Sorts `samples` into a distribution.
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = tether_benches::Distribution::new(
    ///     (1..=100).map(Duration::from_millis).collect(),
    /// );
    /// assert_eq!(d.len(), 100);
    /// assert_eq!(d.percentile(50.0), Duration::from_millis(50));
    /// assert_eq!(d.percentile(99.0), Duration::from_millis(99));
    /// assert_eq!(d.max(), Duration::from_millis(100));
    /// ```
    pub fn new(mut samples: Vec<Duration>) -> Distribution {
        samples.sort_unstable();
        Distribution { sorted: samples }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `p`-th percentile (nearest rank; `p` in 0..=100); zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// The largest sample; zero when empty.
    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// The smallest sample; zero when empty.
    pub fn min(&self) -> Duration {
        self.sorted.first().copied().unwrap_or_default()
    }

    /// The samples back, sorted: for pooling them with other runs' after
    /// reading this run's percentiles, without a copy.
    ///
    /// ```
    /// use std::time::Duration;
    /// let d = tether_benches::Distribution::new(vec![Duration::from_millis(2), Duration::ZERO]);
    /// assert_eq!(d.into_samples(), [Duration::ZERO, Duration::from_millis(2)]);
    /// ```
    pub fn into_samples(self) -> Vec<Duration> {
        self.sorted
    }
}

/// The median of `values` (the lower middle one for an even count); zero
/// when empty.
///
/// ```
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// assert_eq!(tether_benches::median(&[ms(3), ms(1), ms(2)]), ms(2));
/// ```
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// The median of `values` (the mean of the two middle ones for an even
/// count); `None` if there are none. For ratios, where the lower middle
/// that [`median`] takes for durations would favour one side.
///
/// ```
/// assert_eq!(tether_benches::median_f64(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(tether_benches::median_f64(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
/// assert_eq!(tether_benches::median_f64(&[]), None);
/// ```
pub fn median_f64(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// A duration with three significant digits and a unit (`812 µs`,
/// `1.23 ms`, `4.56 s`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(tether_benches::fmt_duration(Duration::from_micros(812)), "812 µs");
/// assert_eq!(tether_benches::fmt_duration(Duration::from_micros(1234)), "1.23 ms");
/// ```
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

/// `value` with three significant digits (no exponent).
fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// `a ÷ b` formatted with two decimals, or `—` when `b` is zero.
///
/// ```
/// assert_eq!(tether_benches::fmt_ratio(1.5, 1.0), "1.50");
/// assert_eq!(tether_benches::fmt_ratio(1.0, 0.0), "—");
/// ```
pub fn fmt_ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "—".to_owned()
    } else {
        format!("{:.2}", a / b)
    }
}

/// Keeps the calling thread busy (no sleeping, no yielding) for `d`: the
/// CPU-bound work of the latency benches.
pub fn spin_for(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// How much parallel compute the machine gives right now: the time two
/// threads take to run the same fixed CPU-bound loop at once, divided by
/// the time one thread takes alone (median of a few tries, a few ms each).
/// About 1.0 on two free cores, 2.0 when the two get one core's time
/// between them. On the 2-core VM of the README's tables it measured
/// anywhere from 1.05 to 2.02 within minutes, while the VM reported no
/// steal time. The CPU-bound benches print it before and after their
/// runs, so a run's ratios to a one-thread peer (moro) can be read with
/// the parallel capacity it had.
///
/// ```
/// let r = tether_benches::parallel_capacity_ratio();
/// assert!(r > 0.5 && r < 10.0);
/// ```
pub fn parallel_capacity_ratio() -> f64 {
    /// Iterations of the loop: about 1–3 ms of one core.
    const STEPS: u64 = 1_000_000;
    /// Tries; the median is reported.
    const TRIES: usize = 7;
    fn work(steps: u64) -> u64 {
        let mut x = 1u64;
        for i in 0..steps {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(i ^ (x >> 7));
        }
        x
    }
    let mut ratios = Vec::with_capacity(TRIES);
    for _ in 0..TRIES {
        let start = std::time::Instant::now();
        std::hint::black_box(work(std::hint::black_box(STEPS)));
        let one = start.elapsed();
        let start = std::time::Instant::now();
        std::thread::scope(|s| {
            let other = s.spawn(|| std::hint::black_box(work(std::hint::black_box(STEPS))));
            std::hint::black_box(work(std::hint::black_box(STEPS)));
            other.join().expect("compute thread");
        });
        let two = start.elapsed();
        ratios.push(two.as_secs_f64() / one.as_secs_f64().max(1e-9));
    }
    ratios.sort_by(f64::total_cmp);
    ratios[TRIES / 2]
}

/// Prints [`parallel_capacity_ratio`] to stderr with `when` ("before",
/// "after"), for a bench's log.
pub fn report_parallel_capacity(when: &str) {
    eprintln!(
        "parallel capacity {when}: two threads of compute took {:.2}× one thread's time \
         (1.0 = two free cores, 2.0 = one)",
        parallel_capacity_ratio()
    );
}

/// A small deterministic generator (xorshift64*), so every peer gets the
/// same sequence of message sizes and connection lifetimes.
///
/// ```
/// let mut a = tether_benches::Rng::new(7);
/// let mut b = tether_benches::Rng::new(7);
/// assert_eq!(a.below(100), b.below(100));
/// assert!(a.range(10, 20) >= 10);
/// ```
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A value in `lo..hi` (`lo < hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
}

/// A markdown table printed to stdout as rows arrive, so a long run shows
/// progress and an interrupted one keeps what it measured.
#[derive(Debug)]
pub struct Table {
    columns: usize,
}

impl Table {
    /// Prints `title` (a `###` heading plus an optional paragraph) and the
    /// header row.
    pub fn new(title: &str, note: &str, header: &[&str]) -> Table {
        println!("### {title}\n");
        if !note.is_empty() {
            println!("{note}\n");
        }
        println!("| {} |", header.join(" | "));
        let align: Vec<&str> = (0..header.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        println!("|{}|", align.join("|"));
        Table {
            columns: header.len(),
        }
    }

    /// Prints one row (padded with empty cells to the header's width).
    pub fn row(&self, cells: &[String]) {
        let mut cells = cells.to_vec();
        cells.resize(self.columns.max(cells.len()), String::new());
        println!("| {} |", cells.join(" | "));
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }

    /// Ends the table with a blank line.
    pub fn finish(self) {
        println!();
    }
}
