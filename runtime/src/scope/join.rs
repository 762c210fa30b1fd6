//! [`join_all`], [`join!`](crate::join) and [`try_join!`](crate::try_join):
//! parallel joins of borrowing futures.
//!
//! * `join_all` runs its futures as children of an engine (the scope
//!   machinery): a wake polls only the woken child, which matters for
//!   thousands of futures. Their cells share one allocation
//!   (`RawChild::new_batch`): no heap record per child.
//! * `join!`/`try_join!` keep their futures *inside* the join future: a
//!   binary tree of [`Join2`] nodes (`join!(a, b, c)` is `Join2(a, Join2(b,
//!   c))`), no engine, no allocation. A poll of a node whose two sides are
//!   both pending forks one side (through `fork::join` on a worker, the
//!   runtime's fork injector from a `block_on` thread) and polls the other
//!   inline — on a tether worker, an idle worker steals the forked
//!   side; if nobody does, the poller pops it back and polls it itself,
//!   like `rayon::join`. Children are polled with the parent's own waker
//!   (it is `'static` and owns no child: I3), so a wake polls every
//!   unfinished side again, as tokio's `join!` does. Both polls finish
//!   before `poll` returns (I1), and a panic is resumed after both (I5);
//!   dropping the join drops the futures (I4).
//! * A join of `!Send` futures (a [`Join2`] in `Seq` mode, chosen by the
//!   macros when a side is not `Send`) polls both sides on the caller's
//!   thread.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use super::child::{Payload, RawChild, discard_payload, keep_first};
use super::engine::{Engine, Owner};

/// Runs every future of `iter` as a child (in parallel on a tether worker)
/// and returns their outputs in input order. The futures may borrow from the
/// caller; nothing needs to be `'static`.
///
/// A panic in one future cancels the others and is re-raised.
///
/// ```
/// # futures::executor::block_on(async {
/// let chunks = vec![vec![1, 2], vec![3], vec![4, 5, 6]];
/// let sums = tether::join_all(chunks.iter().map(|c| async move { c.iter().sum::<i32>() })).await;
/// assert_eq!(sums, [3, 3, 15]);
/// # });
/// ```
pub fn join_all<'env, I>(iter: I) -> JoinAll<'env, <I::Item as Future>::Output>
where
    I: IntoIterator,
    I::Item: Future + Send + 'env,
    <I::Item as Future>::Output: Send + 'env,
{
    let mut engine = Engine::new();
    // One allocation for every child (`RawChild::new_batch`), not one each.
    let futures: Vec<_> = iter
        .into_iter()
        .enumerate()
        .map(|(pos, fut)| Indexed { pos, fut })
        .collect();
    let mut results = Vec::with_capacity(futures.len());
    engine.reserve(futures.len());
    for child in RawChild::new_batch(futures, engine.shared()) {
        engine.insert(child);
        results.push(None);
    }
    JoinAll { engine, results }
}

/// A future paired with its position in the input of [`join_all`].
#[pin_project]
struct Indexed<F> {
    /// Position in the input.
    pos: usize,
    /// The future.
    #[pin]
    fut: F,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.fut.poll(cx).map(|v| (*this.pos, v))
    }
}

/// The future returned by [`join_all`].
#[must_use = "futures do nothing unless polled"]
pub struct JoinAll<'env, T> {
    /// The children.
    engine: Engine<'env>,
    /// One slot per input future, filled as they complete.
    results: Vec<Option<T>>,
}

impl<T> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = &mut *self;
        if this.engine.len() == 0 {
            return Poll::Ready(
                this.results
                    .drain(..)
                    .map(|r| r.expect("result present"))
                    .collect(),
            );
        }
        let mut owner = AllOwner {
            results: &mut this.results,
            panic: None,
        };
        match this.engine.poll(cx, &mut owner) {
            Poll::Ready(()) => Poll::Ready(
                this.results
                    .drain(..)
                    .map(|r| r.expect("result present"))
                    .collect(),
            ),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `join_all` as the engine's [`Owner`]: outputs go to their input slot; the
/// first panic cancels the rest and is re-raised.
struct AllOwner<'a, T> {
    /// One slot per input future.
    results: &'a mut Vec<Option<T>>,
    /// The first child panic; later ones are discarded.
    panic: Option<Payload>,
}

