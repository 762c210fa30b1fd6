//! Cooperative scheduling budget.
//!
//! A task that always finds its resources ready (a socket with data queued,
//! a channel that is never empty) would never return `Pending` and so never
//! let its worker run anything else. Each task poll therefore runs with a
//! budget of [`INITIAL_BUDGET`] units; every tether resource spends one unit
//! per operation through [`poll_proceed`], and once the budget is spent the
//! resource returns `Pending` (after waking the task), forcing a yield.
//!
//! Outside a budgeted poll (a foreign executor, `block_on` without a
//! runtime) the budget is unconstrained.
//!
//! The budget lives in the thread's runtime context
//! ([`crate::runtime::context`], field `budget`): `None` is unconstrained,
//! `Some(n)` leaves `n` units to the current poll.

use std::task::{Context, Poll};

use crate::runtime::context;

/// Units a task may spend in one poll before its resources force a yield.
/// 128 matches what mature runtimes found: large enough that the yield is
/// rare for well-behaved tasks, small enough to keep tail latency bounded.
pub(crate) const INITIAL_BUDGET: u8 = 128;

/// Runs `f` with a fresh budget, restoring the previous budget afterwards
/// (also if `f` unwinds).
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Some(INITIAL_BUDGET), f)
}

/// Runs `f` with no budget constraint (used for work that must not be
/// interrupted, such as dropping tasks at shutdown).
pub(crate) fn unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget(None, f)
}

#[inline]
fn with_budget<R>(budget: Option<u8>, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u8>);
    impl Drop for Reset {
        #[inline]
        fn drop(&mut self) {
            context::replace_budget(self.0);
        }
    }
    let prev = context::replace_budget(budget);
    let _reset = Reset(prev);
    f()
}

/// Whether the current poll still has budget left (always true outside a
/// budgeted poll).
pub(crate) fn has_budget_remaining() -> bool {
    context::budget().is_none_or(|n| n > 0)
}

/// Spends one unit of budget. Returns `Pending` (after waking the task so it
/// is polled again later) if the budget is exhausted.
///
/// The returned guard gives the unit back if it is dropped without
/// [`RestoreOnPending::made_progress`] being called, so an operation that
/// ends up `Pending` anyway costs nothing.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    match context::budget() {
        None => Poll::Ready(RestoreOnPending(None)),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            context::replace_budget(Some(n - 1));
            Poll::Ready(RestoreOnPending(Some(n)))
        }
    }
}

/// Gives a spent budget unit back unless the operation made progress.
#[derive(Debug)]
pub(crate) struct RestoreOnPending(Option<u8>);

impl RestoreOnPending {
    /// The operation completed; keep the unit spent.
    pub(crate) fn made_progress(&mut self) {
        self.0 = None;
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        if let Some(n) = self.0 {
            context::replace_budget(Some(n));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    #[test]
    fn budget_runs_out_and_restores() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        budget(|| {
            for _ in 0..INITIAL_BUDGET {
                let mut g = match poll_proceed(&mut cx) {
                    Poll::Ready(g) => g,
                    Poll::Pending => panic!("budget ran out early"),
                };
                g.made_progress();
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        // Outside a budgeted poll, everything proceeds.
        assert!(poll_proceed(&mut cx).is_ready());
    }

    #[test]
    fn unused_unit_is_restored() {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        budget(|| {
            for _ in 0..1000 {
                // Dropped without progress: the unit comes back.
                let _g = poll_proceed(&mut cx);
            }
            assert!(has_budget_remaining());
        });
    }
}
