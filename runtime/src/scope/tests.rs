//! Unit tests of the scope engine. They use no runtime (manual polling and
//! `futures::executor`), so they run under Miri; see the module docs for the
//! commands. Tests whose name contains `forget` leak on purpose.

use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use futures::executor::block_on;

use super::*;

/// Small counts under Miri, which is ~1000x slower.
const N: usize = if cfg!(miri) { 20 } else { 2000 };

/// A waker that counts how often it was woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let c = Arc::new(CountingWaker::default());
    (c.clone(), Waker::from(c))
}

/// Returns `Pending` once (waking itself), then `Ready`.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// Pending until `gate` holds `true`; leaves its waker in `gate`'s slot.
struct Gate<'a>(&'a Mutex<(bool, Option<Waker>)>);

impl Future for Gate<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn open(gate: &Mutex<(bool, Option<Waker>)>) {
    let w = {
        let mut g = gate.lock().unwrap();
        g.0 = true;
        g.1.take()
    };
    if let Some(w) = w {
        w.wake();
    }
}

/// Counts drops of the value it is attached to.
struct DropCounter<'a>(&'a AtomicUsize);

impl Drop for DropCounter<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn children_borrow_and_results_arrive() {
    let data: Vec<u64> = (0..N as u64).collect();
    let data = &data;
    let sum = block_on(scope(|s| async move {
        let handles: Vec<_> = data
            .chunks(7)
            .map(|c| s.spawn(async move { c.iter().sum::<u64>() }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    }));
    assert_eq!(sum, data.iter().sum::<u64>());
}

#[test]
fn scope_waits_for_detached_children() {
    let hits = AtomicUsize::new(0);
    let hits = &hits;
    block_on(scope(|s| async move {
        for _ in 0..10 {
            drop(s.spawn(async move {
                yield_now().await;
                yield_now().await;
                hits.fetch_add(1, Ordering::SeqCst);
            }));
        }
    }));
    assert_eq!(hits.load(Ordering::SeqCst), 10);
}

#[test]
fn grandchildren_run_in_the_same_scope() {
    let hits = AtomicUsize::new(0);
    let hits = &hits;
    block_on(scope(|s| async move {
        for _ in 0..5 {
            let s2 = s.clone();
            s.spawn(async move {
                yield_now().await;
                for _ in 0..3 {
                    s2.spawn(async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
    }));
    assert_eq!(hits.load(Ordering::SeqCst), 15);
}

#[test]
fn nested_scopes() {
    fn nest<'a>(
        depth: usize,
        out: &'a AtomicUsize,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if depth == 0 {
                out.fetch_add(1, Ordering::SeqCst);
                return;
            }
            scope(|s| async move {
                s.spawn(nest(depth - 1, out));
                s.spawn(nest(depth - 1, out)).await.unwrap();
            })
            .await;
        })
    }
    let out = AtomicUsize::new(0);
    let depth = if cfg!(miri) { 4 } else { 8 };
    block_on(nest(depth, &out));
    assert_eq!(out.load(Ordering::SeqCst), 1 << depth);
}

#[test]
fn one_parent_wake_per_batch() {
    let gate = Mutex::new((false, None));
    let gate2 = Mutex::new((false, None));
    let (gate, gate2) = (&gate, &gate2);
    let mut fut = pin!(scope(|s| async move {
        s.spawn(Gate(gate));
        s.spawn(Gate(gate2));
    }));
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    open(gate);
    open(gate2);
    // Two child wakes, one parent wake.
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(fut.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn abort_cancels_a_child() {
    let drops = AtomicUsize::new(0);
    let drops = &drops;
    block_on(scope(|s| async move {
        let h = s.spawn(async move {
            let _d = DropCounter(drops);
            std::future::pending::<()>().await;
        });
        yield_now().await;
        assert!(!h.is_finished());
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
    }));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_mid_flight_cancels_every_child_once() {
    let drops = AtomicUsize::new(0);
    let escaped = Mutex::new(Vec::new());
    let (drops, escaped) = (&drops, &escaped);
    {
        let mut fut = pin!(scope(|s| async move {
            let _body = DropCounter(drops);
            for i in 0..10 {
                let h = s.spawn(async move {
                    let _d = DropCounter(drops);
                    if i % 2 == 0 {
                        yield_now().await;
                    }
                    std::future::pending::<()>().await;
                });
                escaped.lock().unwrap().push(h);
            }
            std::future::pending::<()>().await;
        }));
        let (_c, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    // 10 children + the body, each dropped exactly once.
    assert_eq!(drops.load(Ordering::SeqCst), 11);
    for h in escaped.lock().unwrap().drain(..) {
        assert!(h.is_finished());
        assert!(block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn escaped_scope_handle_is_inert() {
    let drops = AtomicUsize::new(0);
    let drops = &drops;
    let escaped = Mutex::new(None);
    let escaped = &escaped;
    block_on(scope(|s| async move {
        *escaped.lock().unwrap() = Some(s.clone());
    }));
    let s = escaped.lock().unwrap().take().unwrap();
    assert!(s.is_closed());
    let d = DropCounter(drops);
    let h = s.spawn(async move {
        let _d = d;
        1
    });
    // Dropped at once, never run.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(h.is_finished());
    assert!(block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn waker_outlives_scope() {
    let kept: Mutex<Option<Waker>> = Mutex::new(None);
    let kept = &kept;
    {
        let data = vec![1, 2, 3];
        let data = &data;
        let out = block_on(scope(|s| async move {
            s.spawn(std::future::poll_fn(move |cx| {
                *kept.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(data.len())
            }))
            .await
            .unwrap()
        }));
        assert_eq!(out, 3);
    }
    // The scope and the data are gone; the record is still alive.
    let w = kept.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    let w2 = w.clone();
    drop(w);
    w2.wake();
}

#[test]
fn waker_of_cancelled_child_outlives_scope() {
    let kept: Mutex<Option<Waker>> = Mutex::new(None);
    let kept = &kept;
    {
        let mut fut = pin!(scope(|s| async move {
            s.spawn(std::future::poll_fn(move |cx| {
                *kept.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }));
            std::future::pending::<()>().await;
        }));
        let (_c, waker) = counting_waker();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    let w = kept.lock().unwrap().take().unwrap();
    w.wake();
}

#[test]
fn child_panic_propagates_after_cancelling_siblings() {
    let drops = AtomicUsize::new(0);
    let drops = &drops;
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        block_on(scope(|s| async move {
            for _ in 0..4 {
                s.spawn(async move {
                    let _d = DropCounter(drops);
                    std::future::pending::<()>().await;
                });
            }
            s.spawn(async move {
                yield_now().await;
                panic!("child boom");
            });
            std::future::pending::<()>().await;
        }))
    }));
    let payload = res.unwrap_err();
    assert_eq!(*payload.downcast::<&str>().unwrap(), "child boom");
    assert_eq!(drops.load(Ordering::SeqCst), 4);
}

#[test]
fn body_panic_cancels_children() {
    let drops = AtomicUsize::new(0);
    let drops = &drops;
    let res = panic::catch_unwind(AssertUnwindSafe(|| {
        block_on(scope(|s| async move {
            s.spawn(async move {
                let _d = DropCounter(drops);
                std::future::pending::<()>().await;
            });
            yield_now().await;
            panic!("body boom");
        }))
    }));
    assert!(res.is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn forget_after_poll_then_free_data() {
    let (count, waker) = counting_waker();
    let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
    {
        let data = vec![7u8; 16];
        let data = &data;
        let kept2 = kept.clone();
        let mut fut = Box::pin(scope(move |s| async move {
            s.spawn(std::future::poll_fn(move |cx| {
                // Reads the borrowed data on every poll.
                assert_eq!(data.iter().map(|&b| b as usize).sum::<usize>(), 112);
                *kept2.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }));
            std::future::pending::<()>().await;
        }));
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        mem::forget(fut);
        // `data` is freed here.
    }
    // Keep running: allocate over the freed memory, then wake the child.
    #[allow(clippy::useless_vec)] // on the heap on purpose: reuse the freed block
    let junk = vec![0xAAu8; 16];
    let w = kept.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
    // The parent is told, but nobody will ever poll the forgotten scope.
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(junk[0], 0xAA);
}

/// A `join_all` forgotten mid-way: its batch and the pending futures leak
/// (harmless, I2), and a wake afterwards only notifies the parent.
#[test]
fn forget_join_all_after_poll() {
    let kept: Mutex<Option<Waker>> = Mutex::new(None);
    let kept = &kept;
    let (count, waker) = counting_waker();
    {
        let data = String::from("borrowed");
        let d = &data;
        let mut fut = Box::pin(join_all((0..3).map(|i| async move {
            if i == 2 {
                std::future::poll_fn(|cx| {
                    assert_eq!(d.len(), 8);
                    *kept.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await;
            }
            i
        })));
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        mem::forget(fut);
    }
    kept.lock().unwrap().take().unwrap().wake();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}

#[test]
fn forget_join_set_after_poll() {
    let kept: Mutex<Option<Waker>> = Mutex::new(None);
    let kept = &kept;
    {
        let data = String::from("borrowed");
        let mut set = ScopedJoinSet::new();
        let d = &data;
        set.spawn(std::future::poll_fn(move |cx| {
            assert_eq!(d.len(), 8);
            *kept.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        }));
        let (_c, waker) = counting_waker();
        assert!(
            set.poll_join_next(&mut Context::from_waker(&waker))
                .is_pending()
        );
        mem::forget(set);
    }
    kept.lock().unwrap().take().unwrap().wake();
}

#[test]
fn slots_are_reused() {
    let max_cap = block_on(async {
        let mut set = ScopedJoinSet::new();
        let mut max_cap = 0;
        for round in 0..N {
            set.spawn(async move { round });
            set.spawn(async move {
                yield_now().await;
                round
            });
            assert!(set.join_next().await.unwrap().is_ok());
            assert!(set.join_next().await.unwrap().is_ok());
            max_cap = max_cap.max(set.engine_capacity());
        }
        while set.join_next().await.is_some() {}
        max_cap
    });
    assert!(max_cap <= 8, "slab grew to {max_cap}");
}

impl<T> ScopedJoinSet<'_, T> {
    fn engine_capacity(&self) -> usize {
        self.engine_for_tests().slab_capacity()
    }
}

#[test]
fn join_set_results_and_panics() {
    let base = 100;
    let base = &base;
    let mut got = block_on(async {
        let mut set = ScopedJoinSet::new();
        for i in 0..10 {
            set.spawn(async move {
                if i == 3 {
                    panic!("three");
                }
                yield_now().await;
                base + i
            });
        }
        let mut got = Vec::new();
        let mut panics = 0;
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => got.push(v),
                Err(e) => {
                    assert!(e.is_panic());
                    panics += 1;
                }
            }
        }
        assert_eq!(panics, 1);
        got
    });
    got.sort();
    assert_eq!(got, [100, 101, 102, 104, 105, 106, 107, 108, 109]);
}

#[test]
fn join_set_drop_cancels() {
    let drops = AtomicUsize::new(0);
    {
        let mut set = ScopedJoinSet::new();
        for _ in 0..5 {
            let d = &drops;
            set.spawn(async move {
                let _d = DropCounter(d);
                std::future::pending::<()>().await;
            });
        }
        let (_c, waker) = counting_waker();
        assert!(
            set.poll_join_next(&mut Context::from_waker(&waker))
                .is_pending()
        );
        // One never polled.
        let d = DropCounter(&drops);
        set.spawn(async move {
            let _d = d;
        });
    }
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn join_set_abort_all() {
    block_on(async {
        let mut set = ScopedJoinSet::new();
        for _ in 0..3 {
            set.spawn(std::future::pending::<()>());
        }
        set.spawn(async {});
        set.abort_all();
        let mut cancelled = 0;
        while let Some(r) = set.join_next().await {
            if r.is_err_and(|e| e.is_cancelled()) {
                cancelled += 1;
            }
        }
        assert!(cancelled >= 3);
    });
}

#[test]
fn join_all_keeps_input_order() {
    let words = ["a", "bb", "ccc", "dddd"];
    let lens = block_on(join_all(words.iter().enumerate().map(
        |(i, w)| async move {
            for _ in 0..(4 - i) {
                yield_now().await;
            }
            w.len()
        },
    )));
    assert_eq!(lens, [1, 2, 3, 4]);
    let empty: Vec<u8> = block_on(join_all(Vec::<std::future::Ready<u8>>::new()));
    assert!(empty.is_empty());
}

/// `join_all`'s children share one allocation: a child's waker that
/// outlives the `JoinAll` keeps it alive until that waker is dropped, and
/// every future is dropped with the join (under Miri, a leak of the
/// allocation or a use after its free is an error).
#[test]
fn join_all_batch_outlives_the_join_through_a_waker() {
    let drops = &AtomicUsize::new(0);
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let data = [1u64, 2, 3, 4, 5];
    {
        let mut fut = Box::pin(join_all(data.iter().map(|x| {
            let kept = kept.clone();
            async move {
                let _d = DropCounter(drops);
                if x % 2 == 0 {
                    // Pending for good, its waker kept outside the join.
                    std::future::poll_fn(|cx| {
                        kept.lock().unwrap().push(cx.waker().clone());
                        Poll::<()>::Pending
                    })
                    .await;
                }
                *x
            }
        })));
        let (_c, waker) = counting_waker();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        assert_eq!(drops.load(Ordering::SeqCst), 3, "the ready ones finished");
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        5,
        "dropping the join drops the rest"
    );
    let wakers = mem::take(&mut *kept.lock().unwrap());
    assert_eq!(wakers.len(), 2);
    for w in wakers {
        // Waking a child of a dropped join is a no-op; the last waker
        // dropped frees the batch.
        w.wake();
    }
}

/// A batch whose last reference goes on another thread than its first.
#[test]
fn join_all_batch_freed_by_a_waker_on_another_thread() {
    let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
    let kept2 = kept.clone();
    let out = block_on(join_all((0..3u32).map(move |i| {
        let kept = kept2.clone();
        async move {
            if i == 1 {
                let mut first = true;
                std::future::poll_fn(|cx| {
                    if mem::take(&mut first) {
                        *kept.lock().unwrap() = Some(cx.waker().clone());
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
            }
            i * 10
        }
    })));
    assert_eq!(out, [0, 10, 20]);
    let w = kept.lock().unwrap().take().unwrap();
    std::thread::spawn(move || w.wake()).join().unwrap();
}

#[test]
fn join_macro_borrows() {
    let mut a = 1;
    let b = String::from("x");
    let (x, y, ()) = block_on(async {
        crate::join!(async { b.len() }, async { b.clone() + "y" }, async {
            a += 1
        })
    });
    assert_eq!((x, y.as_str(), a), (1, "xy", 2));
}

#[test]
fn spawn_local_runs_not_send_children() {
    use std::rc::Rc;
    let cell = std::cell::RefCell::new(Vec::new());
    let cell = &cell;
    let out = block_on(scope_local(|s| async move {
        let s2 = s.clone();
        let a = s.spawn_local(async move {
            let rc = Rc::new(1);
            yield_now().await;
            cell.borrow_mut().push(*rc);
            s2.spawn_local(async move { cell.borrow_mut().push(2) })
                .await
                .unwrap();
            rc
        });
        let b = s.spawn(async { 3 });
        *a.await.unwrap() + b.await.unwrap()
    }));
    assert_eq!(out, 4);
    assert_eq!(*cell.borrow(), [1, 2]);
}

#[test]
fn many_children_over_time_in_one_scope() {
    let hits = AtomicUsize::new(0);
    let hits = &hits;
    block_on(scope(|s| async move {
        for _ in 0..N {
            s.spawn(async move {
                hits.fetch_add(1, Ordering::Relaxed);
            });
            yield_now().await;
        }
    }));
    assert_eq!(hits.load(Ordering::SeqCst), N);
}

/// A long-lived scope spawning short children over time reuses slab slots
/// instead of growing.
#[test]
fn long_lived_scope_does_not_grow() {
    let hits = AtomicUsize::new(0);
    let hits = &hits;
    let mut fut = pin!(scope(|s| async move {
        for _ in 0..N * 5 {
            s.spawn(async move {
                hits.fetch_add(1, Ordering::Relaxed);
            });
            yield_now().await;
        }
    }));
    let (_c, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut max_cap = 0;
    while fut.as_mut().poll(&mut cx).is_pending() {
        max_cap = max_cap.max(fut.slab_capacity());
    }
    assert_eq!(hits.load(Ordering::SeqCst), N * 5);
    assert!(max_cap <= 4, "slab grew to {max_cap}");
}

mod panic_slot {
    //! A child panic is kept where only the owner reads it (I5), not in
    //! the output slot that the child's handle may take.
    use std::panic::{self, AssertUnwindSafe};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::task::{Context, Poll};

    use futures::executor::block_on;

    use crate::scope::*;

    /// I5: "a child panic is re-raised from the scope's poll". A sibling polled
    /// later in the same round that awaits the panicked child's handle takes the
    /// panic result out of the shared output slot first; `take_panic` then finds
    /// `None` and the scope completes normally.
    #[test]
    fn sibling_awaiting_a_panicked_child_does_not_swallow_the_panic() {
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            block_on(scope(|s| async move {
                let a = s.spawn(async { panic!("boom") });
                let b = s.spawn(async move { a.await.is_err() });
                b.await.unwrap()
            }))
        }));
        assert!(
            res.is_err(),
            "scope returned normally ({res:?}) although a child panicked"
        );
    }

    /// Data race: `ScopedJoinHandle::poll` (another thread, outside the round)
    /// reads/takes the output slot after seeing COMPLETE, while the owner's
    /// `take_panic` reads/writes the same slot with no happens-before between the
    /// two. Run under Miri to see the race report; natively the panic is lost.
    #[test]
    fn handle_on_another_thread_does_not_race_the_panic_slot() {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<ScopedJoinHandle<'static, ()>>();
        let t = std::thread::spawn(move || {
            let mut h = rx.recv().unwrap();
            let w = futures::task::noop_waker();
            let mut cx = Context::from_waker(&w);
            loop {
                if let Poll::Ready(r) = Pin::new(&mut h).poll(&mut cx) {
                    TAKEN.store(true, Relaxed);
                    // Keep the handle (dropping it is a release RMW on the
                    // state word) until the scope is over.
                    return (r.is_err(), h);
                }
                std::thread::yield_now();
            }
        });
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            block_on(scope(move |s: Scope<'static>| async move {
                let a = s.spawn(async { panic!("boom") });
                tx.send(a).unwrap();
                // Polled right after `a` in the same round: keeps the round open
                // until the other thread took `a`'s output.
                s.spawn(async {
                    while !TAKEN.load(Relaxed) {
                        std::thread::yield_now();
                    }
                });
            }))
        }));
        let _ = t.join();
        assert!(res.is_err(), "child panic was lost");
    }
}

mod joins {
    //! `join!`/`try_join!`: any number of futures, `Send` or not, joined in
    //! place.
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::executor::block_on;

    use super::{DropCounter, yield_now};

    #[test]
    fn join_macro_many_futures() {
        let base = 100;
        let base = &base;
        let out = block_on(async {
            crate::join!(
                async { *base },
                async {
                    yield_now().await;
                    base + 1
                },
                async { base + 2 },
                async {
                    yield_now().await;
                    yield_now().await;
                    base + 3
                },
                async { base + 4 },
                async { base + 5 },
                async { base + 6 },
                async { base + 7 },
                async { base + 8 },
                async { "nine" },
            )
        });
        assert_eq!(out, (100, 101, 102, 103, 104, 105, 106, 107, 108, "nine"));
        let (one,) = block_on(async { crate::join!(async { 1 }) });
        assert_eq!(one, 1);
    }

    #[test]
    fn join_macro_not_send_runs_on_the_callers_thread() {
        let rc = Rc::new(Cell::new(0));
        let order = Rc::new(Cell::new(0));
        let (a, b, c) = block_on(async {
            crate::join!(
                async {
                    yield_now().await;
                    rc.set(rc.get() + 1);
                    Rc::clone(&rc)
                },
                async {
                    order.set(order.get() + 1);
                    5
                },
                async { 7u8 }, // Send, mixed with !Send ones
            )
        });
        assert_eq!((a.get(), b, c, order.get()), (1, 5, 7, 1));
    }

    #[test]
    fn join_panic_resumes_and_drops_the_other_side() {
        let drops = AtomicUsize::new(0);
        let drops = &drops;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            block_on(async {
                crate::join!(
                    async move {
                        let _d = DropCounter(drops);
                        std::future::pending::<()>().await;
                    },
                    async { panic!("side boom") },
                )
            })
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"side boom"));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn try_join_all_ok() {
        let v = vec![1, 2, 3];
        let v = &v;
        let out: Result<(usize, i32, i32), String> = block_on(async {
            crate::try_join!(
                async { Ok(v.len()) },
                async {
                    yield_now().await;
                    Ok(v[0])
                },
                async { Ok(v[2]) },
            )
        });
        assert_eq!(out, Ok((3, 1, 3)));
        let single: Result<(u8,), ()> = block_on(async { crate::try_join!(async { Ok(4) }) });
        assert_eq!(single, Ok((4,)));
    }

    /// The first `Err` completes the join at once and drops (cancels) the
    /// futures still running, before the join returns — like tokio's.
    #[test]
    fn try_join_short_circuits_and_cancels() {
        let drops = AtomicUsize::new(0);
        let drops = &drops;
        let out: Result<((), (), u8), &str> = block_on(async {
            let out = crate::try_join!(
                async move {
                    let _d = DropCounter(drops);
                    std::future::pending::<Result<(), &str>>().await
                },
                async move {
                    let _d = DropCounter(drops);
                    std::future::pending::<Result<(), &str>>().await
                },
                async {
                    yield_now().await;
                    Err("bad")
                },
            );
            assert_eq!(
                drops.load(Ordering::SeqCst),
                2,
                "losers dropped before the join returned"
            );
            out
        });
        assert_eq!(out, Err("bad"));
    }

    #[test]
    fn try_join_not_send_short_circuits() {
        let rc = Rc::new(3);
        let polled = Cell::new(false);
        let out: Result<(i32, ()), i32> = block_on(async {
            crate::try_join!(async { Err(*rc) }, async {
                polled.set(true);
                Ok(())
            })
        });
        assert_eq!(out, Err(3));
        assert!(!polled.get(), "a !Send try_join stops at the first Err");
    }
}

mod unwinds {
    //! An unwind out of a scope's completion handling (issue: a child output
    //! whose destructor panics, a panic payload whose destructor panics, a
    //! panicking parent waker) must neither strand children (Pending forever)
    //! nor leak them, and must re-raise the child's own panic. Each test
    //! polls by hand a bounded number of times: a hang fails instead.
    use std::future::Future;
    use std::panic::{self, AssertUnwindSafe};
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    use super::{DropCounter, counting_waker};
    use crate::scope::*;

    /// Most polls a test allows before it calls the scope stranded.
    const WATCHDOG_POLLS: usize = 100;

    /// A value whose destructor panics.
    pub(super) struct PanicOnDrop(pub(super) &'static str);
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic::panic_any(self.0);
        }
    }

    /// Polls `fut` until it is ready or panics, at most `WATCHDOG_POLLS`
    /// times; returns the panic payload if it panicked.
    pub(super) fn poll_bounded<F: Future>(
        fut: F,
    ) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
        let mut fut = pin!(fut);
        let (_c, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..WATCHDOG_POLLS {
            match panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
                Ok(Poll::Ready(v)) => return Ok(v),
                Ok(Poll::Pending) => {}
                Err(p) => return Err(p),
            }
        }
        panic!("scope still pending after {WATCHDOG_POLLS} polls: children stranded");
    }

    #[test]
    fn output_drop_panic_with_handle_gone_does_not_strand() {
        let drops = AtomicUsize::new(0);
        let drops = &drops;
        let res = poll_bounded(scope(|s| async move {
            s.spawn(async move {
                let _d = DropCounter(drops);
                std::future::pending::<()>().await;
            });
            drop(s.spawn(async { PanicOnDrop("output drop") }));
            std::future::pending::<()>().await;
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"output drop"));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "sibling cancelled");
    }

    #[test]
    fn second_payload_whose_drop_panics_keeps_the_first_panic() {
        let res = poll_bounded(scope(|s| async move {
            // Cancelled after the first panic; its destructor panics with a
            // payload whose own destructor panics.
            s.spawn(async move {
                struct Bomb;
                impl Drop for Bomb {
                    fn drop(&mut self) {
                        panic::panic_any(PanicOnDrop("payload drop"));
                    }
                }
                let _b = Bomb;
                std::future::pending::<()>().await;
            });
            s.spawn(async { panic!("child's own panic") });
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"child's own panic"));
    }

    #[test]
    fn two_child_panics_resume_the_first() {
        let res = poll_bounded(join_all([0, 1].map(|i| async move {
            if i == 0 {
                panic!("first");
            }
            panic::panic_any(PanicOnDrop("second payload drop"));
        })));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"first"));
    }

    /// A parent waker that panics.
    struct PanickingWaker(AtomicUsize);
    impl Wake for PanickingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("parent waker");
        }
    }

    /// A panicking parent waker reaches whoever woke the child, and leaks
    /// neither the child's cell, the wake hub, nor the waker (Miri's leak
    /// check covers this test).
    #[test]
    fn panicking_parent_waker_leaks_nothing() {
        let kept: Mutex<Option<Waker>> = Mutex::new(None);
        let kept = &kept;
        let parent = Arc::new(PanickingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(parent.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = Box::pin(scope(|s| async move {
            s.spawn(std::future::poll_fn(move |cx| {
                *kept.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }))
            .await
            .unwrap();
        }));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        let child_waker = kept.lock().unwrap().take().unwrap();
        let res = panic::catch_unwind(AssertUnwindSafe(move || child_waker.wake()));
        assert!(res.is_err(), "the parent waker's panic reaches the caller");
        assert_eq!(parent.0.load(Ordering::SeqCst), 1);
        drop(fut);
        assert_eq!(
            Arc::strong_count(&parent),
            2,
            "the scope released the parent waker"
        );
    }

    /// A panic payload that counts its drops and panics in its destructor.
    struct PayloadBomb(Arc<AtomicUsize>);
    impl Drop for PayloadBomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("payload destructor");
        }
    }

    /// A future that panics when polled and whose destructor then panics
    /// with a [`PayloadBomb`].
    struct PanicsTwice(Arc<AtomicUsize>);
    impl Future for PanicsTwice {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            panic!("child's own panic");
        }
    }
    impl Drop for PanicsTwice {
        fn drop(&mut self) {
            panic::panic_any(PayloadBomb(self.0.clone()));
        }
    }

    /// The payload of a child future's destructor, raised after the
    /// child's poll panicked, is dropped (not forgotten, not unwound): the
    /// scope re-raises the poll's panic.
    #[test]
    fn payload_of_a_panicking_child_destructor_is_dropped() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let res = poll_bounded(scope(|s| async move {
            s.spawn(PanicsTwice(d));
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"child's own panic"));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    /// The same through the blocking scope, for its three extra-payload
    /// sites: a child future's destructor after its poll panicked, a second
    /// child panic, and a child panic beside the closure's own.
    #[test]
    #[cfg_attr(miri, ignore = "starts a runtime")]
    fn blocking_scope_drops_extra_payloads() {
        let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));

        let d = drops.clone();
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                s.spawn(PanicsTwice(d));
            })
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"child's own panic"));
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        let (d1, d2) = (drops.clone(), drops.clone());
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                s.spawn_blocking(move || panic::panic_any(PayloadBomb(d1)));
                s.spawn_blocking(move || panic::panic_any(PayloadBomb(d2)));
            })
        }));
        // One payload was discarded; the other is re-raised.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        crate::util::panic::discard_payload(res.unwrap_err());
        assert_eq!(drops.load(Ordering::SeqCst), 3);

        let d = drops.clone();
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.scope(|s| {
                s.spawn_blocking(move || panic::panic_any(PayloadBomb(d)));
                panic!("the closure's panic");
            })
        }));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the closure's panic"));
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    }
}

