//! Task-local storage: [`task_local!`](crate::task_local) and [`LocalKey`].
//!
//! A task-local value is not tied to a runtime task but to a future: it is
//! set by [`LocalKey::scope`] for exactly the polls (and the drop) of the
//! future it wraps, by swapping the value into a thread-local slot before
//! each poll and back out after it. Futures nested inside that future —
//! including scoped children and `join!` branches polled within it — see
//! the value; tasks it spawns do not (they are polled on their own).
//!
//! The value lives in a thread-local of the polling thread, so while one is
//! set, a scope or `join!` inside it polls its children on that thread
//! only: it does not fork helpers onto other workers (they would not see
//! the value, and a worker helping there could run other owners' children
//! with this value in place). Children of a scope inside a task-local
//! scope are therefore concurrent but not parallel; set the task-local
//! inside each child instead (`KEY.scope(v, child)`) to keep them
//! parallel.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey as StdLocalKey;

/// Declares task-local keys: `static NAME: Type;` each, with optional
/// attributes and visibility. Each becomes a [`LocalKey`].
///
/// ```
/// tether::task_local! {
///     /// The id of the request being served.
///     pub static REQUEST_ID: u64;
///     static USER: String;
/// }
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// REQUEST_ID
///     .scope(7, async {
///         assert_eq!(REQUEST_ID.get(), 7);
///     })
///     .await;
/// assert!(USER.try_with(|u| u.len()).is_err());
/// # });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_key!($(#[$attr])* $vis $name, $t);
    };
}

/// Declares one task-local key (the body of [`task_local!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_key {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            // One thread-local per key (it holds a `$t`): not part of the
            // runtime's one context thread-local.
            ::std::thread_local! {
                static __TETHER_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(__TETHER_TASK_LOCAL)
        };
    };
}

/// A key for task-local data, declared with
/// [`task_local!`](crate::task_local).
///
/// The value is set for the duration of a future with
/// [`scope`](LocalKey::scope) (or of a closure with
/// [`sync_scope`](LocalKey::sync_scope)) and read inside it with
/// [`with`](LocalKey::with), [`try_with`](LocalKey::try_with) or
/// [`get`](LocalKey::get).
///
/// ```
/// tether::task_local! {
///     static DEPTH: u32;
/// }
///
/// async fn show() -> u32 {
///     DEPTH.get()
/// }
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let inner = DEPTH.scope(1, async { DEPTH.scope(2, show()).await + show().await }).await;
/// assert_eq!(inner, 3);
/// # });
/// ```
pub struct LocalKey<T: 'static> {
    /// The per-thread slot the value is swapped into while it is in scope.
    slot: StdLocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`](crate::task_local); not public API.
    #[doc(hidden)]
    pub const fn __new(slot: StdLocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { slot }
    }

    /// Sets the value to `value` while `future` runs (for each of its polls
    /// and for its drop), and returns the wrapped future.
    ///
    /// ```
    /// tether::task_local! {
    ///     static NAME: &'static str;
    /// }
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let len = NAME.scope("tether", async { NAME.with(|n| n.len()) }).await;
    /// assert_eq!(len, 6);
    /// # });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            slot: Some(value),
            future: Some(future),
            _pinned: PhantomPinned,
        }
    }

    /// Sets the value to `value` while the closure `f` runs.
    ///
    /// ```
    /// tether::task_local! {
    ///     static LEVEL: u8;
    /// }
    /// assert_eq!(LEVEL.sync_scope(3, || LEVEL.get()), 3);
    /// ```
    #[track_caller]
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut slot = Some(value);
        self.scope_inner(&mut slot, f)
            .unwrap_or_else(|e| e.panic_in_scope())
    }

    /// Swaps `slot` into the thread-local, runs `f`, and swaps back (also
    /// when `f` panics).
    fn scope_inner<F: FnOnce() -> R, R>(
        &'static self,
        slot: &mut Option<T>,
        f: F,
    ) -> Result<R, ScopeInnerError> {
        /// Swaps the value back out on drop.
        struct Reset<'a, T: 'static> {
            key: &'static StdLocalKey<RefCell<Option<T>>>,
            slot: &'a mut Option<T>,
        }
        impl<T: 'static> Drop for Reset<'_, T> {
            fn drop(&mut self) {
                // The swap-in succeeded, so the slot is accessible and not
                // borrowed (no borrow escapes `with`/`try_with`).
                let _ = self.key.try_with(|cell| {
                    if let Ok(mut inner) = cell.try_borrow_mut() {
                        std::mem::swap(self.slot, &mut *inner);
                    }
                });
            }
        }

        self.slot
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .map(|mut inner| std::mem::swap(slot, &mut *inner))
                    .map_err(|_| ScopeInnerError::Borrowed)
            })
            .map_err(|_| ScopeInnerError::Destroyed)??;
        let _reset = Reset {
            key: &self.slot,
            slot,
        };
        // While the value is in place, nothing forks off this thread.
        let _counted = crate::runtime::context::enter_task_local();
        Ok(f())
    }

    /// Runs `f` with a reference to the value.
    ///
    /// # Panics
    ///
    /// If the value is not set (outside [`scope`](LocalKey::scope) /
    /// [`sync_scope`](LocalKey::sync_scope)).
    ///
    /// ```
    /// tether::task_local! {
    ///     static WORDS: Vec<&'static str>;
    /// }
    /// WORDS.sync_scope(vec!["a", "b"], || {
    ///     assert_eq!(WORDS.with(|w| w.len()), 2);
    /// });
    /// ```
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(_) => panic!(
                "cannot access a task-local value outside its `scope`/`sync_scope` (or while \
                 the thread is being destroyed)"
            ),
        }
    }

    /// Runs `f` with a reference to the value, or returns an
    /// [`AccessError`] if it is not set.
    ///
    /// ```
    /// tether::task_local! {
    ///     static TOKEN: u32;
    /// }
    /// assert!(TOKEN.try_with(|t| *t).is_err());
    /// assert_eq!(TOKEN.sync_scope(9, || TOKEN.try_with(|t| *t)), Ok(9));
    /// ```
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        self.slot
            .try_with(|cell| {
                let value = cell.borrow();
                value.as_ref().map(f).ok_or(AccessError(()))
            })
            .unwrap_or(Err(AccessError(())))
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the value.
    ///
    /// # Panics
    ///
    /// If the value is not set.
    ///
    /// ```
    /// tether::task_local! {
    ///     static ROUTE: String;
    /// }
    /// ROUTE.sync_scope("/health".to_string(), || assert_eq!(ROUTE.get(), "/health"));
    /// ```
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("LocalKey { .. }")
    }
}

