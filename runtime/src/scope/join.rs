//! [`join_all`] and [`join!`](crate::join): parallel joins of borrowing
//! futures, on the scope machinery.

use std::fmt;
use std::future::Future;
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
    let mut results = Vec::new();
    for (pos, fut) in iter.into_iter().enumerate() {
        let child = RawChild::new(Indexed { pos, fut }, engine.shared(), false, false);
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

    fn stops_on_panic(&self) -> bool {
        true
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

/// Implementation detail of [`join!`](crate::join): one function per arity.
macro_rules! join_fns {
    ($($name:ident => ($($f:ident $h:ident),+);)+) => {$(
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::too_many_arguments)]
        pub fn $name<'env, $($f),+>($($f: $f),+) -> impl Future<Output = ($($f::Output,)+)> + 'env
        where
            $($f: Future + Send + 'env, $f::Output: Send + 'env,)+
        {
            super::scope(move |s| async move {
                $(let $h = s.spawn($f);)+
                ($($h.await.expect("join! branch cancelled"),)+)
            })
        }
    )+};
}

join_fns! {
    __join1 => (A ha);
    __join2 => (A ha, B hb);
    __join3 => (A ha, B hb, C hc);
    __join4 => (A ha, B hb, C hc, D hd);
    __join5 => (A ha, B hb, C hc, D hd, E he);
    __join6 => (A ha, B hb, C hc, D hd, E he, F hf);
    __join7 => (A ha, B hb, C hc, D hd, E he, F hf, G hg);
    __join8 => (A ha, B hb, C hc, D hd, E he, F hf, G hg, H hh);
}

/// Awaits (implicitly: use it inside `async`) up to eight futures in parallel (as children of a scope) and
/// returns their outputs as a tuple. The futures may borrow from the caller.
/// A panic in one branch cancels the others and is re-raised.
///
/// ```
/// # futures::executor::block_on(async {
/// let text = String::from("hello world");
/// let (words, bytes) = tether::join!(
///     async { text.split_whitespace().count() },
///     async { text.len() },
/// );
/// assert_eq!((words, bytes), (2, 11));
/// # });
/// ```
#[macro_export]
macro_rules! join {
    ($a:expr $(,)?) => {
        $crate::scope::__join1($a).await
    };
    ($a:expr, $b:expr $(,)?) => {
        $crate::scope::__join2($a, $b).await
    };
    ($a:expr, $b:expr, $c:expr $(,)?) => {
        $crate::scope::__join3($a, $b, $c).await
    };
    ($a:expr, $b:expr, $c:expr, $d:expr $(,)?) => {
        $crate::scope::__join4($a, $b, $c, $d).await
    };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr $(,)?) => {
        $crate::scope::__join5($a, $b, $c, $d, $e).await
    };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr $(,)?) => {
        $crate::scope::__join6($a, $b, $c, $d, $e, $f).await
    };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr $(,)?) => {
        $crate::scope::__join7($a, $b, $c, $d, $e, $f, $g).await
    };
    ($a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr, $g:expr, $h:expr $(,)?) => {
        $crate::scope::__join8($a, $b, $c, $d, $e, $f, $g, $h).await
    };
}