/// Leak in the middle of a session's work: the scope's poll ran out of
/// budget with children still ready (entries queued, wakers out), the scope
/// future is forgotten, the borrowed data freed, and the wakers then fire
/// and drop. Nothing may touch the data again (I2) — Miri checks the reads.
#[test]
fn forget_with_children_still_queued_then_free_data() {
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
    {
        let data = vec![7u8; 16];
        let data = &data;
        let k = kept.clone();
        let mut fut = Box::pin(scope(move |s| async move {
            for _ in 0..3 {
                let k = k.clone();
                s.spawn(async move {
                    loop {
                        assert_eq!(data[3], 7);
                        std::future::poll_fn(|cx| {
                            k.lock().unwrap().push(cx.waker().clone());
                            Poll::Ready(())
                        })
                        .await;
                        yield_now().await;
                    }
                });
            }
            std::future::pending::<()>().await;
        }));
        let (c, waker) = counting_waker();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        assert_eq!(
            c.0.load(Ordering::SeqCst),
            1,
            "budget spent: the scope yielded"
        );
        mem::forget(fut);
    }
    let wakers = mem::take(&mut *kept.lock().unwrap());
    assert!(!wakers.is_empty());
    for w in wakers {
        w.wake();
    }
}

crate::task_local! {
    static REQUEST: u64;
}

