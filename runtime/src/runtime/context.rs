//! The thread-local runtime context: everything tether remembers about the
//! calling thread, in one `thread_local!` ([`CONTEXT`]).
//!
//! Keeping all of it in one place makes the nesting rules visible: a thread
//! can be inside a task poll inside a scheduler loop inside `block_on`, and
//! a blocking wait in that poll can start another loop. Each field below
//! says who sets it, how the previous value comes back, and what nesting
//! does to it. Modules reach their field only through the accessors of this
//! module.
//!
//! # Fields
//!
//! - **`current`**: the runtime `tether::spawn`, timers and sockets use.
//!   Set by [`set_current`] (`Handle::enter`, `Runtime::enter`, shutdown,
//!   blocking-pool threads) and by [`enter_runtime`] (`block_on`, a
//!   worker's whole life). The guard restores the previous value on drop, so
//!   nested enters unwind in order; a guard dropped out of order restores
//!   what it saw, nothing more. Read on the spawn path by borrowing (never
//!   cloning) the handle; no code path replaces it while it is borrowed.
//! - **`in_runtime`**: true while the thread *drives* a runtime (a worker,
//!   or inside `block_on`). Set by [`enter_runtime`], which refuses to nest
//!   (a `block_on` inside a task or inside another `block_on` panics, as
//!   the thread would stop running the tasks it owes progress to); cleared
//!   when that guard drops. Blocking waits inside a poll
//!   (`scheduler::block_on_nested`, used by the blocking scope) do not touch
//!   it: they stay inside the runtime the thread already drives.
//! - **`scheduler`**: the state of the innermost scheduler loop this thread
//!   runs (a [`scheduler::Context`]: a multi-thread worker, or a
//!   current-thread run loop with the core). Set by [`set_scheduler`] for
//!   the duration of a closure and restored when it returns or unwinds.
//!   A worker sets it once for its whole life. A current-thread runtime
//!   sets it for each run loop: `block_on`, and every blocking wait inside a
//!   poll, which moves the core out of the outer loop's context into a new
//!   one that shadows it until the wait ends. The innermost loop wins:
//!   wakes and spawns from inside it go to its core. What this field does
//!   *not* hold is the wake-up state of a loop's own future: each run loop
//!   has its own wake flag (`current_thread::BlockOnWake`), so an inner
//!   loop can never consume a wake-up meant for an outer one (the lost
//!   wake-up of a nested blocking scope came from sharing that state).
//!   A thread is never inside loops of both kinds at once: a worker cannot
//!   enter `block_on` (`in_runtime`), and a blocking wait on a worker parks
//!   instead of running a current-thread loop.
//! - **`budget`**: the cooperative budget of the poll in progress
//!   ([`crate::coop`]). Set around every task poll and every poll of a
//!   `block_on` future, restored afterwards (also on unwind). A nested loop
//!   gives each poll it runs a fresh budget and hands the outer poll back
//!   whatever it had left. `None` (unconstrained) outside a budgeted poll.
//! - **`task_id`**: the id of the task being polled or dropped
//!   ([`crate::task::id`]), 0 for none. Set by the task harness around a
//!   poll and around the drop of a future or output, restored afterwards.
//!   Tasks polled by a nested loop name themselves and restore the id of
//!   the task that is waiting; the waiting task's own future (polled by that
//!   loop) keeps that task's id. A fork job carries the id of the task that
//!   forked it ([`crate::task::id::enter`] around the job), so scoped children and `join!` branches
//!   polled on another worker name their owner's task.
//! - **`task_locals`**: how many task-local values ([`crate::task_local!`])
//!   are swapped in on this thread right now. Incremented by
//!   `LocalKey::scope`/`sync_scope` while their value is in the key's slot,
//!   decremented when it is swapped out (also on unwind), so nesting counts
//!   up and down. While it is non-zero the thread does not fork
//!   (`worker::with_forker` offers no forker): a task-local value lives in a
//!   thread-local of the polling thread, so scoped children and `join!`
//!   branches polled inside its scope must be polled on this thread to see
//!   it, and a thread that waits in a fork may run *other* owners' children,
//!   which must not see this value.
//! - **`child_polls`**: how many scoped-child polls are in progress on this
//!   thread (nested: a child's poll may run a nested scope's session).
//!   Counted by the scope engine around each child poll, restored on
//!   unwind. A helper pull loop that starts while it is non-zero runs on top
//!   of a poll (it was popped or stolen by a fork wait inside that poll), so
//!   it must not linger for polls in flight: one of them may be the poll
//!   beneath it, which cannot end first.
//! - **`fork_wait_help`**: how many fork jobs this thread runs as help
//!   inside a fork of its own that has not returned (nested): jobs a fork
//!   wait steals or pops (`Forker::wait`), and jobs a fork pops back
//!   before it waits (`fork::join`), which from a `block_on` thread may be
//!   another thread's. A scope helper run that way does not linger: the
//!   fork beneath it may already be done, and lingering would hold that
//!   fork's owner for as long as an unrelated session's poll lasts.
//! - **`owner_polled`**: set by a scope engine (scope, join set,
//!   `join_all`) each time its owner is polled on this thread; read and
//!   cleared by a multi-thread runtime's `block_on` loop after each poll of
//!   its future ([`take_owner_polled`]). A `block_on` thread whose future
//!   polls a scope prefers to wait in the I/O driver, so its children's
//!   wake-ups land on the thread that polls them (`multi_thread::park`,
//!   "The preferred thread"). Only a hint: a stale value costs one wait
//!   in the wrong place.
//! - **`driver_park`**: the address of the reactor handle whose driver this
//!   thread is parked in right now (0: none). Set by `driver::Driver::park`
//!   for its whole body (the wait, the I/O dispatch and the timers it
//!   fires), restored when it returns or unwinds; nested parks of another
//!   runtime's driver (a waker cannot start one, but the rule is cheap)
//!   restore the outer mark. Read by `io::Handle::unpark`: a wake-up of the
//!   driver this very thread is parked in is already delivered (the park
//!   returns once the dispatch is over), so it skips the reactor write
//!   that would only make the next wait return at once.
//! - **`thread_hint`**: a small number unique to the thread, assigned on
//!   first use and never changed; the timer spreads threads over its shards
//!   with it.
//! - **`inline_joins`**, **`inline_joins_frame`**, **`inline_joins_epoch`**:
//!   how many more two-way joins (`join!`'s nodes) may run their sides one
//!   after the other on this thread without asking the worker whether to
//!   fork, the stack address of the join whose check earned them, and the
//!   idle epoch (`multi_thread::idle::idle_epoch`) at that check. Set by
//!   `worker::enough_fork_jobs_published` when its full check says a join
//!   may run inline. Spent one per join, and only while no worker went
//!   idle since the check (the epoch is unchanged) and only by joins at
//!   that frame's depth or deeper (the recursion that earned them, not a
//!   shallower join such as a task's own `join!` after the recursion
//!   returned). Cleared whenever the task id changes (a task poll, a fork
//!   job) and when the worker pops one of its fork jobs back. Only a hint:
//!   running a join inline is always correct, and while no worker goes
//!   idle the full check would mostly say the same.
//!
//! # Teardown
//!
//! `current` owns a handle, so the context has a destructor and is gone
//! while the thread's other thread-locals are being destroyed. Every
//! accessor used on wake, spawn, poll and drop paths then falls back to the
//! empty context (no runtime, no scheduler loop, unconstrained budget, no
//! task id) instead of panicking.
//!
//! # Thread-locals kept elsewhere
//!
//! - The storage generated by `task_local!` is one thread-local *per key*
//!   (it holds a value of the key's own type), so it cannot be a field here.
//! - `thread_mark` in `scope/engine.rs` is the address of a byte-sized
//!   thread-local without a destructor: it identifies the thread for the
//!   scope's ownership checks and must work during thread teardown too,
//!   when this context may already be gone.
//! - The fork latch's `Sleeper` (`scheduler/fork/latch.rs`) is a parking
//!   primitive made of the crate's (loom-swappable) lock and condvar, built
//!   lazily; it is not runtime state and is not used under loom, where
//!   such objects cannot outlive one model execution.
//!
//! # Loom
//!
//! The context holds plain `Cell`s, a `RefCell` and a pointer; none of them
//! coordinates threads, so it is a `std` thread-local in every build.