impl<T> Owner for AllOwner<'_, T> {
    fn poll_body(&mut self, _cx: &mut Context<'_>) -> bool {
        true
    }

    fn complete(&mut self, child: RawChild) {
        // SAFETY: I1: after the session's join; output type is (usize, T)
        // (see `join_all`), and there is no handle.
        match unsafe { child.take_output::<(usize, T)>() } {
            Ok((pos, v)) => self.results[pos] = Some(v),
            Err(e) if e.is_panic() => keep_first(&mut self.panic, e.into_panic()),
            Err(_) => unreachable!("join_all children are never cancelled while polled"),
        }
        // SAFETY: I4: complete, released once, inside our poll; no handle,
        // so the output was taken above and nothing can panic.
        let _ = unsafe { child.release_owner() };
    }

    fn finished(&mut self, engine: &mut Engine<'_>) -> bool {
        if let Some(p) = self.panic.take() {
            if let Some(other) = engine.cancel_all() {
                discard_payload(other);
            }
            panic::resume_unwind(p);
        }
        engine.len() == 0
    }
}

// Results are never pinned; the engine's children live in their own cells.
impl<T> Unpin for JoinAll<'_, T> {}

impl<T> fmt::Debug for JoinAll<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("remaining", &self.engine.len())
            .finish()
    }
}

/// Marker: the sides of a node are `Send` and polled in parallel.
#[doc(hidden)]
#[derive(Debug)]
pub enum Par {}

/// Marker: a side of a node is `!Send`; both are polled on the caller's
/// thread.
#[doc(hidden)]
#[derive(Debug)]
pub enum Seq {}

/// One side of a [`Join2`]/[`TryJoin2`]: the future, then its output, then
/// nothing once the output was taken.
///
/// `futures`' `MaybeDone` does the same, but takes the output with a
/// `mem::replace` of the whole enum: a load of tag and value together, right
/// after the poll stored them separately, which the CPU cannot forward from
/// the two stores. In fine-grained recursive joins that stall was a third
/// of the node's poll. `project_replace` reads the output field alone.
#[pin_project(project = SideProj, project_replace = SideOwn)]
enum Side<F: Future> {
    /// Not finished.
    Future(#[pin] F),
    /// Finished; the output waits to be taken.
    Done(F::Output),
    /// The output was taken (or the side was cancelled).
    Gone,
}

impl<F: Future> Side<F> {
    /// The output, if the future finished and it was not taken yet.
    fn output_mut(self: Pin<&mut Self>) -> Option<&mut F::Output> {
        match self.project() {
            SideProj::Done(out) => Some(out),
            _ => None,
        }
    }

    /// Takes the output, if the future finished and it was not taken yet.
    fn take_output(mut self: Pin<&mut Self>) -> Option<F::Output> {
        if !matches!(self.as_mut().project(), SideProj::Done(_)) {
            return None;
        }
        match self.project_replace(Side::Gone) {
            SideOwn::Done(out) => Some(out),
            _ => unreachable!("checked above"),
        }
    }
}

impl<F: Future> Future for Side<F> {
    type Output = ();

    /// Polls the future if it is not finished; ready once it is.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let out = match self.as_mut().project() {
            SideProj::Future(fut) => match fut.poll(cx) {
                Poll::Ready(out) => out,
                Poll::Pending => return Poll::Pending,
            },
            _ => return Poll::Ready(()),
        };
        self.set(Side::Done(out));
        Poll::Ready(())
    }
}

/// Two futures joined in place: the node of [`join!`](crate::join)'s binary
/// tree. `M` is [`Par`] or [`Seq`] (chosen by the macro).
#[doc(hidden)]
#[pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct Join2<A: Future, B: Future, M> {
    /// Left side.
    #[pin]
    a: Side<A>,
    /// Right side.
    #[pin]
    b: Side<B>,
    /// The mode.
    _mode: PhantomData<M>,
}

