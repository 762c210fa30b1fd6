//! tether: a multi-threaded, work-stealing async runtime whose spawned tasks
//! may borrow from the caller's stack.
#![warn(
    missing_docs,
    missing_debug_implementations,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

pub(crate) mod coop;
pub(crate) mod driver;
pub(crate) mod io;
pub(crate) mod loom;
pub mod net;
pub(crate) mod park;
pub mod runtime;
pub(crate) mod scheduler;
pub mod task;
pub mod time;

pub use runtime::Handle;
pub use task::JoinError;

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
