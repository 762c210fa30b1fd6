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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Local tasks that hold `Rc`s, woken by each other, aborted, and left
    /// pending at shutdown: every future is dropped exactly once, on this
    /// thread (Miri checks the accesses and leaks).
    #[test]
    fn local_tasks_run_abort_and_shut_down_on_their_thread() {
        let rt = crate::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let pending = rt.block_on({
            let log = log.clone();
            async move {
                let (tx, rx) = futures::channel::oneshot::channel::<u32>();
                let reader = {
                    let log = log.clone();
                    super::spawn_local(async move {
                        let v = rx.await.unwrap();
                        log.borrow_mut().push(v);
                        Rc::new(v)
                    })
                };
                super::spawn_local(async move { tx.send(7).unwrap() })
                    .await
                    .unwrap();
                assert_eq!(*reader.await.unwrap(), 7);

                let stuck = super::spawn_local(std::future::pending::<Rc<()>>());
                stuck.abort();
                assert!(stuck.await.unwrap_err().is_cancelled());

                let marker = Rc::new(());
                let held = marker.clone();
                let pending = super::spawn_local(async move {
                    let _held = held;
                    std::future::pending::<()>().await
                });
                crate::task::yield_now().await;
                (pending, marker)
            }
        });
        assert_eq!(*log.borrow(), [7]);
        let (pending, marker) = pending;
        assert_eq!(Rc::strong_count(&marker), 2);
        drop(rt);
        assert_eq!(Rc::strong_count(&marker), 1, "shutdown dropped the task");
        assert!(
            futures::executor::block_on(pending)
                .unwrap_err()
                .is_cancelled()
        );
    }
}
