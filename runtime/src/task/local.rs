//! [`spawn_local`]: `'static` tasks that are not `Send`.

use std::future::Future;

use super::JoinHandle;

/// Spawns a `'static` future that need not be `Send` onto the current-thread
/// runtime driving this thread; it always runs on this thread.
///
/// This is tokio's `spawn_local` on a `LocalRuntime`: it works anywhere
/// inside a current-thread runtime's `block_on` (including
/// `#[tether::main(flavor = "current_thread")]` and the default
/// `#[tether::test]`), from the `block_on` future and from tasks. The task
/// runs concurrently with the others, on this thread, whenever this thread
/// drives the runtime; it may hold `Rc`, `RefCell` borrows and other
/// thread-bound values across `.await`s. Its [`JoinHandle`] and
/// [`AbortHandle`](super::AbortHandle) may be used from other threads when
/// the output is `Send`.
///
/// If the runtime is dropped on another thread while a local task is still
/// pending, the task is leaked (never polled or dropped again) rather than
/// dropped on the wrong thread.
///
/// For `!Send` work that *borrows* from the caller, use
/// [`scope_local`](crate::scope_local), which works on every runtime.
///
/// # Panics
///
/// Outside a current-thread runtime's `block_on`. On the multi-thread
/// runtime this panics (as tokio's `spawn_local` outside a `LocalSet`
/// does): its tasks move between worker threads, so there is no thread for
/// a `!Send` task to live on. Build a current-thread runtime
/// ([`Builder::new_current_thread`](crate::runtime::Builder::new_current_thread)),
/// or use [`scope_local`](crate::scope_local).
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// #[tether::main(flavor = "current_thread")]
/// async fn main() {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let handles: Vec<_> = (0..3)
///         .map(|i| {
///             let log = log.clone();
///             tether::task::spawn_local(async move {
///                 tether::task::yield_now().await;
///                 log.borrow_mut().push(i);
///             })
///         })
///         .collect();
///     for h in handles {
///         h.await.unwrap();
///     }
///     assert_eq!(log.borrow().len(), 3);
/// }
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match crate::scheduler::current_thread::spawn_local(future) {
        Ok(join) => join,
        Err(future) => {
            drop(future);
            let multi = crate::runtime::context::with_current(|h| {
                matches!(h, crate::scheduler::Handle::MultiThread(_))
            });
            match multi {
                Some(true) => panic!(
                    "`tether::task::spawn_local` called on a multi-thread runtime: `!Send` tasks \
                     need a current-thread runtime (`Builder::new_current_thread`, or \
                     `#[tether::main(flavor = \"current_thread\")]`); for borrowed `!Send` work \
                     use `tether::scope_local`"
                ),
                _ => panic!(
                    "`tether::task::spawn_local` called outside a current-thread runtime: call it \
                     inside `block_on` of a runtime built with `Builder::new_current_thread`"
                ),
            }
        }
    }
}
