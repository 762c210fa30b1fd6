//! Local tasks: `'static` futures that are not `Send`, spawned with
//! [`crate::task::spawn_local`] inside a current-thread runtime.
//!
//! # Invariant
//!
//! A local task's future is polled and dropped only on its *owner thread*,
//! the thread that spawned it. Each owner thread of a runtime has one
//! [`LocalTasks`]: its own run queue and owned-task list. Only that thread's
//! scheduler loop pops the queue (the context looks up the entry for its own
//! thread id), and only that thread cancels the tasks at shutdown; if the
//! runtime is shut down on another thread, the pending local tasks are
//! leaked instead (never polled or dropped again). Wakers and abort handles
//! are `Send`: waking from another thread only pushes the task onto the
//! owner's queue and interrupts the driver.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::thread::{self, ThreadId};

use super::{Handle, with_current};
use crate::loom::sync::Mutex;
use crate::task::{JoinHandle, Notified, OwnedTasks, Schedule, Task};

/// The local tasks of one owner thread on one runtime.
#[derive(Debug)]
pub(crate) struct LocalTasks {
    /// The only thread that may poll or drop these tasks.
    owner: ThreadId,
    /// Runnable local tasks, woken from any thread.
    queue: Mutex<VecDeque<Notified>>,
    /// Every live local task, for shutdown.
    owned: OwnedTasks,
    /// The runtime, to interrupt its driver when a task is woken from
    /// elsewhere. Weak: the runtime owns this value.
    runtime: Weak<Handle>,
}

/// The scheduler of a local task.
#[derive(Debug, Clone)]
struct LocalSchedule(Arc<LocalTasks>);

impl LocalTasks {
    /// Pops the next runnable local task. Only the owner thread calls this.
    pub(super) fn pop(&self) -> Option<Notified> {
        crate::loom::lock(&self.queue).pop_front()
    }

    /// True if local tasks are runnable.
    pub(super) fn has_runnable(&self) -> bool {
        !crate::loom::lock(&self.queue).is_empty()
    }

    /// Shuts the local tasks down: cancelled (their futures dropped here)
    /// on the owner thread, leaked on any other.
    pub(super) fn shutdown(&self) {
        if thread::current().id() == self.owner {
            self.owned.close_and_shutdown();
        } else {
            self.owned.close_and_leak();
        }
        let queued: Vec<Notified> = crate::loom::lock(&self.queue).drain(..).collect();
        // Dropping a queued reference never drops a future: the task either
        // completed above or keeps its (leaked) owned-list reference.
        drop(queued);
    }
}

impl Schedule for LocalSchedule {
    fn schedule(&self, task: Notified, _is_yield: bool) {
        crate::loom::lock(&self.0.queue).push_back(task);
        // The owner's scheduler loop finds the task on its next tick; when
        // the wake comes from elsewhere, interrupt a parked driver.
        let Some(runtime) = self.0.runtime.upgrade() else {
            return;
        };
        let in_loop = with_current(|cx| cx.is_some_and(|cx| Arc::ptr_eq(&cx.handle, &runtime)));
        if !in_loop {
            runtime.driver.unpark();
        }
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.0.owned.remove(task)
    }
}

impl Handle {
    /// The local tasks of the calling thread, created on first use.
    pub(super) fn local_tasks(self: &Arc<Self>) -> Arc<LocalTasks> {
        let me = thread::current().id();
        let mut locals = crate::loom::lock(&self.locals);
        if let Some(local) = locals.iter().find(|l| l.owner == me) {
            return local.clone();
        }
        let local = Arc::new(LocalTasks {
            owner: me,
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(),
            runtime: Arc::downgrade(self),
        });
        if self
            .shutdown
            .load(crate::loom::sync::atomic::Ordering::Acquire)
        {
            local.owned.close_and_shutdown();
        }
        locals.push(local.clone());
        local
    }

    /// The local tasks of the calling thread, if it has any.
    pub(super) fn find_local_tasks(&self) -> Option<Arc<LocalTasks>> {
        let me = thread::current().id();
        crate::loom::lock(&self.locals)
            .iter()
            .find(|l| l.owner == me)
            .cloned()
    }
}

/// Spawns a `!Send` task on the current-thread runtime whose scheduler loop
/// runs on this thread. Returns the future back if there is none.
pub(crate) fn spawn_local<F>(future: F) -> Result<JoinHandle<F::Output>, F>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current(|cx| {
        let Some(cx) = cx else { return Err(future) };
        let local = cx.local_tasks();
        let scheduler = LocalSchedule(local.clone());
        // SAFETY: the future and its output are 'static. This thread is the
        // owner of `local`: only its scheduler loop pops `local.queue`, and
        // `LocalTasks::shutdown` cancels the tasks only on this thread and
        // leaks them elsewhere (see the module docs).
        let (join, notified) = unsafe { local.owned.bind_unchecked(future, scheduler) };
        if let Some(notified) = notified {
            crate::loom::lock(&local.queue).push_back(notified);
        }
        Ok(join)
    })
}
