//! The wake hub of one scope (or join set): `'static`, shared by the owner,
//! the `Scope` handles and every child's wake record.
//!
//! * `ready`: the ready queue of `Send` children — entries pushed by wakes
//!   (see the `child` module's wake protocol) and by spawns, popped by any
//!   thread of a session. Each entry owns one reference to its child.
//! * `local`: the same for the scope's body and its `!Send` children; only
//!   the owner's thread pops it.
//! * `pending`: children spawned through a `Scope` handle, not yet adopted
//!   into the owner's slab (spawns happen on any thread, also while a
//!   session runs, so they never touch the slab). Adoption is bookkeeping
//!   only: a new child is also pushed onto `ready` at once, so a session
//!   thread polls it right away.
//! * `notified`: "the parent has already been woken (or is polling right
//!   now)", so a burst of child wakes costs at most one wake of the parent.
//! * `sleepers`: threads of a running session that sleep in a fork wait
//!   (for a pull loop stuck in a long child poll) and want to serve the
//!   queues meanwhile; every push wakes them (see "Serving while waiting").
//!
//! # Lost wake-ups
//!
//! A waker pushes (under the queue's lock) *before* it swaps `notified` to
//! true. The owner sets `notified` while it polls, and at the end of a poll
//! swaps it back to false *before* looking at the queues one last time
//! ([`Shared::end_poll`]). Either the waker's push is ordered before that
//! last look (the owner sees it), or the waker's swap comes after the
//! owner's swap, reads false and wakes the parent.
//!
//! # Serving while waiting
//!
//! A session's thread that waits for another pull loop of the session
//! keeps pulling ready children (`engine`'s `Serve` for the session), and
//! before it sleeps registers an [`Unparker`] here
//! ([`Shared::register_sleeper`]), *then* looks at the queues once more.
//! A push publishes its entry under the queue's lock, *then* looks for
//! sleepers ([`Shared::wake_sleepers`]). Both looks happen after a lock of
//! the same queue, so either the sleeper's look comes after the push (it
//! sees the entry and does not sleep) or its registration happened before
//! the pusher's lock (the pusher sees it and unparks it). A push with no
//! sleeper costs one atomic load.
//!
//! # Closing
//!
//! When the owner completes or is dropped it closes the hub: spawning is
//! refused (I6) and the queues are drained and refuse new entries, so no
//! entry (which holds a child, which holds this hub) can keep the hub alive
//! in a cycle. A leaked owner never closes: its children stay in the queues,
//! leaked with it (I2).
//!
//! Nothing here ever polls or drops a child's future: entries are untyped
//! pointers that are only turned into polls or drops inside the owner's
//! `poll`/`drop` (I1).

use std::collections::VecDeque;
use std::task::Waker;

use super::child::RawChild;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::scheduler::fork::Unparker;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Ready `Send` children.
    ready: Mutex<Queue>,
    /// Ready body and `!Send` children (owner's thread only).
    local: Mutex<Queue>,
    /// Spawned, not yet adopted children, and whether spawning is closed.
    pending: Mutex<Pending>,
    /// Whether the parent was woken (or is polling) since its last `end_poll`.
    notified: AtomicBool,
    /// The waker of the task polling the owner.
    parent: Mutex<Option<Waker>>,
    /// Session threads sleeping in a fork wait; see the module docs.
    sleepers: Mutex<Vec<Unparker>>,
    /// Hint: `sleepers` is not empty.
    has_sleepers: AtomicBool,
}

/// A ready queue; see the module docs.
#[derive(Debug, Default)]
struct Queue {
    /// Set when the owner closed the hub: new entries are refused.
    closed: bool,
    /// The entries, oldest first.
    entries: VecDeque<RawChild>,
}

