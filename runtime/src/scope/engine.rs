//! The engine shared by [`scope`](super::scope), [`ScopedJoinSet`](super::ScopedJoinSet)
//! and [`join_all`](super::join_all): a slab of children polled in rounds,
//! each round forked over the runtime's workers and joined before it ends.
//!
//! # One round
//!
//! 1. Drain the ready list into a batch (each child at most once per round,
//!    and only if its `QUEUED` bit was still set — cleared now, before the
//!    poll, so later wakes are not lost).
//! 2. Adopt newly spawned children into the slab; they join the batch.
//! 3. Poll the batch: `!Send` children on this thread, the others through
//!    [`fork::join_all`](crate::scheduler::fork::join_all), which returns only
//!    after every job returned (also on unwind). Every entry of the batch is
//!    a distinct child and each job polls its own stride of entries, so a job
//!    has exclusive access to the children it polls.
//! 4. After the join, remove completed children from the slab (freeing their
//!    slot for reuse, so a long-lived scope stays as large as its peak number
//!    of *live* children) and hand them to the owner.
//!
//! Between rounds no thread but the owner's holds a reference to any child
//! (I1). If the engine is leaked, its children are leaked with it (I2);
//! dropping it cancels them (I4).

use std::marker::PhantomData;

use slab::Slab;

use super::child::{BODY_INDEX, COMPLETE, Payload, RawChild};
use super::shared::Shared;
use crate::loom::sync::Arc;

/// Most fork jobs one round creates. Job `j` polls batch entries `j`,
/// `j + jobs`, ...: 64 pieces are enough for thieves to balance the load over
/// dozens of workers, while a round of 10 000 children costs 64 deque
/// operations (and one 64-entry job array) instead of 10 000.
const MAX_FORK_JOBS: usize = 64;

/// A slab entry: the child and the last round it was batched in.
#[derive(Debug)]
struct Entry {
    /// The child (the engine holds its owner reference).
    child: RawChild,
    /// Round number of the last batch that included it (deduplication).
    round: u64,
}

/// See the module docs. `'env` is invariant: children may borrow `'env`
/// data, so the engine must not be usable with a shorter lifetime.
#[derive(Debug)]
pub(crate) struct Engine<'env> {
    /// Live (adopted, not yet completed) children.
    slab: Slab<Entry>,
    /// Children inserted directly by the owner, not yet adopted.
    fresh: Vec<RawChild>,
    /// The wake hub.
    shared: Arc<Shared>,
    /// The body's wake record, for scopes.
    body: Option<RawChild>,
    /// Current round number.
    round: u64,
    /// Reused buffer: indices drained from the ready list.
    ready: Vec<usize>,
    /// Reused buffer: children to fork this round.
    batch: Vec<RawChild>,
    /// Reused buffer: `!Send` children to poll on this thread this round.
    local_batch: Vec<RawChild>,
    /// Invariance over `'env`.
    _env: PhantomData<fn(&'env ()) -> &'env ()>,
}

