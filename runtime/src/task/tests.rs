//! Task-core tests against a minimal queue scheduler, without a runtime, so
//! they run under Miri (`cargo +nightly miri test -p tether task::`), which
//! also checks that every reference is released (no leaks).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::task::{ArcWake, noop_waker};

use super::{JoinHandle, Notified, OwnedTasks, Schedule, Task};

#[derive(Default)]
struct Queue {
    /// Submitted tasks, with their `is_yield` flag.
    queue: Mutex<VecDeque<(Notified, bool)>>,
    owned: OwnedTasksCell,
}

struct OwnedTasksCell(OwnedTasks);
impl Default for OwnedTasksCell {
    fn default() -> Self {
        OwnedTasksCell(OwnedTasks::new())
    }
}

impl Schedule for Arc<Queue> {
    fn schedule(&self, task: Notified, is_yield: bool) {
        self.queue.lock().unwrap().push_back((task, is_yield));
    }
    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.0.remove(task)
    }
}

impl Queue {
    fn spawn<F>(self: &Arc<Self>, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        // SAFETY: the future is 'static.
        unsafe { self.owned.0.spawn(f, self) }
    }

    fn pop(&self) -> Option<(Notified, bool)> {
        self.queue.lock().unwrap().pop_front()
    }

    /// Runs queued tasks until the queue is empty; returns how many polls.
    fn run(&self) -> usize {
        let mut n = 0;
        while let Some((t, _)) = self.pop() {
            t.run();
            n += 1;
        }
        n
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Counts drops of the value it is embedded in.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);
impl ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, SeqCst);
    }
}

/// A future that is pending once, handing its waker out, then ready.
struct PendingOnce {
    slot: Arc<Mutex<Option<Waker>>>,
    polled: bool,
}
impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            Poll::Ready(())
        } else {
            self.polled = true;
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn spawn_run_join() {
    let q = Arc::new(Queue::default());
    let mut join = q.spawn(async { 7 });
    assert_eq!(q.run(), 1);
    assert!(join.is_finished());
    let out = poll_once(&mut join, &noop_waker());
    assert!(matches!(out, Poll::Ready(Ok(7))));
    assert_eq!(q.owned.0.len(), 0);
}

#[test]
fn join_waker_is_woken_and_replaced() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let mut join = q.spawn(PendingOnce {
        slot: slot.clone(),
        polled: false,
    });
    let w1 = Arc::new(CountingWaker::default());
    let w2 = Arc::new(CountingWaker::default());
    assert!(poll_once(&mut join, &futures::task::waker(w1.clone())).is_pending());
    q.run();
    // Re-poll with a different waker: the stored one is replaced.
    assert!(poll_once(&mut join, &futures::task::waker(w2.clone())).is_pending());
    slot.lock().unwrap().take().unwrap().wake();
    q.run();
    assert_eq!(w1.0.load(SeqCst), 0);
    assert_eq!(w2.0.load(SeqCst), 1);
    assert!(poll_once(&mut join, &noop_waker()).is_ready());
}

#[test]
fn abort_before_first_poll_drops_future_once() {
    let q = Arc::new(Queue::default());
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let mut join = q.spawn(async move {
        let _g = guard;
        unreachable!("aborted task was polled");
    });
    join.abort();
    join.abort();
    q.run();
    assert_eq!(drops.load(SeqCst), 1);
    match poll_once(&mut join, &noop_waker()) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("expected cancellation, got {:?}", other.map(|r| r.is_ok())),
    }
}