/// Children spawned through a handle, waiting for the owner.
#[derive(Debug, Default)]
struct Pending {
    /// Set when the owner completed or was dropped (I6).
    closed: bool,
    /// Children to adopt into the owner's slab.
    list: Vec<RawChild>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            ready: Mutex::new(Queue::default()),
            local: Mutex::new(Queue::default()),
            pending: Mutex::new(Pending::default()),
            // Nobody to wake before the first poll registers a waker.
            notified: AtomicBool::new(true),
            parent: Mutex::new(None),
            sleepers: Mutex::new(Vec::new()),
            has_sleepers: AtomicBool::new(false),
        })
    }

    fn queue_of(&self, child: RawChild) -> &Mutex<Queue> {
        if child.is_local() {
            &self.local
        } else {
            &self.ready
        }
    }

    /// Pushes a ready-queue entry (owning one reference of `child`) and
    /// notifies the parent. If the hub is closed, the entry's reference is
    /// dropped instead.
    pub(crate) fn push_entry(&self, child: RawChild) {
        let refused = {
            let mut q = crate::loom::lock(self.queue_of(child));
            if q.closed {
                true
            } else {
                q.entries.push_back(child);
                false
            }
        };
        if refused {
            // SAFETY: the entry was never queued, so its reference is ours.
            // This may free the child and with it this hub: nothing of
            // `self` is touched afterwards.
            unsafe { child.drop_entry() };
            return;
        }
        self.wake_sleepers();
        self.notify();
    }

    /// Pops the oldest ready `Send` children into `into` (the caller owns
    /// the entries): one, or a share of the queue as given by `batch(len)`.
    /// Returns how many stay ready.
    pub(crate) fn pop_batch(
        &self,
        into: &mut VecDeque<RawChild>,
        batch: impl FnOnce(usize) -> usize,
    ) -> usize {
        let mut q = crate::loom::lock(&self.ready);
        let n = batch(q.entries.len()).min(q.entries.len());
        into.extend(q.entries.drain(..n));
        q.entries.len()
    }

    /// Puts entries a pull loop popped but will not poll back at the front
    /// of the ready queue, in order.
    pub(crate) fn unpop(&self, entries: &mut VecDeque<RawChild>) {
        if entries.is_empty() {
            return;
        }
        {
            let mut q = crate::loom::lock(&self.ready);
            while let Some(child) = entries.pop_back() {
                q.entries.push_front(child);
            }
        }
        self.wake_sleepers();
    }

    /// Pops the oldest ready body or `!Send` child (owner's thread only).
    pub(crate) fn pop_local(&self) -> Option<RawChild> {
        crate::loom::lock(&self.local).entries.pop_front()
    }

    /// Wakes the parent unless it was already woken or is polling.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // Clone under the lock, wake outside it: waking may re-enter.
            let waker = crate::loom::lock(&self.parent).clone();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    /// Called by the owner at the start of a poll: remembers the parent's
    /// waker and suppresses parent wakes until [`Shared::end_poll`].
    pub(crate) fn begin_poll(&self, waker: &Waker) {
        {
            let mut parent = crate::loom::lock(&self.parent);
            match &*parent {
                Some(w) if w.will_wake(waker) => {}
                _ => *parent = Some(waker.clone()),
            }
        }
        self.notified.store(true, Ordering::Release);
    }

    /// True if the ready queue holds an entry, or with `local`, the
    /// owner-only queue does.
    pub(crate) fn has_ready_for(&self, local: bool) -> bool {
        !crate::loom::lock(&self.ready).entries.is_empty()
            || (local && !crate::loom::lock(&self.local).entries.is_empty())
    }

    /// Registers a session thread about to sleep; see "Serving while
    /// waiting" in the module docs. The caller looks at the queues
    /// afterwards.
    pub(crate) fn register_sleeper(&self, wake: &Unparker) {
        let mut sleepers = crate::loom::lock(&self.sleepers);
        sleepers.push(wake.clone());
        // A lingering helper (`engine`) loads the session's count of polls
        // in flight after this store, and the last poll's end decrements
        // that count before `wake_sleepers` loads this flag: both sides put
        // a SeqCst fence in between.
        self.has_sleepers.store(true, Ordering::SeqCst);
    }

    /// True if a session thread is registered to sleep: a pull loop about
    /// to start a poll then hands its batch back, which wakes the sleeper.
    /// SeqCst, as the registration's store: a loop that filled its batch
    /// (a SeqCst store of the batch's length) and then sees no sleeper is
    /// seen by a sleeper that registers later, whose last look at the
    /// batches comes after its registration (the engine's `Batch`).
    pub(crate) fn has_sleepers(&self) -> bool {
        self.has_sleepers.load(Ordering::SeqCst)
    }

    /// Withdraws a registration, if a push has not taken it already.
    pub(crate) fn unregister_sleeper(&self, wake: &Unparker) {
        let mut sleepers = crate::loom::lock(&self.sleepers);
        sleepers.retain(|w| !w.same(wake));
        if sleepers.is_empty() {
            self.has_sleepers.store(false, Ordering::Relaxed);
        }
    }

    /// Wakes every registered sleeper; called after a push (see "Serving
    /// while waiting": the push's queue lock orders this load after any
    /// registration whose look at the queues missed the push).
    pub(crate) fn wake_sleepers(&self) {
        if !self.has_sleepers.load(Ordering::SeqCst) {
            return;
        }
        let sleepers = {
            let mut sleepers = crate::loom::lock(&self.sleepers);
            self.has_sleepers.store(false, Ordering::Relaxed);
            std::mem::take(&mut *sleepers)
        };
        for wake in sleepers {
            wake.unpark();
        }
    }

    /// True if a ready queue holds an entry.
    fn has_ready(&self) -> bool {
        !crate::loom::lock(&self.ready).entries.is_empty()
            || !crate::loom::lock(&self.local).entries.is_empty()
    }

    /// Called by the owner before returning `Pending`: re-enables parent
    /// wakes, then reports whether work arrived meanwhile (in which case
    /// parent wakes stay suppressed and the owner must go on polling).
    pub(crate) fn end_poll(&self) -> bool {
        self.notified.swap(false, Ordering::AcqRel);
        let more = self.has_ready();
        if more {
            self.notified.store(true, Ordering::Release);
        }
        more
    }

    /// Queues a child spawned through a handle: it is recorded for adoption
    /// and its first entry is pushed (both under the pending lock, so a
    /// closing owner sees either both or neither). Hands the child back if
    /// the owner is closed (I6).
    pub(crate) fn push_pending(&self, child: RawChild) -> Result<(), RawChild> {
        {
            let mut pending = crate::loom::lock(&self.pending);
            if pending.closed {
                return Err(child);
            }
            pending.list.push(child);
            crate::loom::lock(self.queue_of(child))
                .entries
                .push_back(child);
        }
        self.wake_sleepers();
        self.notify();
        Ok(())
    }

    /// Pushes the first entry of a child the owner created itself (join
    /// sets, `join_all`, the body record). Parent wakes are not needed: the
    /// owner polls the queues before it next returns `Pending`.
    pub(crate) fn push_new(&self, child: RawChild) {
        crate::loom::lock(self.queue_of(child))
            .entries
            .push_back(child);
    }

    /// Makes room for `n` more entries in the ready queue of `Send`
    /// children.
    pub(crate) fn reserve_ready(&self, n: usize) {
        crate::loom::lock(&self.ready).entries.reserve(n);
    }

    /// Moves the pending children into `into`.
    pub(crate) fn take_pending(&self, into: &mut Vec<RawChild>) {
        let mut pending = crate::loom::lock(&self.pending);
        if !pending.list.is_empty() {
            into.append(&mut pending.list);
        }
    }

    /// Closes spawning and returns the children that were still pending.
    pub(crate) fn close(&self) -> Vec<RawChild> {
        let mut pending = crate::loom::lock(&self.pending);
        pending.closed = true;
        std::mem::take(&mut pending.list)
    }

    /// Closes the ready queues and returns their entries (whose references
    /// the caller now owns). Called by the owner after every child is
    /// complete, so no wake pushes a new entry afterwards.
    pub(crate) fn close_queues(&self) -> Vec<RawChild> {
        let mut out = Vec::new();
        for q in [&self.ready, &self.local] {
            let mut q = crate::loom::lock(q);
            q.closed = true;
            out.extend(q.entries.drain(..));
        }
        out
    }

    /// Closes spawning if nothing is pending; true if it closed.
    pub(crate) fn close_if_idle(&self) -> bool {
        let mut pending = crate::loom::lock(&self.pending);
        if pending.list.is_empty() {
            pending.closed = true;
        }
        pending.closed
    }

    pub(crate) fn is_closed(&self) -> bool {
        crate::loom::lock(&self.pending).closed
    }
}