/// A task-local value set around a scope is seen by its children (the
/// `task_local` module docs promise it): inside a task-local scope a scope
/// polls its children on the owner's thread only. Each of two tasks wraps
/// its own scope in its own value; a child must never see the other task's
/// value (a helper worker waiting in its own fork could run the other
/// scope's children), nor none at all (a worker that stole a helper job).
#[test]
#[cfg_attr(
    miri,
    ignore = "stealing on a multi-thread runtime reaches crossbeam-epoch, whose intrusive list Miri's Stacked Borrows rejects"
)]
fn task_local_is_seen_by_children_polled_on_helper_workers() {
    let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for id in [7u64, 9] {
        let seen = seen.clone();
        tasks.push(rt.spawn(REQUEST.scope(id, async move {
            for _ in 0..if cfg!(miri) { 1 } else { 20 } {
                scope(|s| {
                    let seen = &seen;
                    async move {
                        for _ in 0..8 {
                            s.spawn(async move {
                                // Long enough for an idle worker to steal.
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                let got = REQUEST.try_with(|v| *v).ok();
                                seen.lock().unwrap().push((id, got));
                            });
                        }
                    }
                })
                .await;
            }
        })));
    }
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let seen = seen.lock().unwrap();
    let wrong: Vec<_> = seen.iter().filter(|(id, got)| *got != Some(*id)).collect();
    assert!(
        wrong.is_empty(),
        "{} of {} children saw the wrong task-local value (expected, seen): {:?}",
        wrong.len(),
        seen.len(),
        &wrong[..wrong.len().min(5)]
    );
}

