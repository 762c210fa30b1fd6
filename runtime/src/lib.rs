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
pub mod scope;
pub mod task;
pub mod time;

pub use runtime::Handle;
pub use scope::{JoinSet, LocalScope, Scope, ScopedJoinHandle, join_all, scope, scope_local};
pub use task::JoinError;