/// Why a scope could not set its value.
#[derive(Debug, Clone, Copy)]
enum ScopeInnerError {
    /// A `with` closure of the same key is running: the slot is borrowed.
    Borrowed,
    /// The thread's local storage is being torn down.
    Destroyed,
}

impl ScopeInnerError {
    #[track_caller]
    fn panic_in_scope(self) -> ! {
        match self {
            ScopeInnerError::Borrowed => panic!(
                "cannot enter a task-local scope while the task-local value is borrowed by \
                 `with` on this thread"
            ),
            ScopeInnerError::Destroyed => panic!(
                "cannot enter a task-local scope while the thread's local storage is being \
                 destroyed"
            ),
        }
    }
}

/// The future returned by [`LocalKey::scope`]: `future` with the value set
/// during each of its polls.
///
/// ```
/// tether::task_local! {
///     static N: i32;
/// }
/// # tether::Runtime::new().unwrap().block_on(async {
/// let fut: tether::task::TaskLocalFuture<i32, _> = N.scope(1, async { N.get() });
/// assert_eq!(fut.await, 1);
/// # });
/// ```
pub struct TaskLocalFuture<T: 'static, F> {
    /// The key whose value this future sets.
    key: &'static LocalKey<T>,
    /// The value, while the future is not being polled. `None` while it is
    /// swapped into the thread-local (during a poll) or after
    /// [`take_value`](TaskLocalFuture::take_value).
    slot: Option<T>,
    /// The wrapped future; `None` once dropped.
    future: Option<F>,
    /// `future` is pinned inside this struct.
    _pinned: PhantomPinned,
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of the future, leaving it unset for the
    /// future's remaining polls. `None` if already taken.
    ///
    /// ```
    /// tether::task_local! {
    ///     static V: u8;
    /// }
    /// let mut fut = Box::pin(V.scope(4, async {}));
    /// assert_eq!(fut.as_mut().take_value(), Some(4));
    /// assert_eq!(fut.as_mut().take_value(), None);
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        // SAFETY: `slot` is not structurally pinned; only `future` is, and
        // it is not moved here.
        unsafe { self.get_unchecked_mut() }.slot.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // this struct, only dropped in place (in `Drop`, or by assigning
        // `None` below, which drops it where it lies).
        let this = unsafe { self.get_unchecked_mut() };
        let key = this.key;
        let future = &mut this.future;
        let res = key.scope_inner(&mut this.slot, || {
            future.as_mut().map(|fut| {
                // SAFETY: see above: the future stays where it is.
                unsafe { Pin::new_unchecked(fut) }.poll(cx)
            })
        });
        match res {
            Ok(Some(poll)) => poll,
            Ok(None) => panic!("`TaskLocalFuture` polled after completion"),
            Err(e) => e.panic_in_scope(),
        }
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if self.future.is_none() {
            return;
        }
        let key = self.key;
        let future = &mut self.future;
        // Drop the future with the value set, as it would be during a poll.
        // If the value cannot be set, drop it without.
        // The future is dropped in place (assigning `None` drops it where
        // it lies), keeping its pinning guarantee.
        if key.scope_inner(&mut self.slot, || *future = None).is_err() {
            self.future = None;
        }
    }
}