/// `join!` branches inside a task-local scope see the value too (they are
/// not forked to another worker while it is in place), and branches of a
/// `join!` outside any task-local scope see none.
#[test]
#[cfg_attr(
    miri,
    ignore = "stealing on a multi-thread runtime reaches crossbeam-epoch, whose intrusive list Miri's Stacked Borrows rejects"
)]
fn task_local_is_seen_by_join_branches() {
    /// A branch long enough for an idle worker to steal it, if forked
    /// (named, not an inline `async` block, so `join!` may fork it).
    async fn probe() -> Option<u64> {
        std::thread::sleep(std::time::Duration::from_micros(200));
        REQUEST.try_with(|v| *v).ok()
    }
    let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
    let got = rt.block_on(rt.spawn(REQUEST.scope(5, async move {
        let mut seen = Vec::new();
        for _ in 0..if cfg!(miri) { 1 } else { 50 } {
            let (a, b, c) = crate::join!(probe(), probe(), probe());
            seen.extend([a, b, c]);
        }
        seen
    })));
    let got = got.unwrap();
    assert!(got.iter().all(|v| *v == Some(5)), "{got:?}");
    let outside = rt.block_on(rt.spawn(async move {
        let (a, b) = crate::join!(probe(), probe());
        [a, b]
    }));
    assert_eq!(outside.unwrap(), [None, None]);
}

