//! [`OwnedTasks`]: every live task of a scheduler, so shutdown can cancel
//! the ones that are idle (parked in their wakers, in no queue).
//!
//! The list holds one reference per task. A task leaves it when it
//! completes (`release`), or when shutdown drains it. Once closed, the list
//! accepts no new task: a spawn after shutdown yields a cancelled handle.
//! Shards, chosen by task id, keep spawns on different workers from
//! contending on one lock.

use std::future::Future;

use slab::Slab;

use super::core::Cell;
use super::raw::{RawTask, vtable};
use super::{JoinHandle, Notified, Schedule, Task};
use crate::loom::sync::Mutex;
use crossbeam_utils::CachePadded;

use crate::loom::sync::atomic::{AtomicBool, Ordering};

/// Number of shards. A power of two so a mask picks one; 16 keeps
/// contention negligible for the worker counts tether targets while staying
/// cheap to drain at shutdown. (One under loom: ids come from a global
/// counter, and a shard choice that varies between runs breaks determinism.)
const SHARDS: usize = if cfg!(loom) { 1 } else { 16 };

/// The task ids of a process. Starts at 1 so 0 never names a task.
/// (A plain `std` atomic: ids coordinate nothing, and loom atomics cannot
/// live in statics.)
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// All live tasks of one scheduler.
pub(crate) struct OwnedTasks {
    /// Task pointers by shard; each entry owns one reference. Padded so
    /// workers spawning into different shards do not share cache lines.
    shards: Box<[CachePadded<Mutex<Slab<RawTask>>>]>,
    /// Set once by `close_and_shutdown`; checked under a shard lock.
    closed: AtomicBool,
}

impl OwnedTasks {
    pub(crate) fn new() -> OwnedTasks {
        OwnedTasks {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Slab::new())))
                .collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// Allocates a task for `future` on `scheduler` and adds it to the list.
    /// Returns its `JoinHandle` and, unless the list is closed, the first
    /// `Notified` to submit.
    ///
    /// # Safety
    ///
    /// If `future` or its output borrow non-`'static` data, the caller must
    /// guarantee that the task completes (or is cancelled) and its output is
    /// taken or dropped before that data dies.
    pub(crate) unsafe fn bind<F, S>(
        &self,
        future: F,
        scheduler: S,
    ) -> (JoinHandle<F::Output>, Option<Notified>)
    where
        F: Future + Send,
        F::Output: Send,
        S: Schedule,
    {
        // SAFETY: `F` and its output are `Send`; the lifetime contract is
        // forwarded to our caller.
        unsafe { self.bind_unchecked(future, scheduler) }
    }

    /// [`OwnedTasks::bind`] for a future that need not be `Send` (local
    /// tasks).
    ///
    /// # Safety
    ///
    /// As [`OwnedTasks::bind`]; in addition, if `F` or its output is not
    /// `Send`, the caller must guarantee that the future is polled and
    /// dropped, and the output dropped by the runtime, only on the thread
    /// calling this (the task is never run, cancelled or shut down
    /// elsewhere; leaking it is allowed).
    pub(crate) unsafe fn bind_unchecked<F, S>(
        &self,
        future: F,
        scheduler: S,
    ) -> (JoinHandle<F::Output>, Option<Notified>)
    where
        F: Future,
        S: Schedule,
    {
        let raw = new_task(future, scheduler);
        let id = raw.header().id;
        // SAFETY: a new task holds three references (`new_task`), one for
        // each of these, and its output type is `F::Output`; it starts
        // notified, so it is due for its first poll.
        let (join, task, notified) = unsafe {
            (
                JoinHandle::new(raw),
                Task::from_raw(raw),
                Notified::from_raw(raw),
            )
        };

        let mut shard = crate::loom::lock(&self.shards[id as usize % SHARDS]);
        if self.closed.load(Ordering::Acquire) {
            drop(shard);
            // Cancel at once: shutdown consumes the Notified's reference.
            notified.shutdown();
            drop(task);
            return (join, None);
        }
        let key = shard.insert(raw);
        // SAFETY: `owned_key` is only accessed under this shard's lock.
        raw.header().owned_key.with_mut(|k| unsafe { *k = key });
        drop(shard);
        std::mem::forget(task); // the list's reference
        (join, Some(notified))
    }

    /// Binds `future` to `scheduler` (see [`OwnedTasks::bind`]) and submits
    /// its first poll.
    ///
    /// # Safety
    ///
    /// As [`OwnedTasks::bind`].
    pub(crate) unsafe fn spawn<F, S>(&self, future: F, scheduler: &S) -> JoinHandle<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
        S: Schedule + Clone,
    {
        // SAFETY: forwarded to our caller.
        let (join, notified) = unsafe { self.bind(future, scheduler.clone()) };
        if let Some(notified) = notified {
            scheduler.schedule(notified, false);
        }
        join
    }

    /// Removes a completing task; returns the list's reference, or `None` if
    /// shutdown already took it.
    pub(crate) fn remove(&self, task: &Task) -> Option<Task> {
        let raw = task.raw();
        let id = raw.header().id;
        let mut shard = crate::loom::lock(&self.shards[id as usize % SHARDS]);
        // SAFETY: `owned_key` is only accessed under this shard's lock.
        let key = raw.header().owned_key.with(|k| unsafe { *k });
        match shard.get(key) {
            Some(entry) if *entry == raw => {
                shard.remove(key);
                drop(shard);
                // SAFETY: the entry held the list's reference; removing it
                // hands that reference over to the returned `Task`.
                Some(unsafe { Task::from_raw(raw) })
            }
            _ => None,
        }
    }

    /// Closes the list and leaks every task in it: they are never polled,
    /// cancelled or freed. For local tasks when the runtime is shut down on
    /// a thread other than theirs, where dropping their `!Send` futures
    /// would be unsound.
    pub(crate) fn close_and_leak(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            // Each entry owns one reference; `RawTask` has no destructor, so
            // clearing forgets them: the tasks stay allocated (and their
            // futures undropped) for good.
            crate::loom::lock(shard).clear();
        }
    }

    /// Closes the list and cancels every task in it. Idle tasks are dropped
    /// here, on the calling thread; a task that is running elsewhere is
    /// cancelled by its poller when the poll returns.
    pub(crate) fn close_and_shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            loop {
                // Take a batch under the lock, cancel outside it: dropping a
                // future may spawn or complete other tasks.
                let batch: Vec<RawTask> = crate::loom::lock(shard).drain().collect();
                if batch.is_empty() {
                    break;
                }
                for raw in batch {
                    raw.shutdown();
                }
            }
        }
    }

    /// Number of live tasks (sums the shards under their locks: for
    /// metrics and tests, kept off the spawn/complete path).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| crate::loom::lock(s).len()).sum()
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Allocates a task with a fresh id, in the initial state (three
/// references: owned list, `JoinHandle`, first `Notified`).
///
/// `F` need not be `Send`: the callers that create tasks of `!Send`
/// futures (`OwnedTasks::bind_unchecked`) carry the obligation to keep them
/// on one thread.
pub(crate) fn new_task<F, S>(future: F, scheduler: S) -> RawTask
where
    F: Future,
    S: Schedule,
{
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `allocate` returns the header of a live cell built with the
    // vtable of its own types; the three initial references are owned by
    // our caller.
    unsafe { RawTask::from_raw(Cell::allocate(future, scheduler, id, vtable::<F, S>())) }
}

impl std::fmt::Debug for OwnedTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTasks")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