use std::cell::{Cell, RefCell};

use crate::scheduler;
use crate::scheduler::scoped::Scoped;

/// Per-thread runtime state; see the module docs for each field's rules.
struct Context {
    /// The runtime that `spawn` and friends use on this thread.
    current: RefCell<Option<scheduler::Handle>>,
    /// True while the thread drives a runtime (a worker, or inside
    /// `block_on`).
    in_runtime: Cell<bool>,
    /// The innermost scheduler loop running on this thread.
    scheduler: Scoped<scheduler::Context>,
    /// `None`: unconstrained. `Some(n)`: `n` units left in the current poll.
    budget: Cell<Option<u8>>,
    /// The raw id of the task being polled on this thread; 0 for none.
    task_id: Cell<u64>,
    /// Task-local values swapped in on this thread (see the module docs).
    task_locals: Cell<u32>,
    /// Scoped-child polls in progress on this thread (see the module docs).
    child_polls: Cell<u32>,
    /// Fork jobs run as help by a fork wait, in progress (see the module
    /// docs).
    fork_wait_help: Cell<u32>,
    /// A scope engine's owner was polled here (see the module docs).
    owner_polled: Cell<bool>,
    /// See [`thread_hint`]; `usize::MAX` until assigned.
    thread_hint: Cell<usize>,
    /// Address of the reactor handle whose driver this thread is parked in
    /// (see the module docs); 0 for none.
    driver_park: Cell<usize>,
    /// Nested joins that may still run inline without asking the worker
    /// (see the module docs); 0 for none.
    inline_joins: Cell<u32>,
    /// The stack address of the join that earned `inline_joins`.
    inline_joins_frame: Cell<usize>,
    /// The idle epoch when `inline_joins` was earned.
    inline_joins_epoch: Cell<u32>,
}