#[test]
fn abort_idle_task_reschedules_and_cancels() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let fut = PendingOnce {
        slot: slot.clone(),
        polled: false,
    };
    let mut join = q.spawn(async move {
        let _g = guard;
        fut.await;
        std::future::pending::<()>().await;
    });
    q.run();
    assert_eq!(drops.load(SeqCst), 0);
    join.abort();
    assert_eq!(q.run(), 1, "abort submits the idle task once");
    assert_eq!(drops.load(SeqCst), 1);
    // A stale waker fired after cancellation does nothing.
    slot.lock().unwrap().take().unwrap().wake();
    assert_eq!(q.run(), 0);
    assert!(matches!(poll_once(&mut join, &noop_waker()), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn abort_while_running_cancels_after_poll() {
    let q = Arc::new(Queue::default());
    let handle_slot: Arc<Mutex<Option<super::AbortHandle>>> = Arc::new(Mutex::new(None));
    let hs = handle_slot.clone();
    let mut join = q.spawn(async move {
        // Abort ourselves mid-poll, then stay pending.
        hs.lock().unwrap().take().unwrap().abort();
        std::future::pending::<()>().await;
    });
    *handle_slot.lock().unwrap() = Some(join.abort_handle());
    q.run();
    assert!(matches!(poll_once(&mut join, &noop_waker()), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn panic_becomes_join_error() {
    let q = Arc::new(Queue::default());
    let mut join = q.spawn(async { panic!("task failed") });
    q.run();
    match poll_once(&mut join, &noop_waker()) {
        Poll::Ready(Err(e)) => {
            assert!(e.is_panic());
            assert!(e.to_string().contains("task failed"));
            assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "task failed");
        }
        _ => panic!("expected a panic error"),
    }
}

#[test]
fn detached_output_is_dropped_by_completer() {
    let q = Arc::new(Queue::default());
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let join = q.spawn(async move { DropCount(d) });
    drop(join);
    q.run();
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn unread_output_is_dropped_with_join_handle() {
    let q = Arc::new(Queue::default());
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let join = q.spawn(async move { DropCount(d) });
    q.run();
    assert_eq!(drops.load(SeqCst), 0);
    drop(join);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn waker_outlives_task_and_wakes_after_completion() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let join = q.spawn(PendingOnce {
        slot: slot.clone(),
        polled: false,
    });
    q.run();
    let waker = slot.lock().unwrap().take().unwrap();
    let spare = waker.clone();
    waker.wake_by_ref();
    q.run();
    drop(join);
    // Task complete and join handle gone; the last references are wakers.
    spare.wake_by_ref();
    waker.wake();
    assert_eq!(q.run(), 0);
    spare.wake();
}

#[test]
fn waker_dropped_without_wake() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let join = q.spawn(PendingOnce {
        slot: slot.clone(),
        polled: false,
    });
    q.run();
    drop(slot.lock().unwrap().take());
    drop(join);
    // The task is idle forever; shutdown reclaims it.
    assert_eq!(q.owned.0.len(), 1);
    q.owned.0.close_and_shutdown();
    assert_eq!(q.owned.0.len(), 0);
}

#[test]
fn self_wake_is_a_yield() {
    let q = Arc::new(Queue::default());
    let mut yielded = false;
    let join = q.spawn(std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    let (t, is_yield) = q.pop().unwrap();
    assert!(!is_yield);
    t.run();
    let (t, is_yield) = q.pop().unwrap();
    assert!(
        is_yield,
        "a task woken during its own poll is re-queued as a yield"
    );
    t.run();
    assert!(join.is_finished());
}

#[test]
fn wake_from_another_thread() {
    let q = Arc::new(Queue::default());
    let slot = Arc::new(Mutex::new(None));
    let mut join = q.spawn(PendingOnce {
        slot: slot.clone(),
        polled: false,
    });
    q.run();
    let waker = slot.lock().unwrap().take().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(q.run(), 1);
    assert!(matches!(
        poll_once(&mut join, &noop_waker()),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn shutdown_cancels_idle_and_queued_tasks() {
    let q = Arc::new(Queue::default());
    let drops = Arc::new(AtomicUsize::new(0));
    let mut joins = Vec::new();
    for _ in 0..10 {
        let g = DropCount(drops.clone());
        joins.push(q.spawn(async move {
            let _g = g;
            std::future::pending::<()>().await;
        }));
    }
    q.run(); // all idle now
    for _ in 0..5 {
        let g = DropCount(drops.clone());
        joins.push(q.spawn(async move {
            let _g = g;
        }));
    }
    // 5 queued, never run.
    q.owned.0.close_and_shutdown();
    assert_eq!(drops.load(SeqCst), 15);
    // The stale Notifieds in the queue are now no-ops.
    q.run();
    assert_eq!(drops.load(SeqCst), 15);
    for mut j in joins {
        assert!(
            matches!(poll_once(&mut j, &noop_waker()), Poll::Ready(Err(e)) if e.is_cancelled())
        );
    }
    // Spawning after shutdown gives a cancelled handle.
    let mut late = q.spawn(async {});
    assert_eq!(q.run(), 0);
    assert!(matches!(poll_once(&mut late, &noop_waker()), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
#[should_panic(expected = "polled after it returned")]
fn join_handle_polled_after_ready_panics() {
    let q = Arc::new(Queue::default());
    let mut join = q.spawn(async {});
    q.run();
    let _ = poll_once(&mut join, &noop_waker());
    let _ = poll_once(&mut join, &noop_waker());
}

/// Records its address when first polled and checks in `Drop` that it was
/// not moved since: a pinned future must be dropped where it was polled.
struct PinChecker {
    at: Option<usize>,
    moved: Arc<AtomicUsize>,
    _pin: std::marker::PhantomPinned,
}

impl Future for PinChecker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we only record the address; nothing is moved.
        let this = unsafe { self.get_unchecked_mut() };
        this.at = Some(this as *const PinChecker as usize);
        Poll::Pending
    }
}

impl Drop for PinChecker {
    fn drop(&mut self) {
        if let Some(at) = self.at
            && at != self as *const PinChecker as usize
        {
            self.moved.fetch_add(1, SeqCst);
        }
    }
}

#[test]
fn cancelled_future_is_dropped_in_place() {
    let q = Arc::new(Queue::default());
    let moved = Arc::new(AtomicUsize::new(0));
    let join = q.spawn(PinChecker {
        at: None,
        moved: moved.clone(),
        _pin: std::marker::PhantomPinned,
    });
    q.run();
    join.abort();
    q.run();
    let join2 = q.spawn(PinChecker {
        at: None,
        moved: moved.clone(),
        _pin: std::marker::PhantomPinned,
    });
    q.run();
    q.owned.0.close_and_shutdown();
    assert_eq!(
        moved.load(SeqCst),
        0,
        "a pinned future was moved before drop"
    );
    drop((join, join2));
}
