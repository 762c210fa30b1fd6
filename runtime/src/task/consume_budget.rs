//! [`consume_budget`]: spend cooperative budget in a loop that never waits.

use std::future::poll_fn;
use std::task::Poll;

/// Spends one unit of the task's cooperative budget, yielding to the
/// scheduler once the budget of the current poll is used up.
///
/// Put it in loops that do a lot of work without ever awaiting something
/// that can be pending (CPU-bound work, or resources that are always
/// ready), so they cannot monopolise a worker. Outside a tether task it
/// never yields.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut sum = 0u64;
/// for i in 0..10_000 {
///     sum += i;
///     tether::task::consume_budget().await;
/// }
/// assert_eq!(sum, 49_995_000);
/// # });
/// ```
pub async fn consume_budget() {
    poll_fn(|cx| {
        let mut restore = std::task::ready!(crate::coop::poll_proceed(cx));
        restore.made_progress();
        Poll::Ready(())
    })
    .await
}