thread_local! {
    /// The one thread-local of the runtime's state (see the module docs).
    static CONTEXT: Context = const {
        Context {
            current: RefCell::new(None),
            in_runtime: Cell::new(false),
            scheduler: Scoped::new(),
            budget: Cell::new(None),
            task_id: Cell::new(0),
            task_locals: Cell::new(0),
            child_polls: Cell::new(0),
            fork_wait_help: Cell::new(0),
            owner_polled: Cell::new(false),
            thread_hint: Cell::new(usize::MAX),
            driver_park: Cell::new(0),
            inline_joins: Cell::new(0),
            inline_joins_frame: Cell::new(0),
            inline_joins_epoch: Cell::new(0),
        }
    };
}

// ----- current runtime -------------------------------------------------

/// Runs `f` with the current runtime, or returns `None` if there is none
/// (or the thread is being torn down).
///
/// The handle is borrowed, not cloned, so `f` must not change the current
/// runtime (nothing that `spawn` or a timer registration does).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&scheduler::Handle) -> R) -> Option<R> {
    CONTEXT
        .try_with(|c| c.current.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// Panics with the message every runtime-bound call gives outside a
/// runtime.
#[track_caller]
pub(crate) fn no_runtime() -> ! {
    panic!(
        "there is no tether runtime running on this thread: call this from a task, inside \
         `block_on`, or after `Runtime::enter`"
    )
}

/// Runs `f` with the current runtime's drivers, borrowed (no handle clone:
/// timer and socket constructors are hot).
///
/// # Panics
///
/// Outside a tether runtime.
#[track_caller]
pub(crate) fn with_current_driver<R>(f: impl FnOnce(&crate::driver::Handle) -> R) -> R {
    match with_current(|h| f(h.driver())) {
        Some(r) => r,
        None => no_runtime(),
    }
}

/// The current runtime, if any.
pub(crate) fn current() -> Option<scheduler::Handle> {
    with_current(|h| h.clone())
}

/// Restores the previous current runtime on drop.
#[derive(Debug)]
pub(crate) struct SetCurrentGuard {
    /// The runtime that was current before.
    prev: Option<scheduler::Handle>,
}

/// Makes `handle` the current runtime until the guard drops.
pub(crate) fn set_current(handle: &scheduler::Handle) -> SetCurrentGuard {
    let prev = CONTEXT.with(|c| c.current.replace(Some(handle.clone())));
    SetCurrentGuard { prev }
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CONTEXT.try_with(|c| *c.current.borrow_mut() = prev);
    }
}