/// Two fallible futures joined in place: the node of
/// [`try_join!`](crate::try_join)'s tree. The first `Err` completes the join
/// and drops the other side at once (it is cancelled).
#[doc(hidden)]
#[pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct TryJoin2<A: Future, B: Future, M> {
    /// Left side.
    #[pin]
    a: Side<A>,
    /// Right side.
    #[pin]
    b: Side<B>,
    /// The mode.
    _mode: PhantomData<M>,
}

impl<A: Future, B: Future, M> Join2<A, B, M> {
    /// A node over `a` and `b`.
    pub fn new(a: A, b: B) -> Self {
        Join2 {
            a: Side::Future(a),
            b: Side::Future(b),
            _mode: PhantomData,
        }
    }
}

impl<A: Future, B: Future, M> TryJoin2<A, B, M> {
    /// A node over `a` and `b`.
    pub fn new(a: A, b: B) -> Self {
        TryJoin2 {
            a: Side::Future(a),
            b: Side::Future(b),
            _mode: PhantomData,
        }
    }
}

fn is_pending<F: Future>(side: Pin<&mut Side<F>>) -> bool {
    matches!(side.as_ref().get_ref(), Side::Future(_))
}

/// Polls the pending sides of a `Par` node: if both are pending, forks one
/// and polls the other inline (the fork is popped back and polled here if no
/// idle worker took it), unless enough forks of this thread wait to be
/// stolen already (`fork::nested_join_inline`); else polls the one that is.
fn poll_par<A, B>(mut a: Pin<&mut Side<A>>, mut b: Pin<&mut Side<B>>, cx: &mut Context<'_>)
where
    A: Future + Send,
    B: Future + Send,
    A::Output: Send,
    B::Output: Send,
{
    let a_pending = is_pending(a.as_mut());
    let b_pending = is_pending(b.as_mut());
    if a_pending && b_pending {
        // I1: both fork functions return only after both closures returned
        // or unwound, so neither side is touched after this poll returns;
        // each closure owns the pinned reference to its side alone.
        let waker = cx.waker();
        let poll_a = move || {
            let _ = a.poll(&mut Context::from_waker(waker));
        };
        let poll_b = move || {
            let _ = b.poll(&mut Context::from_waker(waker));
        };
        if crate::scheduler::fork::nested_join_inline() {
            // Enough of this thread's forks wait to be stolen already: both
            // here, with the fork's panic rule.
            crate::scheduler::fork::join_sequential(poll_a, poll_b);
        } else {
            super::engine::fork2(poll_a, poll_b, &crate::scheduler::fork::NoServe);
        }
    } else if a_pending {
        let _ = a.poll(cx);
    } else if b_pending {
        let _ = b.poll(cx);
    }
}

/// Polls the pending sides of a `Seq` node, one after the other.
fn poll_seq<A: Future, B: Future>(
    a: Pin<&mut Side<A>>,
    b: Pin<&mut Side<B>>,
    cx: &mut Context<'_>,
) {
    let _ = a.poll(cx);
    let _ = b.poll(cx);
}

/// Both outputs, once both sides are done.
fn take_both<A: Future, B: Future>(
    mut a: Pin<&mut Side<A>>,
    mut b: Pin<&mut Side<B>>,
) -> Poll<(A::Output, B::Output)> {
    if a.as_mut().output_mut().is_some() && b.as_mut().output_mut().is_some() {
        let a = a.take_output().expect("checked above");
        let b = b.take_output().expect("checked above");
        Poll::Ready((a, b))
    } else {
        Poll::Pending
    }
}

/// Both `Ok` outputs once both sides succeeded; the first `Err` (left side
/// first) at once, dropping the other side.
fn try_take_both<A, B, T, U, E>(
    mut a: Pin<&mut Side<A>>,
    mut b: Pin<&mut Side<B>>,
) -> Poll<Result<(T, U), E>>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<U, E>>,
{
    if matches!(a.as_mut().output_mut(), Some(Err(_))) {
        b.set(Side::Gone);
        let Some(Err(e)) = a.take_output() else {
            unreachable!()
        };
        return Poll::Ready(Err(e));
    }
    if matches!(b.as_mut().output_mut(), Some(Err(_))) {
        a.set(Side::Gone);
        let Some(Err(e)) = b.take_output() else {
            unreachable!()
        };
        return Poll::Ready(Err(e));
    }
    match take_both(a, b) {
        Poll::Ready((Ok(t), Ok(u))) => Poll::Ready(Ok((t, u))),
        Poll::Ready(_) => unreachable!("errors were handled above"),
        Poll::Pending => Poll::Pending,
    }
}

impl<A, B> Future for Join2<A, B, Par>
where
    A: Future + Send,
    B: Future + Send,
    A::Output: Send,
    B::Output: Send,
{
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        poll_par(this.a.as_mut(), this.b.as_mut(), cx);
        take_both(this.a, this.b)
    }
}

