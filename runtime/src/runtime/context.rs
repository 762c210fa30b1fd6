//! The thread-local runtime context: which runtime `tether::spawn` uses on
//! this thread, and whether the thread is driving a runtime (so a nested
//! `block_on` can be refused instead of deadlocking).

use std::cell::{Cell, RefCell};

use crate::scheduler;

/// Per-thread runtime state.
struct Context {
    /// The runtime that `spawn` and friends use on this thread.
    current: RefCell<Option<scheduler::Handle>>,
    /// True while the thread drives a runtime (a worker, or inside
    /// `block_on`).
    in_runtime: Cell<bool>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            current: RefCell::new(None),
            in_runtime: Cell::new(false),
        }
    };
}

/// Runs `f` with the current runtime, or returns `None` if there is none
/// (or the thread is being torn down).
///
/// The handle is borrowed, not cloned, so `f` must not change the current
/// runtime (nothing that `spawn` or a timer registration does).
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
