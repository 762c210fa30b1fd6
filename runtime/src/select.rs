//! `tether::select!` and `tether::pin!`: tokio's, re-exported under
//! tether's name.
//!
//! tokio's macro needs only tokio's `macros` feature, not its runtime: the
//! random starting branch comes from a thread-local generator that works on
//! any thread, so branch order is random on tether's workers too (the tests
//! below check it with tokio's runtime absent from the build).

/// Waits on several futures at once and runs the branch of the first to
/// complete, cancelling (dropping) the others — tokio's `select!`, with its
/// syntax and semantics:
///
/// ```text
/// <pattern> = <async expression> (, if <precondition>)? => <handler>,
/// ...
/// else => <handler>,      // optional: when every branch is disabled
/// ```
///
/// * Each poll starts at a **random branch**, so no branch starves another
///   (put `biased;` first to poll in the order written instead).
/// * A branch whose **precondition** is false is disabled before anything
///   is polled; a branch whose output does not match its **pattern** is
///   disabled and the others keep going.
/// * When every branch is disabled, `else` runs (without `else`, that
///   panics, as in tokio).
/// * The futures of the losing branches are **dropped** when `select!`
///   finishes: select on cancellation-safe operations (channel receives,
///   `accept`, sleeps), or on `&mut fut` to keep a future across loop
///   iterations.
///
/// The futures run on the current task, so they may borrow locals and need
/// not be `Send` unless the task must be.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tether::sync::mpsc;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let (tx, mut rx) = mpsc::channel::<u32>(8);
/// tether::spawn(async move {
///     for i in 0..3 {
///         tx.send(i).await.unwrap();
///     }
/// });
///
/// let mut got = Vec::new();
/// // Pinned once, polled by reference: it survives the loop's iterations.
/// let mut deadline = std::pin::pin!(tether::time::sleep(Duration::from_secs(10)));
/// loop {
///     tether::select! {
///         msg = rx.recv() => match msg {
///             Some(v) => got.push(v),
///             None => break, // every sender is gone
///         },
///         _ = &mut deadline => panic!("timed out"),
///     }
/// }
/// assert_eq!(got, [0, 1, 2]);
/// # });
/// ```
///
/// `biased;`, a precondition, a pattern and `else`:
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let v = tether::select! {
///     Some(v) = async { None::<u32> } => v, // pattern fails: disabled
///     else => 0,                            // nothing left
/// };
/// assert_eq!(v, 0);
///
/// let use_cache = false;
/// let winner = tether::select! {
///     biased;
///     v = async { "cache" }, if use_cache => v,
///     v = async { "origin" } => v,
///     v = async { "fallback" } => v,
/// };
/// assert_eq!(winner, "origin"); // first enabled branch, in written order
/// # });
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__tokio_select! { $($tokens)* }
    };
}

/// Pins values on the stack, shadowing each variable with a pinned mutable
/// reference — tokio's `pin!` (so `tokio::pin!(fut)` ports as
/// `tether::pin!(fut)`). Typical with [`select!`](crate::select!) in a loop,
/// where a future must survive iterations and be polled by `&mut`.
///
/// ```
/// use std::time::Duration;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let sleep = tether::time::sleep(Duration::from_millis(20));
/// tether::pin!(sleep);
/// let mut polls = 0;
/// loop {
///     tether::select! {
///         _ = &mut sleep => break,
///         _ = tether::time::sleep(Duration::from_millis(1)) => polls += 1,
///     }
/// }
/// println!("woke {polls} times before the deadline");
/// # });
/// ```
#[macro_export]
macro_rules! pin {
    ($($tokens:tt)*) => {
        $crate::__tokio_pin! { $($tokens)* }
    };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::{Future, pending, ready};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use crate::runtime::Builder;

    /// Two always-ready branches, many rounds: with random order both win,
    /// with `biased;` only the first. The chance that a fair coin never
    /// lands on one side in `ROUNDS` throws is 2^-999: not flaky.
    const ROUNDS: usize = 1000;

    #[test]
    fn branch_order_is_random_without_tokio_runtime() {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (first, second) = rt.block_on(async {
            let (mut first, mut second) = (0, 0);
            for _ in 0..ROUNDS {
                crate::select! {
                    _ = ready(()) => first += 1,
                    _ = ready(()) => second += 1,
                }
            }
            (first, second)
        });
        assert_eq!(first + second, ROUNDS);
        assert!(first > 0 && second > 0, "first {first}, second {second}");
    }

    #[test]
    fn biased_polls_in_written_order() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            for _ in 0..ROUNDS {
                let won = crate::select! {
                    biased;
                    _ = ready(()) => 1,
                    _ = ready(()) => 2,
                };
                assert_eq!(won, 1);
            }
        });
    }

    #[test]
    fn else_runs_when_every_branch_is_disabled() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            // By precondition.
            let v = crate::select! {
                _ = pending::<()>(), if false => "pending",
                else => "else",
            };
            assert_eq!(v, "else");
            // By failed patterns.
            let v = crate::select! {
                Some(x) = ready(None::<u8>) => x.to_string(),
                Ok(x) = ready(Err::<u8, ()>(())) => x.to_string(),
                else => "else".to_owned(),
            };
            assert_eq!(v, "else");
        });
    }

    #[test]
    fn pattern_mismatch_disables_only_that_branch() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                let v = crate::select! {
                    Some(x) = ready(None::<u32>) => x,
                    Some(x) = async { crate::yield_now().await; Some(7u32) } => x,
                };
                assert_eq!(v, 7);
            }
        });
    }

    #[test]
    fn precondition_guards_a_branch_per_call() {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            for enabled in [true, false] {
                let v = crate::select! {
                    biased;
                    v = ready(1), if enabled => v,
                    v = ready(2) => v,
                };
                assert_eq!(v, if enabled { 1 } else { 2 });
            }
        });
    }

    /// Pending forever; counts its drops.
    struct Loser<'a>(&'a AtomicUsize);

    impl Future for Loser<'_> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }

    impl Drop for Loser<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn losers_are_dropped_when_select_returns() {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let dropped = AtomicUsize::new(0);
        rt.block_on(async {
            let v = crate::select! {
                _ = Loser(&dropped) => 0,
                _ = Loser(&dropped) => 0,
                v = async {
                    crate::time::sleep(std::time::Duration::from_millis(5)).await;
                    42
                } => {
                    // The branch futures are dropped before the handler
                    // runs.
                    assert_eq!(dropped.load(Ordering::SeqCst), 2);
                    v
                }
            };
            assert_eq!(v, 42);
            assert_eq!(dropped.load(Ordering::SeqCst), 2, "both losers cancelled");
        });
    }

    #[test]
    fn select_in_a_loop_over_a_channel_and_a_timer() {
        use crate::sync::mpsc;
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let mut ticks = crate::time::interval(std::time::Duration::from_millis(1));
            crate::spawn(async move {
                for i in 0..20u32 {
                    tx.send(i).unwrap();
                    crate::yield_now().await;
                }
            });
            let mut sum = 0;
            let mut tick_count = 0u32;
            loop {
                crate::select! {
                    msg = rx.recv() => match msg {
                        Some(v) => sum += v,
                        None => break,
                    },
                    _ = ticks.tick() => tick_count += 1,
                }
            }
            // No message is lost when the timer branch wins a round: a
            // cancelled `recv` is cancellation-safe.
            assert_eq!(sum, (0..20).sum());
            assert!(tick_count <= 1_000_000);
        });
    }
}