impl<A: Future, B: Future> Future for Join2<A, B, Seq> {
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        poll_seq(this.a.as_mut(), this.b.as_mut(), cx);
        take_both(this.a, this.b)
    }
}

impl<A, B, T, U, E> Future for TryJoin2<A, B, Par>
where
    A: Future<Output = Result<T, E>> + Send,
    B: Future<Output = Result<U, E>> + Send,
    T: Send,
    U: Send,
    E: Send,
{
    type Output = Result<(T, U), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        poll_par(this.a.as_mut(), this.b.as_mut(), cx);
        try_take_both(this.a, this.b)
    }
}

impl<A, B, T, U, E> Future for TryJoin2<A, B, Seq>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<U, E>>,
{
    type Output = Result<(T, U), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // Left first; an `Err` there cancels the right side unpolled.
        let _ = this.a.as_mut().poll(cx);
        if !matches!(this.a.as_mut().output_mut(), Some(Err(_))) {
            let _ = this.b.as_mut().poll(cx);
        }
        try_take_both(this.a, this.b)
    }
}

impl<A: Future, B: Future, M> fmt::Debug for Join2<A, B, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join2").finish_non_exhaustive()
    }
}

impl<A: Future, B: Future, M> fmt::Debug for TryJoin2<A, B, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryJoin2").finish_non_exhaustive()
    }
}

/// An inline `async` block in [`join!`](crate::join): a future of unknown
/// `Send`-ness, treated as `!Send` (joined on the caller's thread).
#[doc(hidden)]
#[pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct Local<F> {
    /// The block.
    #[pin]
    fut: F,
    /// `!Send`, visibly to the macro's dispatch.
    _not_send: PhantomData<*const ()>,
}

impl<F> Local<F> {
    /// Wraps an inline block.
    pub fn new(fut: F) -> Self {
        Local {
            fut,
            _not_send: PhantomData,
        }
    }
}

impl<F: Future> Future for Local<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

impl<F> fmt::Debug for Local<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").finish_non_exhaustive()
    }
}

/// Marks `future` for parallel polling in [`join!`](crate::join) and
/// [`try_join!`](crate::try_join): an inline `async` block's `Send`-ness is
/// not known while its function is type-checked, so the macros join inline
/// blocks on the caller's thread unless they are wrapped in `parallel`
/// (which requires `Send`). Futures returned by function calls need no
/// wrapper: their type says whether they are `Send`.
///
/// ```
/// # futures::executor::block_on(async {
/// let data = vec![1u64; 1000];
/// let (left, right) = data.split_at(500);
/// let (a, b) = tether::join!(
///     tether::parallel(async { left.iter().sum::<u64>() }),
///     tether::parallel(async { right.iter().sum::<u64>() }),
/// );
/// assert_eq!(a + b, 1000);
/// # });
/// ```
pub fn parallel<F>(future: F) -> Parallel<F>
where
    F: Future + Send,
    F::Output: Send,
{
    Parallel { fut: future }
}

/// The future returned by [`parallel`].
#[pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct Parallel<F> {
    /// The wrapped future.
    #[pin]
    fut: F,
}

// SAFETY: the only constructor, `parallel`, requires `F: Send` (the bound
// is stated there rather than here so that it is checked where the type of
// an inline `async` block is finally known, while the macros' dispatch sees
// `Parallel<F>: Send` at once).
unsafe impl<F> Send for Parallel<F> {}