// ----- driving a runtime -----------------------------------------------

/// Marks the thread as driving a runtime until dropped.
#[derive(Debug)]
pub(crate) struct EnterRuntimeGuard {
    /// Restores the current runtime.
    _current: SetCurrentGuard,
}

/// Marks this thread as driving `handle`.
///
/// # Panics
///
/// Panics if the thread already drives a runtime: blocking it (in
/// `block_on`) would stop it from running the tasks it is responsible for.
#[track_caller]
pub(crate) fn enter_runtime(handle: &scheduler::Handle) -> EnterRuntimeGuard {
    CONTEXT.with(|c| {
        if c.in_runtime.replace(true) {
            panic!(
                "cannot block on a future from a thread that is already driving a tether \
                 runtime (inside a task or `block_on`): it would stop running the tasks it is \
                 responsible for. Use `.await` instead, or `tether::spawn_blocking` to move \
                 blocking work to the blocking pool"
            );
        }
    });
    EnterRuntimeGuard {
        _current: set_current(handle),
    }
}

impl Drop for EnterRuntimeGuard {
    fn drop(&mut self) {
        // `enter_runtime` refuses to nest, so the value before was `false`.
        let _ = CONTEXT.try_with(|c| c.in_runtime.set(false));
    }
}

/// True while this thread drives a runtime (a worker, or inside
/// `block_on`).
pub(crate) fn is_in_runtime() -> bool {
    CONTEXT.try_with(|c| c.in_runtime.get()).unwrap_or(false)
}

/// Context for a blocking-pool thread: `spawn` works, `block_on` too.
pub(crate) fn enter_blocking_thread(handle: &scheduler::Handle) -> SetCurrentGuard {
    set_current(handle)
}

// ----- scheduler loop --------------------------------------------------

/// Makes `cx` the innermost scheduler loop of this thread while `f` runs;
/// the previous one comes back when `f` returns or unwinds.
pub(crate) fn set_scheduler<R>(cx: &scheduler::Context, f: impl FnOnce() -> R) -> R {
    CONTEXT.with(|c| c.scheduler.set(cx, f))
}

/// Runs `f` with the innermost scheduler loop of this thread, if any (none
/// during thread teardown).
#[inline]
pub(crate) fn with_scheduler<R>(f: impl FnOnce(Option<&scheduler::Context>) -> R) -> R {
    let cx = CONTEXT
        .try_with(|c| c.scheduler.get())
        .unwrap_or(std::ptr::null());
    // SAFETY: a non-null pointer was stored by a `set_scheduler` of this
    // thread that is still running (it restores the previous pointer before
    // it returns, also on unwind), so this call, and `f`, run inside it and
    // the value it lent outlives them.
    f(unsafe { cx.as_ref() })
}

/// [`with_scheduler`] for callers that may move work to other threads,
/// which they must not do while a task-local value is swapped in on this
/// thread (see `task_locals`): `f` gets `Err(())` then. One thread-local
/// access for both.
#[inline]
pub(crate) fn with_scheduler_unless_task_locals<R>(
    f: impl FnOnce(Result<Option<&scheduler::Context>, ()>) -> R,
) -> R {
    let cx = CONTEXT
        .try_with(|c| {
            if c.task_locals.get() == 0 {
                Ok(c.scheduler.get())
            } else {
                Err(())
            }
        })
        .unwrap_or(Ok(std::ptr::null()));
    // SAFETY: as in `with_scheduler`: a non-null pointer was stored by a
    // `set_scheduler` of this thread that is still running.
    f(cx.map(|cx| unsafe { cx.as_ref() }))
}

