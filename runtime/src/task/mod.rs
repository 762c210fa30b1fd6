//! Tasks: the unit of work the schedulers run, and the task API at
//! tokio's `tokio::task` paths: [`spawn`], [`spawn_blocking`],
//! [`spawn_local`], [`yield_now`], [`JoinSet`], [`JoinHandle`],
//! [`AbortHandle`], [`JoinError`], [`Id`], [`id()`], [`try_id()`] and
//! [`task_local!`](crate::task_local).
//!
//! ```
//! use tether::task::{self, JoinSet};
//!
//! # tether::Runtime::new().unwrap().block_on(async {
//! let mut set = JoinSet::new();
//! for n in 0..3u32 {
//!     set.spawn(async move { (task::id(), n) });
//! }
//! let blocking = task::spawn_blocking(|| 40).await.unwrap();
//! let mut sum = blocking;
//! while let Some(res) = set.join_next().await {
//!     sum += res.unwrap().1;
//! }
//! assert_eq!(sum, 43);
//! # });
//! ```
//!
//! # Internals
//!
//! A task is one heap allocation (`core::Cell`): a `Header`
//! with the atomic state word (`state.rs`), the scheduler handle, and a
//! stage holding first the future, then its output. Ownership of the
//! allocation is shared by reference-counted handles:
//!
//! * `Task`: the owned-task list's reference (`list.rs`);
//! * `Notified`: a reference that is queued to be polled;
//! * [`JoinHandle`]: the user's reference, with the right to the output;
//! * `Waker`s: one reference each (`waker.rs`).
//!
//! `harness.rs` implements poll, completion, cancellation and the join
//! protocol on top of the transitions in `state.rs`.

mod consume_budget;
mod core;
mod error;
mod harness;
pub(crate) mod id;
mod join;
mod join_set;
mod list;
mod local;
pub(crate) mod pool;
mod raw;
mod state;
mod task_local;
mod waker;
mod yield_now;

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;

pub use crate::{spawn, spawn_blocking};
pub use consume_budget::consume_budget;
pub use error::JoinError;
pub use id::{Id, id, try_id};
pub use join::{AbortHandle, JoinHandle};
pub use join_set::JoinSet;
pub(crate) use list::OwnedTasks;
pub use local::spawn_local;
use raw::RawTask;
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
pub use yield_now::yield_now;

/// What a task needs from the scheduler that runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Queues a task to be polled. `is_yield` is true when the task woke
    /// itself during its own poll; such tasks go behind other work.
    fn schedule(&self, task: Notified, is_yield: bool);

    /// Removes a completing task from the owned-task list, returning the
    /// list's reference (`None` if shutdown already took it).
    fn release(&self, task: &Task) -> Option<Task>;
}

/// One reference to a task, dropped (and the task freed if last) on drop.
#[derive(Debug)]
pub(crate) struct Task {
    /// The task; this value owns one reference.
    raw: RawTask,
}

impl Task {
    /// Takes ownership of one reference to `raw`.
    ///
    /// # Safety
    ///
    /// The caller hands over one reference it holds to the task (see
    /// [`RawTask::from_raw`]); the `Task` gives it up when dropped.
    unsafe fn from_raw(raw: RawTask) -> Task {
        Task { raw }
    }

    /// The task pointer, without a reference of its own.
    fn raw(&self) -> RawTask {
        self.raw
    }

    /// Gives up ownership of the reference without dropping it.
    fn into_raw(self) -> RawTask {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

/// A task reference that is due to be polled. Queues hold these.
#[derive(Debug)]
pub(crate) struct Notified(Task);

impl Notified {
    /// Takes ownership of one reference to `raw`, as the reference that
    /// will poll it.
    ///
    /// # Safety
    ///
    /// As [`Task::from_raw`]; moreover the task must be due to be polled
    /// (notified in its state word, or newly created), and this must be the
    /// only `Notified` of the task.
    unsafe fn from_raw(raw: RawTask) -> Notified {
        // SAFETY: forwarded to our caller.
        Notified(unsafe { Task::from_raw(raw) })
    }

    /// Polls the task (consuming this reference).
    pub(crate) fn run(self) {
        self.into_raw().poll();
    }

    /// Cancels the task if it is idle (runtime shutdown, or a queue that
    /// will never run it), consuming this reference.
    pub(crate) fn shutdown(self) {
        self.into_raw().shutdown();
    }

    /// Gives up ownership of the reference without dropping it.
    fn into_raw(self) -> RawTask {
        self.0.into_raw()
    }
}

/// Creates a task that lives in no owned list (blocking jobs). Returns its
/// `JoinHandle` and the `Notified` to run it.
///
/// # Safety
///
/// As [`OwnedTasks::bind`].
pub(crate) unsafe fn unowned<F, S>(future: F, scheduler: S) -> (JoinHandle<F::Output>, Notified)
where
    F: std::future::Future + Send,
    F::Output: Send,
    S: Schedule,
{
    let raw = list::new_task(future, scheduler);
    // SAFETY: a new task holds three references (`new_task`): the one
    // reserved for the owned list is dropped (there is none), the others go
    // to the `JoinHandle` (output type `F::Output`) and to the `Notified`
    // (a new task is due for its first poll).
    unsafe {
        drop(Task::from_raw(raw));
        (JoinHandle::new(raw), Notified::from_raw(raw))
    }
}
