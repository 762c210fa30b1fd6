//! Which workers are searching for work and which are parked.
//!
//! Waking a worker costs a syscall, and a worker that wakes to find nothing
//! wastes it, so only a bounded number of workers search at once and a
//! parked worker is woken only when nobody is searching.
//!
//! # Invariants
//!
//! * `num_searching <= ceil(num_workers / 2)`: at most about half of the
//!   workers search (steal) at the same time.
//! * `num_unparked` counts workers not in `sleepers`; both change under the
//!   `sleepers` lock, so a worker is either counted or listed, never both.
//! * No lost wake-ups: a submitter pushes work, then (SeqCst) reads the
//!   state; the last searcher to park decrements `num_searching`, then
//!   (SeqCst) re-checks every queue. One of the two sees the other.

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// `num_searching` lives in the low bits, `num_unparked` above them.
const UNPARK_SHIFT: usize = 16;
const SEARCH_MASK: usize = (1 << UNPARK_SHIFT) - 1;

/// Searching/parked bookkeeping for one multi-thread runtime.
#[derive(Debug)]
pub(super) struct Idle {
    /// Packed `num_searching` and `num_unparked`.
    state: AtomicUsize,
    /// Indices of parked workers (most recently parked last).
    sleepers: Mutex<Vec<usize>>,
    /// Number of workers.
    num_workers: usize,
}

impl Idle {
    pub(super) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARK_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn num_searching(state: usize) -> usize {
        state & SEARCH_MASK
    }

    fn num_unparked(state: usize) -> usize {
        state >> UNPARK_SHIFT
    }

    /// If a parked worker should be woken for new work, marks it unparked
    /// and searching and returns its index.
    pub(super) fn worker_to_notify(&self) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = crate::loom::lock(&self.sleepers);
        if !self.notify_should_wakeup() {
            return None;
        }
        let index = sleepers.pop()?;
        // One more unparked worker, and it starts out searching.
        self.state.fetch_add(1 | (1 << UNPARK_SHIFT), SeqCst);
        Some(index)
    }

    fn notify_should_wakeup(&self) -> bool {
        let state = self.state.load(SeqCst);
        Self::num_searching(state) == 0 && Self::num_unparked(state) < self.num_workers
    }

    /// A worker parks. Returns true if it was the last searching worker, in
    /// which case it must re-check the queues before sleeping.
    pub(super) fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = crate::loom::lock(&self.sleepers);
        let dec = (1 << UNPARK_SHIFT) | usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        is_searching && Self::num_searching(prev) == 1
    }

    /// A worker wants to steal. Refused when half the workers already search.
    pub(super) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * Self::num_searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searching worker found work. Returns true if it was the last
    /// searcher, in which case it should wake another worker to keep
    /// looking.
    pub(super) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        Self::num_searching(prev) == 1
    }

    /// A worker woke up for a reason of its own (shutdown, a targeted
    /// unpark): takes it off the sleepers list if it is still there.
    pub(super) fn unpark_worker_by_id(&self, index: usize) -> bool {
        let mut sleepers = crate::loom::lock(&self.sleepers);
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(1 << UNPARK_SHIFT, SeqCst);
                true
            }
            None => false,
        }
    }

    /// True if no worker is parked or searching: every worker is running
    /// something, so work published now waits until one of them is done.
    /// A hint (a relaxed load): callers use it only to choose between two
    /// correct paths.
    pub(super) fn all_busy(&self) -> bool {
        let state = self
            .state
            .load(crate::loom::sync::atomic::Ordering::Relaxed);
        Self::num_searching(state) == 0 && Self::num_unparked(state) == self.num_workers
    }

    /// True if `index` is on the sleepers list.
    pub(super) fn is_parked(&self, index: usize) -> bool {
        crate::loom::lock(&self.sleepers).contains(&index)
    }
}