// ----- cooperative budget ----------------------------------------------

/// This thread's budget (see [`crate::coop`]); unconstrained during thread
/// teardown.
#[inline]
pub(crate) fn budget() -> Option<u8> {
    CONTEXT.try_with(|c| c.budget.get()).unwrap_or(None)
}

/// Replaces this thread's budget, returning the previous one.
#[inline]
pub(crate) fn replace_budget(budget: Option<u8>) -> Option<u8> {
    CONTEXT
        .try_with(|c| c.budget.replace(budget))
        .unwrap_or(None)
}

// ----- current task ----------------------------------------------------

/// Makes `id` the current task id (0: none), returning the previous one.
#[inline]
pub(crate) fn replace_task_id(id: u64) -> u64 {
    CONTEXT
        .try_with(|c| {
            c.inline_joins.set(0);
            c.task_id.replace(id)
        })
        .unwrap_or(0)
}

// ----- inline joins ----------------------------------------------------

/// Spends one of the joins that may run inline without asking the worker,
/// if one is left, `frame` (the stack address of a local of the asking
/// join) is at or below the frame that earned it, and `epoch` (the idle
/// epoch now) is the one it was earned in; false otherwise.
#[inline]
pub(crate) fn take_inline_join(frame: usize, epoch: u32) -> bool {
    CONTEXT
        .try_with(|c| match c.inline_joins.get() {
            n if n > 0
                && frame <= c.inline_joins_frame.get()
                && epoch == c.inline_joins_epoch.get() =>
            {
                c.inline_joins.set(n - 1);
                true
            }
            _ => false,
        })
        .unwrap_or(false)
}

/// Lets the next `n` joins at or below `frame` (the stack address of a
/// local of the join whose check said yes) run inline without asking the
/// worker while the idle epoch stays `epoch`, until the task id changes.
#[inline]
pub(crate) fn grant_inline_joins(n: u32, frame: usize, epoch: u32) {
    let _ = CONTEXT.try_with(|c| {
        c.inline_joins.set(n);
        c.inline_joins_frame.set(frame);
        c.inline_joins_epoch.set(epoch);
    });
}

/// Voids this thread's credit of inline joins.
#[inline]
pub(crate) fn clear_inline_joins() {
    let _ = CONTEXT.try_with(|c| c.inline_joins.set(0));
}

/// The raw id of the task being polled on this thread; 0 for none.
#[inline]
pub(crate) fn task_id() -> u64 {
    CONTEXT.try_with(|c| c.task_id.get()).unwrap_or(0)
}

// ----- nesting counters ------------------------------------------------

/// Counts one level of a nesting counter of the context (`task_locals`,
/// `child_polls`) until dropped; dropping restores it, also on unwind.
#[derive(Debug)]
pub(crate) struct DepthGuard(fn(&Context) -> &Cell<u32>);

impl DepthGuard {
    #[inline]
    fn enter(field: fn(&Context) -> &Cell<u32>) -> DepthGuard {
        let _ = CONTEXT.try_with(|c| field(c).set(field(c).get().saturating_add(1)));
        DepthGuard(field)
    }
}

impl Drop for DepthGuard {
    #[inline]
    fn drop(&mut self) {
        let field = self.0;
        let _ = CONTEXT.try_with(|c| field(c).set(field(c).get().saturating_sub(1)));
    }
}

/// True while the counter `field` is above zero on this thread.
#[inline]
fn depth_above_zero(field: fn(&Context) -> &Cell<u32>) -> bool {
    CONTEXT.try_with(|c| field(c).get() != 0).unwrap_or(false)
}

