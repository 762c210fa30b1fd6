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