impl<F: Future> Future for Parallel<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

impl<F> fmt::Debug for Parallel<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parallel").finish_non_exhaustive()
    }
}

/// Picks a node's mode for the macros by autoref specialization: a method
/// call on `Pick` resolves to [`PickPar`] (by value) when both sides and
/// their outputs are `Send`, else to [`PickSeq`] (through `&Pick`).
#[doc(hidden)]
pub struct Pick<A, B>(std::cell::Cell<Option<(A, B)>>);

impl<A, B> fmt::Debug for Pick<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pick").finish_non_exhaustive()
    }
}

impl<A, B> Pick<A, B> {
    /// Wraps the two sides.
    pub fn new(a: A, b: B) -> Self {
        Pick(std::cell::Cell::new(Some((a, b))))
    }

    fn take(&self) -> (A, B) {
        self.0.take().expect("a pick is used once")
    }

    /// The two sides, consuming the pick: nothing is left for a drop to
    /// look at (`take` leaves a `None` behind, whose drop is an
    /// out-of-line call in every fine-grained `join!`).
    fn into_parts(self) -> (A, B) {
        self.0.into_inner().expect("a pick is used once")
    }
}

/// See [`Pick`]: the parallel choice.
#[doc(hidden)]
pub trait PickPar {
    /// The `join!` node.
    type Join;
    /// The `try_join!` node.
    type TryJoin;
    /// Builds the `join!` node.
    fn __tether_join(self) -> Self::Join;
    /// Builds the `try_join!` node.
    fn __tether_try_join(self) -> Self::TryJoin;
}

impl<A, B> PickPar for Pick<A, B>
where
    A: Future + Send,
    B: Future + Send,
    A::Output: Send,
    B::Output: Send,
{
    type Join = Join2<A, B, Par>;
    type TryJoin = TryJoin2<A, B, Par>;
    fn __tether_join(self) -> Self::Join {
        let (a, b) = self.into_parts();
        Join2::new(a, b)
    }
    fn __tether_try_join(self) -> Self::TryJoin {
        let (a, b) = self.into_parts();
        TryJoin2::new(a, b)
    }
}

/// See [`Pick`]: the one-thread choice.
#[doc(hidden)]
pub trait PickSeq {
    /// The `join!` node.
    type Join;
    /// The `try_join!` node.
    type TryJoin;
    /// Builds the `join!` node.
    fn __tether_join(self) -> Self::Join;
    /// Builds the `try_join!` node.
    fn __tether_try_join(self) -> Self::TryJoin;
}

impl<A: Future, B: Future> PickSeq for &Pick<A, B> {
    type Join = Join2<A, B, Seq>;
    type TryJoin = TryJoin2<A, B, Seq>;
    fn __tether_join(self) -> Self::Join {
        let (a, b) = self.take();
        Join2::new(a, b)
    }
    fn __tether_try_join(self) -> Self::TryJoin {
        let (a, b) = self.take();
        TryJoin2::new(a, b)
    }
}

/// Waits for every future (any number, `Send` or not) and returns their
/// outputs as a tuple; use it inside `async` code (it awaits). The futures
/// may borrow from the caller.
///
/// The futures live inside the join itself (no allocation). When their
/// types say that they and their outputs are `Send` — futures returned by
/// calls (`join!(fetch(a), fetch(b))`), boxed `Send` futures, or blocks
/// wrapped in [`tether::parallel`](crate::parallel) — they run in parallel on
/// a tether worker (one side of each pair forked, like `rayon::join`).
/// Otherwise they run concurrently on the caller's thread, as with tokio's
/// `join!`: `!Send` futures, and inline `async { .. }` blocks, whose
/// `Send`-ness rustc cannot tell while it type-checks the function that
/// contains them. Every unfinished future is polled again when any of them
/// is woken. A panic in one future is resumed after the others' current
/// polls; dropping the join drops them.
///
/// ```
/// # futures::executor::block_on(async {
/// let text = String::from("hello world");
/// let (words, bytes, upper) = tether::join!(
///     async { text.split_whitespace().count() },
///     async { text.len() },
///     async { text.to_uppercase() },
/// );
/// assert_eq!((words, bytes, upper.as_str()), (2, 11, "HELLO WORLD"));
///
/// // !Send futures join too, on the caller's thread.
/// let rc = std::rc::Rc::new(5);
/// let (a, b) = tether::join!(async { *rc + 1 }, async { *rc * 2 });
/// assert_eq!((a, b), (6, 10));
/// # });
/// ```
#[macro_export]
macro_rules! join {
    ($($fut:tt)+) => {
        $crate::__join_impl!(@name join [] $($fut)+)
    };
}

