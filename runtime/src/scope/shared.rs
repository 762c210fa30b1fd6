//! The wake hub of one scope (or join set): `'static`, shared by the owner,
//! the `Scope` handles and every child's wake record.
//!
//! * `ready`: slab indices of children woken since the owner last drained it.
//! * `pending`: children spawned through a `Scope` handle, waiting to be moved
//!   into the owner's slab (spawns may happen on any thread, also while
//!   children are being polled in parallel, so they never touch the slab).
//! * `notified`: "the parent has already been woken (or is polling right
//!   now)", so a burst of child wakes costs at most one wake of the parent.
//!
//! # Lost wake-ups
//!
//! A waker pushes (under the `ready` lock) *before* it swaps `notified` to
//! true. The owner sets `notified` while it polls, and at the end of a poll
//! swaps it back to false *before* looking at the lists one last time
//! ([`Shared::end_poll`]). Either the waker's push is ordered before that
//! last look (the owner sees it), or the waker's swap comes after the
//! owner's swap, reads false and wakes the parent.
//!
//! Nothing here ever owns a child: `pending` holds untyped pointers that are
//! only turned into polls or drops by the owner (I1); if the owner is leaked
//! they are leaked with it (I2).

use std::task::Waker;

use super::child::RawChild;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Indices of woken children.
    ready: Mutex<Vec<usize>>,
    /// Spawned, not yet adopted children, and whether spawning is closed.
    pending: Mutex<Pending>,
    /// Whether the parent was woken (or is polling) since its last `end_poll`.
    notified: AtomicBool,
    /// The waker of the task polling the owner.
    parent: Mutex<Option<Waker>>,
}

/// Children spawned through a handle, waiting for the owner.
#[derive(Debug, Default)]
struct Pending {
    /// Set when the owner completed or was dropped (I6).
    closed: bool,
    /// Children to adopt on the owner's next round.
    list: Vec<RawChild>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            ready: Mutex::new(Vec::new()),
            pending: Mutex::new(Pending::default()),
            // Nobody to wake before the first poll registers a waker.
            notified: AtomicBool::new(true),
            parent: Mutex::new(None),
        })
    }

    /// Records that the child at `index` was woken and notifies the parent.
    pub(crate) fn push_ready(&self, index: usize) {
        crate::loom::lock(&self.ready).push(index);
        self.notify();
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

    /// Called by the owner before returning `Pending`: re-enables parent
    /// wakes, then reports whether work arrived meanwhile (in which case
    /// parent wakes stay suppressed and the owner must go on polling).
    pub(crate) fn end_poll(&self) -> bool {
        self.notified.swap(false, Ordering::AcqRel);
        let more = !crate::loom::lock(&self.ready).is_empty()
            || !crate::loom::lock(&self.pending).list.is_empty();
        if more {
            self.notified.store(true, Ordering::Release);
        }
        more
    }

    /// Moves the woken indices into `into` (which must be empty).
    pub(crate) fn drain_ready(&self, into: &mut Vec<usize>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut *crate::loom::lock(&self.ready), into);
    }

    /// Queues a spawned child for the owner, or hands it back if the owner
    /// is closed (I6).
    pub(crate) fn push_pending(&self, child: RawChild) -> Result<(), RawChild> {
        {
            let mut pending = crate::loom::lock(&self.pending);
            if pending.closed {
                return Err(child);
            }
            pending.list.push(child);
        }
        self.notify();
        Ok(())
    }

    /// Moves the pending children into `into`.
    pub(crate) fn take_pending(&self, into: &mut Vec<RawChild>) {
        into.append(&mut crate::loom::lock(&self.pending).list);
    }

    /// Closes spawning and returns the children that were still pending.
    pub(crate) fn close(&self) -> Vec<RawChild> {
        let mut pending = crate::loom::lock(&self.pending);
        pending.closed = true;
        std::mem::take(&mut pending.list)
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
