//! Workers recycle the memory of finished tasks (`task::pool`): once a
//! runtime has run a burst of spawns, later bursts of the same tasks take
//! their cells from the workers' caches and the runtime's pool instead of
//! the global allocator, whichever worker ran and freed each task.
//!
//! The children of a scope come from the same pool.
//!
//! Counted by a process-wide counting allocator; the tests of this binary
//! take [`COUNTING`] so that nothing else allocates while one counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Counts allocations and frees of the whole process.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; the counters are atomics that
// never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREES.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Tasks spawned per burst: their cells fit the runtime's pool.
const N: usize = 5_000;

/// Held by the test that counts: the counters are process-wide.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Spawns `N` detached tasks from a task on a worker and waits until all
/// have run; returns the global allocations and frees made meanwhile.
fn burst(rt: &tether::Runtime) -> (usize, usize) {
    let (allocs, frees) = (ALLOCS.load(Relaxed), FREES.load(Relaxed));
    rt.block_on(async {
        let (done_tx, done_rx) = futures::channel::oneshot::channel();
        let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
        let remaining = Arc::new(AtomicUsize::new(N));
        drop(tether::spawn(async move {
            for _ in 0..N {
                let (remaining, done_tx) = (remaining.clone(), done_tx.clone());
                drop(tether::spawn(async move {
                    if remaining.fetch_sub(1, Relaxed) == 1 {
                        let tx = done_tx.lock().unwrap().take();
                        let _ = tx.expect("one last task").send(());
                    }
                }));
            }
        }));
        done_rx.await.expect("the last task signals");
    });
    (ALLOCS.load(Relaxed) - allocs, FREES.load(Relaxed) - frees)
}

#[test]
fn spawns_after_the_first_burst_reuse_the_cells_of_finished_tasks() {
    let _guard = tether_tests::watchdog("task_pool", Duration::from_secs(60));
    let _counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tether_tests::multi_thread(2);
    // A burst allocates the cells it cannot take back from tasks that
    // already finished: how many depends on how fast the other worker
    // finishes what it steals, so the bursts together allocate about as
    // many cells as were ever alive at once (at most `N`), not one per
    // spawn.
    let mut allocs = 0;
    for round in 1..=4 {
        let (a, frees) = burst(&rt);
        eprintln!("burst {round}: {a} allocations, {frees} frees");
        allocs += a;
        if round > 1 {
            assert!(
                frees <= N / 20,
                "burst {round}: {frees} frees for {N} tasks; the cells of finished tasks \
                 should stay in the workers' caches and the runtime's pool"
            );
        }
    }
    assert!(
        allocs <= N + N / 10,
        "4 bursts of {N} tasks made {allocs} allocations; later bursts should take \
         the cells of finished tasks from the workers' caches and the runtime's pool"
    );
    // Dropping the runtime gives the pooled cells back.
    let frees = FREES.load(Relaxed);
    drop(rt);
    let given_back = FREES.load(Relaxed) - frees;
    eprintln!("dropping the runtime: {given_back} frees");
    assert!(
        given_back >= allocs / 2,
        "dropping the runtime freed {given_back} blocks; the bursts allocated {allocs}"
    );
}

/// Runs a scope of `N` children that borrow a counter, in a task on a
/// worker; returns the global allocations and frees made meanwhile.
fn scope_burst(rt: &tether::Runtime) -> (usize, usize) {
    let (allocs, frees) = (ALLOCS.load(Relaxed), FREES.load(Relaxed));
    let ran = AtomicUsize::new(0);
    let ran_ref = &ran;
    rt.scope(|bs| {
        bs.spawn(tether::scope(|s| async move {
            for _ in 0..N {
                s.spawn(async move {
                    ran_ref.fetch_add(1, Relaxed);
                });
            }
        }));
    });
    assert_eq!(ran.load(Relaxed), N, "every child ran once");
    (ALLOCS.load(Relaxed) - allocs, FREES.load(Relaxed) - frees)
}

#[test]
fn scope_children_after_the_first_burst_reuse_the_cells_of_finished_children() {
    let _guard = tether_tests::watchdog("task_pool scope", Duration::from_secs(60));
    let _counting = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tether_tests::multi_thread(2);
    // The first scope allocates its children's cells (and its own books);
    // later scopes of the same children take the cells back from the
    // workers' caches and the runtime's pool. What is left per scope is
    // its own state (books and queues growing to `N` entries: a few dozen
    // allocations).
    let (first, _) = scope_burst(&rt);
    eprintln!("scope 1: {first} allocations");
    for round in 2..=4 {
        let (allocs, frees) = scope_burst(&rt);
        eprintln!("scope {round}: {allocs} allocations, {frees} frees");
        assert!(
            allocs <= N / 20 && frees <= N / 20,
            "scope {round}: {allocs} allocations and {frees} frees for {N} children; \
             the cells of finished children should stay in the workers' caches and \
             the runtime's pool"
        );
    }
}
