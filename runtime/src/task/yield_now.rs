//! [`yield_now`]: give other tasks a turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the scheduler: the current task is re-queued behind the other
/// runnable tasks and resumes on a later poll.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// for _ in 0..3 {
///     tether::yield_now().await;
/// }
/// # });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

/// The future behind [`yield_now`].
struct YieldNow {
    /// True after the first poll.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // A wake during our own poll re-queues the task as a yield (behind
        // other work); see `task::harness`.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
