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
//!   state, and wakes a parked worker only if nobody searches and some
//!   worker is parked; otherwise it counts on a searcher, or on a worker
//!   that is not parked, to find the work. So a worker re-checks every
//!   queue (SeqCst) whenever its transition leaves nobody searching: the
//!   last searcher when it finds work or parks, and a worker that parks
//!   without having searched (refused the search while others searched)
//!   when nobody searches any more. One of the submitter and that worker
//!   sees the other. (A park without a search used to re-check nothing: it
//!   lost the wake of a task pushed just before by a worker that saw both
//!   workers unparked, and the task waited for the end of that worker's
//!   poll, forever when the poll waited for it, as a fork whose popped-back
//!   half waits for a task its other half spawned.)

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Bumped each time a worker of any runtime in the process starts to search
/// or parks: a join that ran inline on a credit earned before (see
/// `worker::enough_fork_jobs_published`) asks again once it changed. Only
/// a hint (relaxed, wrapping, shared by every runtime, so a bump may be
/// another runtime's), never used to synchronise, so it is a `std` atomic
/// in every build, loom included.
static IDLE_EPOCH: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The current value of [`IDLE_EPOCH`].
#[inline]
pub(crate) fn idle_epoch() -> u32 {
    IDLE_EPOCH.load(std::sync::atomic::Ordering::Relaxed)
}

/// A worker became idle (searching or parked).
fn bump_idle_epoch() {
    IDLE_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

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

    /// A worker parks. Returns true if nobody searches any more (it was the
    /// last searcher, or it was not searching and nobody was), in which case
    /// it must re-check the queues before sleeping: a submitter that saw no
    /// worker parked, or a searcher, woke nobody (see the module docs).
    pub(super) fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = crate::loom::lock(&self.sleepers);
        let dec = (1 << UNPARK_SHIFT) | usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(index);
        bump_idle_epoch();
        Self::num_searching(prev) == usize::from(is_searching)
    }

    /// A worker wants to steal. Refused when half the workers already search.
    pub(super) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * Self::num_searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        bump_idle_epoch();
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The lost wake-up of "No lost wake-ups": worker 1 is refused the
    /// search while worker 0 searches; worker 0 finds a task, stops
    /// searching and pushes another task, whose notify sees both workers
    /// unparked and wakes nobody. Worker 1, parking now without having
    /// searched, must re-check the queues (it then wakes itself for that
    /// task).
    #[test]
    fn a_worker_that_parks_without_searching_while_nobody_searches_rechecks() {
        let idle = Idle::new(2);
        // Both workers unparked; worker 0 searches, worker 1 is refused.
        assert!(idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_to_searching());
        // Worker 0 found work (it was the last searcher: its re-check
        // comes before the push below and finds nothing).
        assert!(idle.transition_worker_from_searching());
        // Its task pushes a task: nobody parked, nobody to wake.
        assert_eq!(idle.worker_to_notify(), None);
        // Worker 1 parks: it must look at the queues, and a wake then finds
        // it.
        assert!(idle.transition_worker_to_parked(1, false));
        assert_eq!(idle.worker_to_notify(), Some(1));
    }

    /// While another worker searches, a worker that parks without
    /// searching leaves the re-check to the searcher; a searcher that is
    /// not the last one does too.
    #[test]
    fn a_park_leaves_the_recheck_to_a_remaining_searcher() {
        let idle = Idle::new(4);
        assert!(idle.transition_worker_to_searching());
        assert!(idle.transition_worker_to_searching());
        assert!(!idle.transition_worker_to_parked(3, false));
        assert!(!idle.transition_worker_to_parked(2, true));
        assert!(idle.transition_worker_to_parked(1, true));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, Ordering, fence};
    use loom::sync::Arc;
    use loom::thread;

    /// "No lost wake-ups" for a worker that parks without having searched
    /// (refused while the other searched), racing with the other worker,
    /// which stops searching and pushes a task onto its own queue: the
    /// push's notify or the parker's re-check wakes a worker. The fences
    /// and the queue's release push / acquire look are the runtime's
    /// (`Handle::notify_parked`, `Handle::work_pending`).
    #[test]
    fn loom_a_worker_parking_without_searching_sees_a_task_pushed_meanwhile() {
        loom::model(|| {
            let idle = Arc::new(Idle::new(2));
            assert!(idle.transition_worker_to_searching());
            assert!(!idle.transition_worker_to_searching());
            let queued = Arc::new(AtomicBool::new(false));
            let parker = {
                let (idle, queued) = (idle.clone(), queued.clone());
                thread::spawn(move || {
                    if !idle.transition_worker_to_parked(1, false) {
                        return None;
                    }
                    fence(Ordering::SeqCst);
                    if !queued.load(Ordering::Acquire) {
                        return None;
                    }
                    fence(Ordering::SeqCst);
                    idle.worker_to_notify()
                })
            };
            // Worker 0 finds work; as the last searcher it re-checks the
            // queues before its task pushes: nothing yet.
            assert!(idle.transition_worker_from_searching());
            queued.store(true, Ordering::Release);
            fence(Ordering::SeqCst);
            let by_pusher = idle.worker_to_notify();
            let by_parker = parker.join().unwrap();
            assert!(
                by_pusher.is_some() || by_parker.is_some(),
                "a task was pushed, a worker parked, and nobody woke it"
            );
        });
    }
}
