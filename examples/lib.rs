//! Shared helpers for the tether examples. The programs themselves live next
//! to this file and run with `cargo run --example NAME`.
//!
//! * [`Size::from_args`]: the command line every example accepts (`--small`
//!   for the quick run CI does, `--help`); anything else is a usage error
//!   (exit code 2).
//! * [`Rng`]: a tiny deterministic generator, so both halves of a contrast
//!   work on byte-for-byte the same data on every run.
//! * [`CountingAlloc`]: a global allocator that counts heap allocations, for
//!   the examples that compare how much memory traffic each version causes.
//! * [`millis`]: durations printed the same way everywhere.
//! * [`http_app`]: the JSON API served by `http_server` and fetched by
//!   `http_client` (hyper on tether, handlers borrowing `&AppState`).

pub mod http_app;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exit code for a bad command line (the shell convention for misuse).
pub const USAGE_EXIT_CODE: i32 = 2;

/// How much work an example does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The default run, sized to show the effect (still quick in debug).
    Full,
    /// `--small`: a run of a second or two at most, for CI.
    Small,
}

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run with this size.
    Run(Size),
    /// Print the usage and exit successfully.
    Help,
}

impl Size {
    /// Reads the process arguments: none, `--small`, or `-h`/`--help`.
    ///
    /// On `--help` prints `usage` and exits with code 0; on anything else
    /// prints what was wrong and `usage` to stderr and exits with
    /// [`USAGE_EXIT_CODE`]. `example` names the program in those messages.
    ///
    /// ```no_run
    /// let size = tether_examples::Size::from_args("demo", "run the demo");
    /// let items = size.pick(1_000_000, 1_000);
    /// # let _ = items;
    /// ```
    pub fn from_args(example: &str, usage: &str) -> Size {
        match Size::parse(std::env::args().skip(1)) {
            Ok(Command::Run(size)) => size,
            Ok(Command::Help) => {
                println!("usage: {example} [--small]\n\n{usage}");
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("{example}: {e}");
                eprintln!("usage: {example} [--small]   (--help for details)");
                std::process::exit(USAGE_EXIT_CODE);
            }
        }
    }

    /// Parses arguments (without the program name): the testable half of
    /// [`Size::from_args`].
    ///
    /// ```
    /// use tether_examples::{Command, Size};
    /// let args = |a: &[&str]| Size::parse(a.iter().map(|s| s.to_string()));
    /// assert_eq!(args(&[]), Ok(Command::Run(Size::Full)));
    /// assert_eq!(args(&["--small"]), Ok(Command::Run(Size::Small)));
    /// assert_eq!(args(&["--help"]), Ok(Command::Help));
    /// assert!(args(&["--smal"]).unwrap_err().contains("--smal"));
    /// ```
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
        let mut size = Size::Full;
        for arg in args {
            match arg.as_str() {
                "--small" => size = Size::Small,
                "-h" | "--help" => return Ok(Command::Help),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Command::Run(size))
    }

    /// `full` for [`Size::Full`], `small` for [`Size::Small`].
    ///
    /// ```
    /// use tether_examples::Size;
    /// assert_eq!(Size::Small.pick(100, 10), 10);
    /// assert_eq!(Size::Full.pick(100, 10), 100);
    /// ```
    pub fn pick<T>(self, full: T, small: T) -> T {
        match self {
            Size::Full => full,
            Size::Small => small,
        }
    }
}

/// A small deterministic pseudo-random generator (SplitMix64).
///
/// The examples generate their inputs with it from a fixed seed, so the two
/// versions of a contrast see identical data and must produce identical
/// results. Not for anything that needs real randomness.
///
/// ```
/// use tether_examples::Rng;
/// let (mut a, mut b) = (Rng::new(7), Rng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    /// The generator's whole state.
    state: u64,
}

impl Rng {
    /// A generator that always yields the same sequence for `seed`.
    ///
    /// ```
    /// let mut rng = tether_examples::Rng::new(1);
    /// # let _ = rng.next_u64();
    /// ```
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 pseudo-random bits.
    ///
    /// ```
    /// let mut rng = tether_examples::Rng::new(1);
    /// assert_ne!(rng.next_u64(), rng.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        // SplitMix64's published constants (golden-ratio increment and its
        // two mixing multipliers).
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` must be positive; the tiny modulo bias is
    /// irrelevant for example data).
    ///
    /// ```
    /// let mut rng = tether_examples::Rng::new(3);
    /// assert!((0..100).all(|_| rng.below(6) < 6));
    /// ```
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Heap allocations made through [`CountingAlloc`] since the program
/// started.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting every allocation (and reallocation).
///
/// An example installs it with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;` and
/// reads [`CountingAlloc::allocations`] before and after the code it
/// measures. The count covers every thread, runtime internals included.
///
/// ```
/// use tether_examples::CountingAlloc;
/// // Without the `#[global_allocator]` line nothing is counted.
/// let before = CountingAlloc::allocations();
/// drop(vec![1u8; 16]);
/// assert_eq!(CountingAlloc::allocations(), before);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// Allocations (and reallocations) so far, on every thread.
    ///
    /// ```
    /// let n = tether_examples::CountingAlloc::allocations();
    /// # let _ = n;
    /// ```
    pub fn allocations() -> u64 {
        ALLOCATIONS.load(Ordering::Relaxed)
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from our caller (`layout` has non-zero size).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from our caller (`layout` has non-zero size).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded from our caller (`ptr` came from this
        // allocator, which is `System`, with `layout`).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from our caller (`ptr` came from `System` with
        // `layout`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// A duration printed in milliseconds with one decimal: `12.3 ms`.
///
/// ```
/// use std::time::Duration;
/// let d = tether_examples::millis(Duration::from_micros(12_345));
/// assert_eq!(d, "12.3 ms");
/// ```
pub fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