/// `task::id()` inside a scoped child is the id of the task that owns the
/// scope, also when a helper worker polls the child (a helper thread may be
/// waiting in a fork of another task, or idle with no task at all).
#[test]
#[cfg_attr(
    miri,
    ignore = "stealing on a multi-thread runtime reaches crossbeam-epoch, whose intrusive list Miri's Stacked Borrows rejects"
)]
fn children_see_the_owner_task_id_on_every_worker() {
    let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let seen = seen.clone();
        tasks.push(rt.spawn(async move {
            let me = crate::task::id();
            for _ in 0..if cfg!(miri) { 1 } else { 20 } {
                scope(|s| {
                    let seen = &seen;
                    async move {
                        for _ in 0..8 {
                            s.spawn(async move {
                                // Long enough for an idle worker to steal.
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                let got = crate::task::try_id();
                                seen.lock()
                                    .unwrap()
                                    .push((me, got, std::thread::current().id()));
                            });
                        }
                    }
                })
                .await;
            }
        }));
    }
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let seen = seen.lock().unwrap();
    let wrong: Vec<_> = seen
        .iter()
        .filter(|(me, got, _)| *got != Some(*me))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} children saw another id: {:?}",
        wrong.len(),
        seen.len(),
        &wrong[..wrong.len().min(5)]
    );
    if !cfg!(miri) {
        let threads: std::collections::HashSet<_> = seen.iter().map(|(_, _, t)| *t).collect();
        assert!(
            threads.len() >= 2,
            "children were never polled on a helper worker"
        );
    }
}

