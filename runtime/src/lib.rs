//! tether: a multi-threaded, work-stealing async runtime whose spawned tasks
//! may borrow from the caller's stack — no `'static` bound, no `Arc`.
//!
//! ```
//! async fn lookup(key: &str, table: &[(&str, u32)]) -> Option<u32> {
//!     table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
//! }
//!
//! #[tether::main]
//! async fn main() {
//!     let table = vec![("a", 1), ("b", 2), ("c", 3)]; // lives on this stack
//!     let table = &table;
//!     let total = tether::scope(|s| async move {
//!         // Each child borrows `table`; children run in parallel on the
//!         // runtime's workers and are joined before `scope` returns.
//!         let a = s.spawn(lookup("a", table));
//!         let c = s.spawn(lookup("c", table));
//!         a.await.unwrap().unwrap() + c.await.unwrap().unwrap()
//!     })
//!     .await;
//!     assert_eq!(total, 4);
//! }
//! ```
//!
//! The same program with `tokio::spawn` fails with E0597 (`table` does not
//! live long enough) until `table` is wrapped in an `Arc` and cloned into
//! every task.
//!
//! # Three ways to spawn
//!
//! | | borrows | parallel | blocks a thread |
//! |---|---|---|---|
//! | [`spawn`] | `'static` only | yes | no |
//! | [`scope()`] / [`ScopedJoinSet`] / [`join_all`] / [`join!`] | the caller's stack | yes, while the scope is polled | no |
//! | [`Runtime::scope`] (blocking scope) | the caller's stack | yes, fully independent tasks | yes (a worker hands its core to another thread while it waits) |
//!
//! Scoped children make progress only while their parent is being polled:
//! that is what makes them sound even if the scope future is leaked (see
//! the [`scope`](mod@scope) module for the full argument).
//!
//! # Also a complete runtime
//!
//! * [`Runtime`], [`Builder`], [`Handle`], [`main`], [`test`]: multi-thread
//!   work-stealing or current-thread schedulers;
//! * [`net`]: TCP, UDP and Unix sockets implementing tokio's and
//!   `futures::io`'s I/O traits;
//! * [`io`], [`sync`], [`select!`], [`fs`]: `tokio::io`, `tokio::sync`,
//!   `tokio::select!` and `tokio::fs` under tether's name, so tokio programs
//!   port by renaming;
//! * [`time`]: `sleep`, `timeout`, `interval` on a hierarchical timer wheel;
//! * [`spawn_blocking`]: a growable blocking thread pool.
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod blocking;
pub(crate) mod coop;
pub(crate) mod driver;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
pub(crate) mod loom;
pub mod net;
pub(crate) mod park;
pub mod runtime;
pub(crate) mod scheduler;
pub mod scope;
mod select;
#[cfg(unix)]
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;
pub(crate) mod util;

use std::future::Future;

pub use runtime::{Builder, Handle, Runtime};
pub use scope::{
    LocalScope, Scope, ScopedJoinHandle, ScopedJoinSet, join_all, parallel, scope, scope_local,
};
pub use task::{AbortHandle, JoinError, JoinHandle, JoinSet, yield_now};
#[doc(hidden)]
pub use tokio::pin as __tokio_pin;
#[doc(hidden)]
pub use tokio::select as __tokio_select;

/// Runs an `async fn main` on a tether runtime (multi-thread unless
/// `flavor = "current_thread"` is given).
///
/// ```
/// #[tether::main(flavor = "current_thread")]
/// async fn main() {
///     let greeting = tether::spawn(async { "hello" }).await.unwrap();
///     assert_eq!(greeting, "hello");
/// }
/// ```
#[doc(inline)]
pub use tether_macros::main;
/// Runs an async test on its own tether runtime (current-thread unless
/// `flavor = "multi_thread"` is given).
///
/// ```
/// #[tether::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn doubles() {
///     assert_eq!(tether::spawn(async { 2 * 21 }).await.unwrap(), 42);
/// }
/// # fn main() {}
/// ```
#[doc(inline)]
pub use tether_macros::test;

/// Spawns a `'static` task onto the current runtime and returns a handle to
/// its output. The task starts running at once, in parallel with the caller
/// on a multi-thread runtime; dropping the handle detaches it.
///
/// For futures that borrow from the caller's stack, use a scope instead.
///
/// # Panics
///
/// Outside a tether runtime (no task, `block_on` or `Runtime::enter` on
/// this thread).
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let handles: Vec<_> = (0..4).map(|i| tether::spawn(async move { i * i })).collect();
/// let mut sum = 0;
/// for h in handles {
///     sum += h.await.unwrap();
/// }
/// assert_eq!(sum, 0 + 1 + 4 + 9);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: the future and its output are 'static.
    match runtime::context::with_current(|handle| unsafe { handle.spawn(future) }) {
        Some(join) => join,
        None => panic!(
            "`tether::spawn` called outside a tether runtime: call it from a task, inside \
             `Runtime::block_on`, or after `Runtime::enter`"
        ),
    }
}

/// Runs a blocking closure on the current runtime's blocking thread pool,
/// so it does not stall the workers that run async tasks.
///
/// The pool grows on demand up to a cap (512 by default) and idle threads
/// exit after a keep-alive period (10 s by default); see [`Builder`].
///
/// # Panics
///
/// Outside a tether runtime.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let len = tether::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()))
///     .await
///     .unwrap();
/// assert!(len.is_ok());
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match runtime::context::with_current(|handle| blocking::spawn_blocking_on(handle, f)) {
        Some(join) => join,
        None => panic!(
            "`tether::spawn_blocking` called outside a tether runtime: call it from a task, \
             inside `Runtime::block_on`, or after `Runtime::enter`"
        ),
    }
}