/// Marks a task-local value as swapped in on this thread (see the module
/// docs, `task_locals`).
pub(crate) fn enter_task_local() -> DepthGuard {
    DepthGuard::enter(|c| &c.task_locals)
}

/// True while a task-local value is swapped in on this thread: code polled
/// now must stay on this thread to see it.
#[inline]
pub(crate) fn task_locals_active() -> bool {
    depth_above_zero(|c| &c.task_locals)
}

/// Marks a scoped-child poll as in progress on this thread (see the module
/// docs, `child_polls`).
#[inline]
pub(crate) fn enter_child_poll() -> DepthGuard {
    DepthGuard::enter(|c| &c.child_polls)
}

/// True while a scoped-child poll is in progress on this thread.
#[inline]
pub(crate) fn in_child_poll() -> bool {
    depth_above_zero(|c| &c.child_polls)
}

/// Marks a fork job run as help by a thread waiting in a fork as in
/// progress on this thread (see the module docs, `fork_wait_help`).
#[inline]
pub(crate) fn enter_fork_wait_help() -> DepthGuard {
    DepthGuard::enter(|c| &c.fork_wait_help)
}

/// True while a fork job run as help by a fork wait is in progress on this
/// thread.
#[inline]
pub(crate) fn in_fork_wait_help() -> bool {
    depth_above_zero(|c| &c.fork_wait_help)
}

// ----- scope owners ----------------------------------------------------

/// Records that a scope engine's owner is being polled on this thread (see
/// the module docs, `owner_polled`).
#[inline]
pub(crate) fn note_owner_polled() {
    let _ = CONTEXT.try_with(|c| c.owner_polled.set(true));
}

/// True if a scope engine's owner was polled on this thread since the last
/// call; clears the mark.
pub(crate) fn take_owner_polled() -> bool {
    CONTEXT
        .try_with(|c| c.owner_polled.replace(false))
        .unwrap_or(false)
}

// ----- driver park ------------------------------------------------------

/// Marks the calling thread as parked in the driver whose reactor handle is
/// `io` until the guard drops (see the module docs, `driver_park`).
pub(crate) fn enter_driver_park(io: &crate::io::Handle) -> DriverParkGuard {
    let addr = io as *const crate::io::Handle as usize;
    let previous = CONTEXT
        .try_with(|c| c.driver_park.replace(addr))
        .unwrap_or(0);
    DriverParkGuard { previous }
}

/// True if the calling thread is inside a park of the driver whose reactor
/// handle is `io`.
#[inline]
pub(crate) fn in_driver_park(io: &crate::io::Handle) -> bool {
    let addr = io as *const crate::io::Handle as usize;
    CONTEXT
        .try_with(|c| c.driver_park.get() == addr)
        .unwrap_or(false)
}

/// Restores the previous `driver_park` mark on drop (also on unwind).
#[derive(Debug)]
pub(crate) struct DriverParkGuard {
    previous: usize,
}

impl Drop for DriverParkGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|c| c.driver_park.set(self.previous));
    }
}

// ----- thread hint -----------------------------------------------------

