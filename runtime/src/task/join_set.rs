//! [`JoinSet`]: a collection of spawned `'static` tasks, awaited in the
//! order they complete (tokio's `JoinSet`).
//!
//! # Design
//!
//! The children are ordinary runtime tasks: they start running the moment
//! they are spawned, on any worker, whether or not the set is being
//! awaited. The set only owns their [`JoinHandle`]s, kept in a
//! [`FuturesUnordered`]: each handle gets its own waker, and a wake pushes
//! that one handle onto an intrusive ready-to-run list. Completion therefore
//! costs O(1) per task; [`JoinSet::join_next`] pops from the ready list and
//! never scans the handles that are still running.
//!
//! Dropping the set aborts every task still in it (the handles' drop alone
//! would only detach them). [`JoinSet::detach_all`] lets them run on
//! instead.
//!
//! For children that *borrow* from the caller's stack, see
//! [`ScopedJoinSet`](crate::ScopedJoinSet), whose children run while the set
//! is awaited.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::stream::{FuturesUnordered, Stream};

use super::{AbortHandle, Id, JoinError, JoinHandle};
use crate::runtime::Handle;

/// A set of spawned tasks, each joined in completion order.
///
/// Children are `'static` tasks that run in the background from
/// [`spawn`](JoinSet::spawn) on, exactly like [`crate::spawn`]; the set
/// collects their results. Dropping the set aborts the tasks still in it.
///
/// ```
/// use tether::task::JoinSet;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// for i in 0..10u64 {
///     set.spawn(async move { i * i });
/// }
/// let mut total = 0;
/// while let Some(res) = set.join_next().await {
///     total += res.unwrap();
/// }
/// assert_eq!(total, 285);
/// # });
/// ```
pub struct JoinSet<T> {
    /// The handles of the tasks not yet joined.
    handles: FuturesUnordered<IdHandle<T>>,
}

/// A [`JoinHandle`] whose output carries the task's id.
struct IdHandle<T> {
    /// The task.
    handle: JoinHandle<T>,
}