/// `join!` branches forked to another worker name the joining task too.
#[test]
#[cfg_attr(
    miri,
    ignore = "stealing on a multi-thread runtime reaches crossbeam-epoch, whose intrusive list Miri's Stacked Borrows rejects"
)]
fn join_branches_see_the_task_id_on_every_worker() {
    async fn probe() -> (Option<crate::task::Id>, std::thread::ThreadId) {
        std::thread::sleep(std::time::Duration::from_micros(200));
        (crate::task::try_id(), std::thread::current().id())
    }
    let rt = crate::Runtime::builder().worker_threads(2).build().unwrap();
    let (me, seen) = rt
        .block_on(rt.spawn(async {
            let mut seen = Vec::new();
            for _ in 0..if cfg!(miri) { 1 } else { 50 } {
                let (a, b, c) = crate::join!(probe(), probe(), probe());
                seen.extend([a, b, c]);
            }
            (crate::task::id(), seen)
        }))
        .unwrap();
    assert!(seen.iter().all(|(id, _)| *id == Some(me)), "{seen:?}");
    if !cfg!(miri) {
        let threads: std::collections::HashSet<_> = seen.iter().map(|(_, t)| *t).collect();
        assert!(
            threads.len() >= 2,
            "no branch was ever forked to another worker"
        );
    }
}

/// A `join_all` forgotten before its first poll: nothing is dropped, nothing is
/// freed (leaks on purpose).
#[test]
fn forget_join_all_before_poll() {
    let drops = &AtomicUsize::new(0);
    let fut = join_all((0..3).map(|_| {
        let d = DropCounter(drops);
        async move {
            let _d = d;
        }
    }));
    mem::forget(fut);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
}

/// `join_all`'s batch allocation (`RawChild::new_batch`, `BatchHead`,
/// `release_batch_cell`): edge cases of layout, drop order, unwinding and
/// cross-thread release. Under Miri, a leak of the batch, a double free or
/// a use after free is an error.
mod join_all_batch {
    use std::future::Future;
    use std::mem;
    use std::panic::{self, AssertUnwindSafe};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    use futures::executor::block_on;

    use super::unwinds::{PanicOnDrop, poll_bounded};
    use super::{DropCounter, counting_waker};
    use crate::scope::*;