/// A small number unique to the calling thread (assigned in the order
/// threads first ask), used to spread threads over shards.
pub(crate) fn thread_hint() -> usize {
    /// Next number to hand out. Only a hint: not used for synchronisation.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    CONTEXT
        .try_with(|c| {
            if c.thread_hint.get() == usize::MAX {
                c.thread_hint
                    .set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            }
            c.thread_hint.get()
        })
        // During thread teardown: any shard is correct, just less spread.
        .unwrap_or(0)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn empty_outside_a_runtime() {
        assert!(current().is_none());
        assert!(!is_in_runtime());
        assert!(with_scheduler(|cx| cx.is_none()));
        assert_eq!(budget(), None);
        assert_eq!(task_id(), 0);
    }

    #[test]
    fn task_id_and_budget_nest() {
        let outer = replace_task_id(7);
        let inner = replace_task_id(8);
        assert_eq!((outer, inner, task_id()), (0, 7, 8));
        replace_task_id(inner);
        assert_eq!(task_id(), 7);
        replace_task_id(outer);
        assert_eq!(task_id(), 0);

        let prev = replace_budget(Some(3));
        assert_eq!(replace_budget(prev), Some(3));
        assert_eq!(budget(), None);
    }

    /// A credit of inline joins is spent one by one, only by joins at or
    /// below the frame that earned it and in the idle epoch it was earned
    /// in; clearing it and a change of task id (a task poll starting or
    /// ending, a fork job) void it.
    #[test]
    fn inline_joins_are_spent_below_their_frame_in_their_epoch() {
        assert!(!take_inline_join(1000, 7));
        grant_inline_joins(2, 1000, 7);
        assert!(!take_inline_join(1001, 7), "a shallower frame asks again");
        assert!(!take_inline_join(1000, 8), "a worker went idle since");
        assert!(take_inline_join(1000, 7), "the same depth");
        assert!(take_inline_join(10, 7), "deeper");
        assert!(!take_inline_join(10, 7), "spent");

        grant_inline_joins(5, 1000, 7);
        clear_inline_joins();
        assert!(!take_inline_join(10, 7), "cleared");

        grant_inline_joins(5, 1000, 7);
        let outer = replace_task_id(9);
        assert!(!take_inline_join(10, 7), "a new task does not inherit it");
        grant_inline_joins(5, 1000, 7);
        replace_task_id(outer);
        assert!(!take_inline_join(10, 7), "nor does the task it returns to");
    }

    /// The address of the innermost scheduler loop's context, if any.
    fn scheduler_addr() -> Option<usize> {
        with_scheduler(|cx| cx.map(|cx| cx as *const scheduler::Context as usize))
    }

    /// `block_on` of a current-thread runtime sets its loop's context; a
    /// blocking scope waiting inside it runs a nested loop whose context
    /// shadows the outer one (tasks it runs see the inner one) and restores
    /// the outer one afterwards; everything is gone after `block_on`.
    #[test]
    fn scheduler_context_nests_and_restores() {
        let rt = crate::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(scheduler_addr(), None);
        rt.block_on(async {
            let outer = scheduler_addr();
            assert!(with_scheduler(|cx| matches!(
                cx,
                Some(scheduler::Context::CurrentThread(_))
            )));
            let spawned = crate::spawn(async { scheduler_addr() }).await.unwrap();
            assert_eq!(spawned, outer, "a task polled by the same loop");
            let inner = crate::Handle::current()
                .scope(|s| s.spawn(async { scheduler_addr() }).join().unwrap());
            assert!(inner.is_some());
            assert_ne!(inner, outer, "the nested loop has its own context");
            assert_eq!(scheduler_addr(), outer, "restored after the nested loop");
        });
        assert_eq!(scheduler_addr(), None);
        assert!(!is_in_runtime());
    }

    #[test]
    fn thread_hint_is_stable_and_per_thread() {
        let mine = thread_hint();
        assert_eq!(thread_hint(), mine);
        let other = std::thread::spawn(thread_hint).join().unwrap();
        assert_ne!(other, mine);
    }

    /// Accessors used on drop paths keep working (with the empty context)
    /// from a destructor of another thread-local that runs after the
    /// context is gone.
    #[test]
    fn accessors_survive_thread_teardown() {
        struct Late;
        impl Drop for Late {
            fn drop(&mut self) {
                // Touch the context first so it exists and is torn down
                // before or after this one; either order must be fine.
                let _ = task_id();
                let _ = budget();
                let _ = with_scheduler(|cx| cx.is_none());
                let _ = thread_hint();
                let _ = take_inline_join(0, 0);
                grant_inline_joins(1, 0, 0);
                clear_inline_joins();
                let _ = is_in_runtime();
                let _ = current();
            }
        }
        thread_local! {
            static LATE: Late = const { Late };
        }
        std::thread::spawn(|| {
            let _ = task_id();
            LATE.with(|_| ());
            let _ = current();
        })
        .join()
        .unwrap();
    }
}