impl<T: 'static + fmt::Debug, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value", &self.slot)
            .finish_non_exhaustive()
    }
}

/// The error of [`LocalKey::try_with`]: the value is not set.
///
/// ```
/// tether::task_local! {
///     static X: u8;
/// }
/// let err = X.try_with(|_| ()).unwrap_err();
/// assert_eq!(err.to_string(), "task-local value not set");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set")
    }
}

impl Error for AccessError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    crate::task_local! {
        static NAME: String;
        static DEPTH: u32;
    }

    /// Polls `fut` once with a no-op waker.
    fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn value_is_set_only_during_polls_and_drop() {
        let mut yielded = false;
        let fut = NAME.scope("outer".to_string(), async {
            assert_eq!(NAME.get(), "outer");
            std::future::poll_fn(|_| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    Poll::Pending
                }
            })
            .await;
            NAME.with(|n| n.len())
        });
        let mut fut = pin!(fut);
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(NAME.try_with(|_| ()).is_err(), "unset between polls");
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(5));
    }

    #[test]
    fn nested_scopes_restore_the_outer_value() {
        let out = DEPTH.sync_scope(1, || {
            let inner = DEPTH.sync_scope(2, || DEPTH.get());
            (inner, DEPTH.get())
        });
        assert_eq!(out, (2, 1));
        assert!(DEPTH.try_with(|_| ()).is_err());
    }

    #[test]
    fn value_survives_a_panic_in_the_scope() {
        let res = std::panic::catch_unwind(|| DEPTH.sync_scope(3, || panic!("inside")));
        assert!(res.is_err());
        assert!(DEPTH.try_with(|_| ()).is_err(), "reset during the unwind");
        assert_eq!(DEPTH.sync_scope(4, || DEPTH.get()), 4);
    }

    #[test]
    fn take_value_and_drop_of_an_unpolled_future() {
        struct Probe(std::rc::Rc<std::cell::Cell<Option<u32>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.0.set(DEPTH.try_with(|d| *d).ok());
            }
        }
        let seen = std::rc::Rc::new(std::cell::Cell::new(None));
        let probe = Probe(seen.clone());
        drop(DEPTH.scope(7, async move { drop(probe) }));
        assert_eq!(seen.get(), Some(7), "dropped with the value set");

        let probe = Probe(seen.clone());
        let mut fut = Box::pin(DEPTH.scope(8, async move { drop(probe) }));
        assert_eq!(fut.as_mut().take_value(), Some(8));
        drop(fut);
        assert_eq!(seen.get(), None, "the value was taken");
    }

    #[test]
    fn with_inside_with_of_another_key_and_scope_inside_with_panics() {
        NAME.sync_scope("n".to_string(), || {
            DEPTH.sync_scope(1, || {
                NAME.with(|n| DEPTH.with(|d| assert_eq!((n.as_str(), *d), ("n", 1))));
            });
            // Entering a scope of the key whose value is borrowed would
            // invalidate the borrow: refused with a panic.
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                NAME.with(|_| NAME.sync_scope("m".to_string(), || ()))
            }));
            assert!(res.is_err());
            assert_eq!(NAME.get(), "n");
        });
    }
}