/// Waits for every future (any number) to return `Ok` and returns the
/// values as a tuple, or returns the first `Err` at once, dropping
/// (cancelling) the futures still running. All futures share one error
/// type. Like [`join!`](crate::join), `Send` futures run in parallel and
/// `!Send` ones on the caller's thread.
///
/// ```
/// # futures::executor::block_on(async {
/// let ok: Result<(u8, &str), String> =
///     tether::try_join!(async { Ok(1) }, async { Ok("two") });
/// assert_eq!(ok, Ok((1, "two")));
///
/// let err: Result<(u8, u8), &str> = tether::try_join!(
///     async { Err("bad") },
///     std::future::pending::<Result<u8, &str>>(), // cancelled
/// );
/// assert_eq!(err, Err("bad"));
/// # });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($fut:tt)+) => {
        $crate::__join_impl!(@name try_join [] $($fut)+)
    };
}

/// Implementation of [`join!`](crate::join) and [`try_join!`](crate::try_join).
///
/// `@name` gives every future a name (each recursion step's `x` is a
/// distinct identifier by hygiene); the futures are nested into a binary
/// tree of nodes, awaited, and the nested output pattern is flattened.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_impl {
    // An inline `async` block: its `Send`-ness is unknown while the caller
    // is being type-checked, so it joins on the caller's thread.
    (@name $kind:ident [$($named:tt)*] async $body:block $(, $($rest:tt)*)?) => {
        $crate::__join_impl!(@name $kind [$($named)* (x $crate::scope::Local::new(async $body))] $($($rest)*)?)
    };
    (@name $kind:ident [$($named:tt)*] async move $body:block $(, $($rest:tt)*)?) => {
        $crate::__join_impl!(@name $kind [$($named)* (x $crate::scope::Local::new(async move $body))] $($($rest)*)?)
    };
    (@name $kind:ident [$($named:tt)*] $fut:expr $(, $($rest:tt)*)?) => {
        $crate::__join_impl!(@name $kind [$($named)* (x $fut)] $($($rest)*)?)
    };
    (@name join [($only:ident $fut:expr)]) => {
        ($fut.await,)
    };
    (@name try_join [($only:ident $fut:expr)]) => {
        match $fut.await {
            ::core::result::Result::Ok($only) => ::core::result::Result::Ok(($only,)),
            ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
        }
    };
    (@name join [$(($name:ident $fut:expr))+]) => {{
        #[allow(unused_imports)]
        use $crate::scope::{PickPar as _, PickSeq as _};
        let $crate::__join_impl!(@pat $($name)+) =
            $crate::__join_impl!(@tree __tether_join $($fut),+).await;
        ($($name,)+)
    }};
    (@name try_join [$(($name:ident $fut:expr))+]) => {{
        #[allow(unused_imports)]
        use $crate::scope::{PickPar as _, PickSeq as _};
        match $crate::__join_impl!(@tree __tether_try_join $($fut),+).await {
            ::core::result::Result::Ok($crate::__join_impl!(@pat $($name)+)) => {
                ::core::result::Result::Ok(($($name,)+))
            }
            ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
        }
    }};
    (@pat $a:ident) => { $a };
    (@pat $a:ident $($rest:ident)+) => { ($a, $crate::__join_impl!(@pat $($rest)+)) };
    (@tree $method:ident $a:expr) => { $a };
    (@tree $method:ident $a:expr, $($rest:expr),+) => {
        $crate::scope::Pick::new($a, $crate::__join_impl!(@tree $method $($rest),+)).$method()
    };
}