impl<T> Future for IdHandle<T> {
    type Output = (Id, Result<T, JoinError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.handle.id();
        Pin::new(&mut self.handle).poll(cx).map(|res| (id, res))
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set: tether::task::JoinSet<()> = tether::task::JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            handles: FuturesUnordered::new(),
        }
    }

    /// Number of tasks in the set (finished ones count until joined).
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(async {});
    /// assert_eq!(set.len(), 1);
    /// set.join_next().await;
    /// assert_eq!(set.len(), 0);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// True if the set holds no task.
    ///
    /// ```
    /// assert!(tether::task::JoinSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Adds an already spawned task, returning a handle that can abort it.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        self.handles.push(IdHandle { handle });
        abort
    }

    /// Spawns `future` onto the current runtime and adds it to the set. The
    /// task starts at once, like [`crate::spawn`].
    ///
    /// # Panics
    ///
    /// Outside a tether runtime.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// let abort = set.spawn(std::future::pending::<()>());
    /// abort.abort();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` onto the runtime of `handle` and adds it to the set.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn_on(async { 7 }, rt.handle());
    /// let out = rt.block_on(set.join_next()).unwrap().unwrap();
    /// assert_eq!(out, 7);
    /// ```
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs the blocking closure `f` on the current runtime's blocking pool
    /// (see [`crate::spawn_blocking`]) and adds it to the set. Aborting a
    /// blocking task that has already started has no effect.
    ///
    /// # Panics
    ///
    /// Outside a tether runtime.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn_blocking(|| std::thread::current().name().map(String::from));
    /// assert!(set.join_next().await.unwrap().unwrap().is_some());
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// Runs the blocking closure `f` on the blocking pool of `handle`'s
    /// runtime and adds it to the set.
    ///
    /// ```
    /// let rt = tether::Runtime::new().unwrap();
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn_blocking_on(|| 1 + 1, rt.handle());
    /// assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 2);
    /// ```
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn_blocking(f))
    }

    /// Spawns a `!Send` future on the current thread (see
    /// [`spawn_local`](crate::task::spawn_local)) and adds it to the set.
    ///
    /// # Panics
    ///
    /// Where [`spawn_local`](crate::task::spawn_local) panics: outside a
    /// current-thread runtime.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = tether::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let mut set = tether::task::JoinSet::new();
    ///     let shared = Rc::new(5);
    ///     let local = shared.clone();
    ///     set.spawn_local(async move { *local + 1 });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 6);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(super::spawn_local(future))
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// if the set is empty. Results come in completion order.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no result
    /// is lost; the task stays in the set.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(async {
    ///     tether::time::sleep(Duration::from_millis(20)).await;
    ///     "slow"
    /// });
    /// set.spawn(async { "fast" });
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), "slow");
    /// assert!(set.join_next().await.is_none());
    /// # });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Like [`join_next`](JoinSet::join_next), also returning the finished
    /// task's id (on success; a [`JoinError`] carries its own).
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// let id = set.spawn(async { 1 }).id();
    /// assert_eq!(set.join_next_with_id().await.unwrap().unwrap(), (id, 1));
    /// # });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// Returns the result of a task that has already finished, if any,
    /// without waiting.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(async { 3 });
    /// let out = loop {
    ///     match set.try_join_next() {
    ///         Some(res) => break res.unwrap(),
    ///         None => tether::task::yield_now().await,
    ///     }
    /// };
    /// assert_eq!(out, 3);
    /// # });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id()
            .map(|res| res.map(|(_, out)| out))
    }

    /// Like [`try_join_next`](JoinSet::try_join_next), also returning the
    /// task's id.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::<()>::new();
    /// assert!(set.try_join_next_with_id().is_none());
    /// # });
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        let mut cx = Context::from_waker(Waker::noop());
        // A `Pending` with the no-op waker is harmless: each handle keeps
        // its own waker, and the next real poll re-registers the set's.
        match self.poll_join_next_with_id(&mut cx) {
            Poll::Ready(res) => res,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task: `Ready(Some(result))`,
    /// `Ready(None)` if the set is empty, or `Pending` (and `cx`'s waker is
    /// woken when a task finishes).
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(async { 'x' });
    /// let out = poll_fn(|cx| set.poll_join_next(cx)).await;
    /// assert_eq!(out.unwrap().unwrap(), 'x');
    /// # });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|res| res.map(|res| res.map(|(_, out)| out)))
    }

    /// Like [`poll_join_next`](JoinSet::poll_join_next), also returning the
    /// task's id.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// let id = set.spawn(async { 'x' }).id();
    /// let out = poll_fn(|cx| set.poll_join_next_with_id(cx)).await;
    /// assert_eq!(out.unwrap().unwrap(), (id, 'x'));
    /// # });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        if self.handles.is_empty() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.handles).poll_next(cx) {
            Poll::Ready(Some((id, res))) => Poll::Ready(Some(res.map(|out| (id, out)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    ///
    /// If a task panicked, its panic is resumed here; if one was cancelled,
    /// this panics. The tasks still in the set are aborted first (when the
    /// set is dropped during the unwind). To handle failures yourself, loop
    /// over [`join_next`](JoinSet::join_next) instead.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// for i in 0..3 {
    ///     set.spawn(async move { i });
    /// }
    /// let mut out = set.join_all().await;
    /// out.sort();
    /// assert_eq!(out, [0, 1, 2]);
    /// # });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) => match e.try_into_panic() {
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(e) => panic!("a task of the `JoinSet` was cancelled: {e}"),
                },
            }
        }
        out
    }

    /// Aborts every task in the set. They stay in the set: joining them
    /// yields their results (or cancellation errors).
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.abort_all();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_all(&mut self) {
        for h in self.handles.iter() {
            h.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they keep
    /// running, and their outputs are dropped when they finish.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let (tx, rx) = futures::channel::oneshot::channel();
    /// let mut set = tether::task::JoinSet::new();
    /// set.spawn(async move { tx.send(1).unwrap() });
    /// set.detach_all();
    /// assert!(set.is_empty());
    /// assert_eq!(rx.await.unwrap(), 1);
    /// # });
    /// ```
    pub fn detach_all(&mut self) {
        // Dropping a `JoinHandle` detaches its task.
        self.handles.clear();
    }

    /// Aborts every task and waits until all of them have stopped. The set
    /// is empty afterwards.
    ///
    /// ```
    /// # tether::Runtime::new().unwrap().block_on(async {
    /// let mut set = tether::task::JoinSet::new();
    /// for _ in 0..4 {
    ///     set.spawn(std::future::pending::<()>());
    /// }
    /// set.shutdown().await;
    /// assert!(set.is_empty());
    /// # });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

/// Collects spawned tasks: each future is spawned onto the current runtime.
///
/// # Panics
///
/// Outside a tether runtime.
///
/// ```
/// use tether::task::JoinSet;
///
/// # tether::Runtime::new().unwrap().block_on(async {
/// let set: JoinSet<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
/// let mut out = set.join_all().await;
/// out.sort();
/// assert_eq!(out, [10, 20, 30]);
/// # });
/// ```
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns each future onto the current runtime and adds it to the set.
///
/// # Panics
///
/// Outside a tether runtime.
///
/// ```
/// # tether::Runtime::new().unwrap().block_on(async {
/// let mut set = tether::task::JoinSet::new();
/// set.extend((1..=2).map(|i| async move { i }));
/// assert_eq!(set.len(), 2);
/// # });
/// ```
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}