    /// Pending for good; pushes a clone of its waker into `kept` at each poll.
    fn park(kept: &Mutex<Vec<Waker>>) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            kept.lock().unwrap().push(cx.waker().clone());
            Poll::Pending
        })
    }

    /// No future: no batch, no allocation, an empty result (also when the
    /// finished join is polled again).
    #[test]
    fn join_all_of_no_future() {
        assert!(block_on(join_all(Vec::<std::future::Ready<u8>>::new())).is_empty());
        let mut fut = join_all(std::iter::empty::<std::future::Ready<()>>());
        let (_c, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(v) if v.is_empty()));
        assert!(matches!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(v) if v.is_empty()));
        // Dropped without a poll.
        drop(join_all(std::iter::empty::<std::future::Ready<()>>()));
    }

    /// A zero-sized future type.
    struct Zst;
    impl Future for Zst {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    /// Zero-sized futures and outputs: the cells still have a size (the
    /// header), completed or dropped pending.
    #[test]
    fn join_all_zero_sized_futures() {
        assert_eq!(mem::size_of::<Zst>(), 0);
        assert_eq!(block_on(join_all((0..4).map(|_| Zst))).len(), 4);
        assert_eq!(mem::size_of::<std::future::Pending<()>>(), 0);
        let mut fut = join_all((0..3).map(|_| std::future::pending::<()>()));
        let (_c, waker) = counting_waker();
        assert!(
            Pin::new(&mut fut)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(fut);
    }

    /// A future with a 4096-byte alignment: every cell's future is aligned
    /// (checked in `poll`, and by Miri on every access); the odd ones stay
    /// pending with their wakers kept past the join.
    #[repr(align(4096))]
    struct Aligned<'a> {
        i: usize,
        polled: bool,
        kept: &'a Mutex<Vec<Waker>>,
        _d: DropCounter<'a>,
    }
    impl Future for Aligned<'_> {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let addr = &*self as *const Self as usize;
            assert_eq!(addr % 4096, 0, "future {} misaligned at {addr:#x}", self.i);
            if self.i % 2 == 1 {
                self.kept.lock().unwrap().push(cx.waker().clone());
                return Poll::Pending;
            }
            if !mem::replace(&mut self.polled, true) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(self.i * 10)
        }
    }

    #[test]
    fn join_all_large_alignment() {
        let drops = &AtomicUsize::new(0);
        let kept = &Mutex::new(Vec::new());
        // All ready.
        let out = block_on(join_all((0..3).map(|i| Aligned {
            i: i * 2,
            polled: false,
            kept,
            _d: DropCounter(drops),
        })));
        assert_eq!(out, [0, 20, 40]);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        // Some pending; the join dropped; wakers released on other threads.
        let mut fut = join_all((0..4).map(|i| Aligned {
            i,
            polled: false,
            kept,
            _d: DropCounter(drops),
        }));
        let (_c, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..3 {
            assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        }
        drop(fut);
        assert_eq!(drops.load(Ordering::SeqCst), 7);
        let wakers = mem::take(&mut *kept.lock().unwrap());
        assert!(wakers.len() >= 2);
        let threads: Vec<_> = wakers
            .into_iter()
            .map(|w| std::thread::spawn(move || w.wake()))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    /// A join dropped before its first poll drops every future once.
    #[test]
    fn join_all_dropped_before_any_poll() {
        let drops = &AtomicUsize::new(0);
        let fut = join_all((0..4).map(|i| {
            let d = DropCounter(drops);
            async move {
                let _d = d;
                i
            }
        }));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(fut);
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    }

    /// A child panics while siblings are pending with wakers kept outside:
    /// the panic is re-raised, every future is dropped, and the wakers (woken
    /// and dropped later on other threads) free the batch.
    #[test]
    fn join_all_child_panic_with_wakers_outliving() {
        let drops = &AtomicUsize::new(0);
        let kept = &Mutex::new(Vec::new());
        let res = poll_bounded(join_all((0..4).map(|i| async move {
            let _d = DropCounter(drops);
            match i {
                0 => {
                    super::yield_now().await;
                    panic!("child 0");
                }
                1 | 2 => park(kept).await,
                _ => {}
            }
            i
        })));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"child 0"));
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        let wakers = mem::take(&mut *kept.lock().unwrap());
        assert_eq!(wakers.len(), 2);
        let threads: Vec<_> = wakers
            .into_iter()
            .map(|w| {
                std::thread::spawn(move || {
                    w.wake_by_ref();
                    drop(w.clone());
                    w.wake();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    /// A child whose future's destructor panics after it completed: the
    /// join re-raises that panic and drops the others.
    #[test]
    fn join_all_child_destructor_panics_on_completion() {
        let drops = &AtomicUsize::new(0);
        let kept = &Mutex::new(Vec::new());
        let res = poll_bounded(join_all((0..3).map(|i| async move {
            let _d = DropCounter(drops);
            match i {
                0 => {
                    let _bomb = PanicOnDrop("destructor");
                    super::yield_now().await;
                }
                1 => park(kept).await,
                _ => {}
            }
            i
        })));
        let payload = res.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"destructor"));
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        drop(mem::take(&mut *kept.lock().unwrap()));
    }

    /// A pending child whose destructor panics when the join is dropped:
    /// the drop re-raises it after cancelling the others; a waker of the
    /// panicking child, dropped later on another thread, frees the batch.
    #[test]
    fn join_all_dropped_with_panicking_destructor() {
        let drops = &AtomicUsize::new(0);
        let kept = &Mutex::new(Vec::new());
        let mut fut = Box::pin(join_all((0..3).map(|i| async move {
            let _d = DropCounter(drops);
            if i == 1 {
                let _bomb = PanicOnDrop("cancel destructor");
                park(kept).await;
            } else {
                park(kept).await;
            }
            i
        })));
        let (_c, waker) = counting_waker();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let res = panic::catch_unwind(AssertUnwindSafe(move || drop(fut)));
        assert_eq!(
            res.unwrap_err().downcast_ref::<&str>(),
            Some(&"cancel destructor")
        );
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        let wakers = mem::take(&mut *kept.lock().unwrap());
        assert_eq!(wakers.len(), 3);
        std::thread::spawn(move || drop(wakers)).join().unwrap();
    }

    /// One child's waker cloned many times; the clones are woken and
    /// dropped on several threads at once while the owner finishes the
    /// join (the child completes once its flag is set).
    #[test]
    fn join_all_waker_clones_released_on_many_threads() {
        const CLONES: usize = if cfg!(miri) { 8 } else { 256 };
        const THREADS: usize = if cfg!(miri) { 3 } else { 8 };
        let done = Arc::new(AtomicBool::new(false));
        let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let (d, k) = (done.clone(), kept.clone());
        let mut threads = Vec::new();
        let out = block_on(async {
            let futs = (0..3usize).map(|i| {
                let (d, k) = (d.clone(), k.clone());
                std::future::poll_fn(move |cx| {
                    if i != 1 || d.load(Ordering::SeqCst) {
                        return Poll::Ready(i);
                    }
                    let mut k = k.lock().unwrap();
                    if k.is_empty() {
                        k.extend((0..CLONES).map(|_| cx.waker().clone()));
                    }
                    Poll::Pending
                })
            });
            let mut join = join_all(futs);
            // First poll: child 1 hands out its clones, then pending.
            assert!(
                futures::poll!(&mut join).is_pending(),
                "child 1 waits for its flag"
            );
            let mut wakers = mem::take(&mut *kept.lock().unwrap());
            assert_eq!(wakers.len(), CLONES);
            for _ in 0..THREADS {
                let take = CLONES.div_ceil(THREADS).min(wakers.len());
                let share: Vec<Waker> = wakers.drain(..take).collect();
                let done = done.clone();
                threads.push(std::thread::spawn(move || {
                    done.store(true, Ordering::SeqCst);
                    for w in share {
                        w.wake_by_ref();
                        let clone = w.clone();
                        clone.wake();
                        drop(w);
                    }
                }));
            }
            assert!(wakers.is_empty());
            join.await
        });
        assert_eq!(out, [0, 1, 2]);
        for t in threads {
            t.join().unwrap();
        }
    }

    /// Woken and dropped on other threads *while* the owner drops the join.
    #[test]
    fn join_all_wakers_race_the_drop() {
        let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let k = kept.clone();
        let mut fut = join_all((0..3).map(move |_| {
            let k = k.clone();
            std::future::poll_fn(move |cx| {
                k.lock().unwrap().push(cx.waker().clone());
                Poll::<()>::Pending
            })
        }));
        let (_c, waker) = counting_waker();
        assert!(
            Pin::new(&mut fut)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let wakers = mem::take(&mut *kept.lock().unwrap());
        let threads: Vec<_> = wakers
            .into_iter()
            .map(|w| {
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        w.wake_by_ref();
                    }
                    drop(w)
                })
            })
            .collect();
        drop(fut);
        for t in threads {
            t.join().unwrap();
        }
    }

    /// A parent waker whose destructor panics (armed only once the test
    /// dropped its own handle).
    struct BombWaker(AtomicBool);
    impl Wake for BombWaker {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for BombWaker {
        fn drop(&mut self) {
            if self.0.load(Ordering::SeqCst) {
                panic!("parent waker destructor");
            }
        }
    }

    /// The last cell's header drop unwinds (it drops the last `Arc<Shared>`,
    /// whose parent waker panics): the batch is still counted off and freed
    /// (the `Release` guard in `drop_ref`), and the panic reaches whoever
    /// dropped the child's waker.
    #[test]
    fn join_all_last_header_drop_unwinds() {
        let kept = &Mutex::new(Vec::new());
        let bomb = Arc::new(BombWaker(AtomicBool::new(false)));
        let mut fut = Box::pin(join_all((0..3).map(|i| async move {
            if i == 1 {
                park(kept).await;
            }
            i
        })));
        {
            let parent = Waker::from(bomb.clone());
            assert!(
                fut.as_mut()
                    .poll(&mut Context::from_waker(&parent))
                    .is_pending()
            );
        }
        bomb.0.store(true, Ordering::SeqCst);
        drop(bomb); // the wake hub now holds the only reference
        drop(fut);
        let wakers = mem::take(&mut *kept.lock().unwrap());
        assert_eq!(wakers.len(), 1);
        let res = panic::catch_unwind(AssertUnwindSafe(move || drop(wakers)));
        assert_eq!(
            res.unwrap_err().downcast_ref::<&str>(),
            Some(&"parent waker destructor")
        );
    }

    /// A self-referential future (a borrow of its own local held across an
    /// await): cells are never moved after the first poll.
    #[test]
    fn join_all_self_referential_futures() {
        let out = block_on(join_all((0..3u64).map(|i| async move {
            let local = [i; 4];
            let r = &local;
            super::yield_now().await;
            r.iter().sum::<u64>()
        })));
        assert_eq!(out, [0, 4, 8]);
    }

    /// `join_all` on the multi-thread runtime, children woken from foreign
    /// threads, joins completed or dropped mid-way (timeout), with late
    /// wakes after the drop; every future is dropped once.
    #[test]
    #[cfg_attr(miri, ignore = "starts a runtime")]
    fn join_all_on_multi_thread_runtime_with_foreign_wakes() {
        use std::time::Duration;
        let rt = crate::Runtime::new().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let make = |n: usize, delay_us: u64| {
            let drops = drops.clone();
            let made = made.clone();
            (0..n).map(move |i| {
                let (tx, rx) = futures::channel::oneshot::channel::<usize>();
                made.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_micros(delay_us * (i as u64 % 7)));
                    let _ = tx.send(i);
                });
                let drops = drops.clone();
                async move {
                    struct D(Arc<AtomicUsize>);
                    impl Drop for D {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _d = D(drops);
                    let mut sink = [0u8; 64];
                    sink[i % 64] = 1;
                    rx.await.unwrap_or(usize::MAX) + usize::from(sink[i % 64]) - 1
                }
            })
        };
        for round in 0..30 {
            // Completed in block_on.
            let out = rt.block_on(join_all(make(32, 50)));
            assert_eq!(out, (0..32).collect::<Vec<_>>());
            // Completed inside spawned tasks, several at once.
            let tasks: Vec<_> = (0..4).map(|_| rt.spawn(join_all(make(16, 30)))).collect();
            for t in tasks {
                assert_eq!(rt.block_on(t).unwrap(), (0..16).collect::<Vec<_>>());
            }
            // Dropped mid-way by a timeout; the senders wake it afterwards.
            let j = join_all(make(32, 200));
            let _ = rt.block_on(async move {
                crate::time::timeout(Duration::from_micros(100 + 37 * round), j).await
            });
            let j = join_all(make(32, 200));
            let t =
                rt.spawn(async move { crate::time::timeout(Duration::from_micros(150), j).await });
            let _ = rt.block_on(t).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
    }
}
