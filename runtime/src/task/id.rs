//! [`Id`]: the identity of a task, and [`id`]/[`try_id`] for the task that
//! is running on this thread.
//!
//! Ids come from one process-wide counter, so they are unique across
//! runtimes as well as within one. The id of the task being polled lives in
//! the thread's runtime context ([`crate::runtime::context`], field
//! `task_id`), which the task harness sets for the duration of a poll (and
//! of the drop of a cancelled future), restoring the previous value after,
//! so nested polls (a blocking wait that runs other tasks) see the right
//! id.

use std::fmt;
use std::num::NonZeroU64;

/// An opaque identifier of a task, unique among all tasks of the process
/// for as long as it runs (ids are not reused).
///
/// Scoped children (of [`scope`](crate::scope()) or a
/// [`ScopedJoinSet`](crate::ScopedJoinSet)) are polled inside their parent
/// task's poll, so [`id()`] inside them returns the parent's id; their
/// handles and errors carry their own ids.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let handle = tether::spawn(async { tether::task::id() });
/// let id = handle.id();
/// assert_eq!(handle.await.unwrap(), id);
/// println!("task {id} finished");
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(NonZeroU64);

impl Id {
    /// Wraps a raw id. Task ids start at 1; a zero (never handed out) maps
    /// to the maximum value rather than panicking.
    pub(crate) fn from_u64(id: u64) -> Id {
        Id(NonZeroU64::new(id).unwrap_or(NonZeroU64::MAX))
    }

    /// The raw id.
    pub(crate) fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// Makes `id` the current task id until dropped; restores the previous one.
#[derive(Debug)]
pub(crate) struct CurrentIdGuard {
    /// The id that was current before.
    prev: u64,
}

/// Marks the task `id` as being polled on this thread.
#[inline]
pub(crate) fn enter(id: u64) -> CurrentIdGuard {
    let prev = crate::runtime::context::replace_task_id(id);
    CurrentIdGuard { prev }
}

impl Drop for CurrentIdGuard {
    #[inline]
    fn drop(&mut self) {
        crate::runtime::context::replace_task_id(self.prev);
    }
}

/// The id of the task being polled on this thread.
///
/// # Panics
///
/// If called outside a task (for example directly inside `block_on`, whose
/// future is not a task); use [`try_id`] to check.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let (a, b) = (
///     tether::spawn(async { tether::task::id() }),
///     tether::spawn(async { tether::task::id() }),
/// );
/// assert_ne!(a.await.unwrap(), b.await.unwrap());
/// # });
/// ```
#[track_caller]
pub fn id() -> Id {
    try_id().expect(
        "`tether::task::id()` called outside a task: only the futures of spawned tasks have an id",
    )
}

/// The id of the task being polled on this thread, or `None` outside a
/// task.
///
/// ```
/// assert_eq!(tether::task::try_id(), None);
/// # tether::Runtime::new().unwrap().block_on(async {
/// let inside = tether::spawn(async { tether::task::try_id() }).await.unwrap();
/// assert!(inside.is_some());
/// # });
/// ```
pub fn try_id() -> Option<Id> {
    match crate::runtime::context::task_id() {
        0 => None,
        id => Some(Id::from_u64(id)),
    }
}