impl<'env> Engine<'env> {
    /// An engine without a body (join sets, `join_all`).
    pub(crate) fn new() -> Engine<'env> {
        Engine {
            slab: Slab::new(),
            fresh: Vec::new(),
            shared: Shared::new(),
            body: None,
            round: 0,
            ready: Vec::new(),
            batch: Vec::new(),
            local_batch: Vec::new(),
            _env: PhantomData,
        }
    }

    /// An engine with a wake record for a body future.
    pub(crate) fn with_body() -> Engine<'env> {
        let mut e = Engine::new();
        e.body = Some(RawChild::new_body(&e.shared));
        e
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The body's wake record.
    pub(crate) fn body(&self) -> Option<RawChild> {
        self.body
    }

    /// Number of children not yet completed and handed out.
    pub(crate) fn len(&self) -> usize {
        self.slab.len() + self.fresh.len()
    }

    /// Capacity of the slab (tests check that slots are reused).
    #[cfg(test)]
    pub(crate) fn slab_capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Inserts a child created by the owner itself (it is polled in the
    /// next round).
    pub(crate) fn insert(&mut self, child: RawChild) {
        self.fresh.push(child);
    }

    /// True (and spawning closed) if there is no live or pending child.
    pub(crate) fn close_if_idle(&mut self) -> bool {
        self.len() == 0 && self.shared.close_if_idle()
    }

    /// Requests cancellation of every live child; each completes with a
    /// cancellation error on the next round.
    pub(crate) fn abort_all(&mut self) {
        for (_, e) in self.slab.iter() {
            e.child.abort();
        }
        for c in &self.fresh {
            c.abort();
        }
    }

    /// Runs one round (see the module docs) and hands each completed child
    /// to `on_complete`, which must release it. Returns how many children
    /// were polled.
    pub(crate) fn round(&mut self, on_complete: &mut dyn FnMut(RawChild)) -> usize {
        self.round += 1;
        let round = self.round;
        // Left over only if a previous round unwound (a waker's `wake`
        // panicked): never poll those again from a stale batch.
        self.batch.clear();
        self.local_batch.clear();

        self.shared.drain_ready(&mut self.ready);
        for &index in &self.ready {
            if index == BODY_INDEX {
                continue;
            }
            // A stale index (slot vacant or reused) only leads to a check of
            // the occupant's QUEUED bit (see `child`'s module docs).
            if let Some(e) = self.slab.get_mut(index)
                && e.round != round
                && e.child.take_queued()
            {
                e.round = round;
                if e.child.is_local() {
                    self.local_batch.push(e.child);
                } else {
                    self.batch.push(e.child);
                }
            }
        }
        self.ready.clear();

        self.shared.take_pending(&mut self.fresh);
        for child in self.fresh.drain(..) {
            let index = self.slab.insert(Entry { child, round });
            child.set_index(index);
            // New children are created QUEUED; clearing it (after the index
            // is published) arms their wakers.
            child.take_queued();
            if child.is_local() {
                self.local_batch.push(child);
            } else {
                self.batch.push(child);
            }
        }

        let polled = self.batch.len() + self.local_batch.len();
        for child in &self.local_batch {
            // SAFETY: I1: we are inside the owner's poll on the owner's
            // thread; the child is in this round's batch once (dedup above).
            unsafe { child.poll() };
        }
        let batch: &[RawChild] = &self.batch;
        match batch {
            [] => {}
            // SAFETY: I1, as above; no fork needed for one child.
            [one] => unsafe { one.poll() },
            _ => {
                let jobs = batch.len().min(MAX_FORK_JOBS);
                crate::scheduler::fork::join_all(jobs, &|j| {
                    for child in batch.iter().skip(j).step_by(jobs) {
                        // SAFETY: I1: join_all returns only after every job
                        // returned (also on unwind), so this poll ends within
                        // the owner's poll; job `j` polls the batch entries
                        // j, j + jobs, ..., which no other job touches, and
                        // batch entries are distinct children.
                        unsafe { child.poll() }
                    }
                })
            }
        }

        for list in [&mut self.local_batch, &mut self.batch] {
            for child in list.drain(..) {
                if child.state() & COMPLETE != 0 {
                    self.slab.remove(child_index(child));
                    on_complete(child);
                }
            }
        }
        polled
    }

    /// Closes spawning and cancels every pending and live child on this
    /// thread (I4). Returns the first panic raised by a child's destructor.
    pub(crate) fn cancel_all(&mut self) -> Option<Payload> {
        let mut first = None;
        let pending = self.shared.close();
        let fresh = std::mem::take(&mut self.fresh);
        let live = std::mem::take(&mut self.slab);
        let children = pending
            .into_iter()
            .chain(fresh)
            .chain(live.into_iter().map(|(_, e)| e.child));
        for child in children {
            // SAFETY: I4: we are in the owner's poll or drop, 'env is alive,
            // and no round is running, so nobody else touches the child.
            if let Err(p) = unsafe { child.cancel() } {
                first.get_or_insert(p);
            }
            // SAFETY: I4: the child is complete (cancelled); released once.
            unsafe { child.release_owner() };
        }
        first
    }
}

/// The slab key recorded in a child's header.
fn child_index(child: RawChild) -> usize {
    child.index()
}

impl Drop for Engine<'_> {
    fn drop(&mut self) {
        let panic = self.cancel_all();
        if let Some(body) = self.body.take() {
            // SAFETY: the engine created the body record and releases it once.
            unsafe { body.release_body() };
        }
        if let Some(p) = panic
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(p);
        }
    }
}
