//! The multi-thread work-stealing scheduler.
//!
//! Each worker thread owns a [`Core`](worker::Core): a FIFO run queue
//! (`crossbeam_deque::Worker`), a LIFO slot for the task it woke most
//! recently, and a LIFO deque of fork jobs (scoped-child polls). Other
//! workers steal from both deques through `Stealer`s; tasks submitted from
//! outside the runtime go through the global `Injector`.
//!
//! * `handle.rs`: the shared state and task submission;
//! * `worker.rs`: the worker loop (run, steal, park) and the worker side of
//!   fork/join (`scheduler::fork`);
//! * `idle.rs`: searching/parked bookkeeping (no thundering herd, no lost
//!   wake-ups);
//! * `park.rs`: parking on a condvar or in the I/O driver.

mod handle;
mod idle;
pub(crate) mod park;
pub(crate) mod worker;

pub(crate) use handle::{Handle, WorkerOptions};
