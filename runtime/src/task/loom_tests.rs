//! Loom models of the task state word: concurrent wake, poll, abort,
//! JoinHandle poll and JoinHandle drop.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p tether --lib --release loom_`

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::{JoinHandle, Notified, OwnedTasks, Schedule, Task};

struct Queue {
    queue: Mutex<VecDeque<Notified>>,
    owned: OwnedTasks,
}

impl Schedule for Arc<Queue> {
    fn schedule(&self, task: Notified, _is_yield: bool) {
        self.queue.lock().unwrap().push_back(task);
    }
    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }
}

fn new_queue() -> Arc<Queue> {
    Arc::new(Queue {
        queue: Mutex::new(VecDeque::new()),
        owned: OwnedTasks::new(),
    })
}

fn spawn<F>(q: &Arc<Queue>, f: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    // SAFETY: 'static future.
    // SAFETY: 'static future.
    unsafe { q.owned.spawn(f, q) }
}

fn run_all(q: &Queue) {
    loop {
        let task = q.queue.lock().unwrap().pop_front();
        match task {
            Some(t) => t.run(),
            None => return,
        }
    }
}

/// Counts drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Pending until `ready` is set; hands its waker out through `slot`.
struct Gate {
    slot: Arc<Mutex<Option<Waker>>>,
    ready: Arc<AtomicUsize>,
    _counted: Counted,
}

impl Future for Gate {
    type Output = Counted;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Counted> {
        if self.ready.load(SeqCst) == 1 {
            return Poll::Ready(Counted(self._counted.0.clone()));
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        if self.ready.load(SeqCst) == 1 {
            return Poll::Ready(Counted(self._counted.0.clone()));
        }
        Poll::Pending
    }
}

struct CountWake(AtomicUsize);
impl std::task::Wake for CountWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn loom_wake_poll_abort_race() {
    loom::model(|| {
        let q = new_queue();
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new(None));
        let ready = Arc::new(AtomicUsize::new(0));
        let join = spawn(
            &q,
            Gate {
                slot: slot.clone(),
                ready: ready.clone(),
                _counted: Counted(drops.clone()),
            },
        );
        run_all(&q); // first poll: pending, waker stored

        let waker = slot.lock().unwrap().take().unwrap();
        let r2 = ready.clone();
        let waker_thread = thread::spawn(move || {
            r2.store(1, SeqCst);
            waker.wake();
        });
        let abort = join.abort_handle();
        let abort_thread = thread::spawn(move || abort.abort());
        let q2 = q.clone();
        let runner = thread::spawn(move || run_all(&q2));

        waker_thread.join().unwrap();
        abort_thread.join().unwrap();
        runner.join().unwrap();
        run_all(&q);

        assert!(join.is_finished());
        drop(join);
        drop(slot.lock().unwrap().take());
        // The future (and the output if produced) were dropped exactly once
        // each: future's Counted + (maybe) output Counted.
        let n = drops.load(SeqCst);
        assert!(n == 1 || n == 2, "drops = {n}");
        assert_eq!(q.owned.len(), 0);
    });
}

#[test]
fn loom_join_handle_drop_vs_complete() {
    loom::model(|| {
        let q = new_queue();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let join = spawn(&q, async move { Counted(d) });
        let q2 = q.clone();
        let runner = thread::spawn(move || run_all(&q2));
        drop(join);
        runner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "output dropped exactly once");
    });
}

#[test]
fn loom_join_waker_vs_complete() {
    loom::model(|| {
        let q = new_queue();
        let mut join = spawn(&q, async { 5 });
        let q2 = q.clone();
        let runner = thread::spawn(move || run_all(&q2));
        let wake = std::sync::Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(wake.clone());
        let first = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
        runner.join().unwrap();
        match first {
            Poll::Ready(v) => assert_eq!(v.unwrap(), 5),
            Poll::Pending => {
                // No lost wake-up: completion must have woken us.
                assert_eq!(wake.0.load(SeqCst), 1);
                let second = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
                assert!(matches!(second, Poll::Ready(Ok(5))));
            }
        }
    });
}

#[test]
fn loom_shutdown_vs_wake() {
    loom::model(|| {
        let q = new_queue();
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new(None));
        let join = spawn(
            &q,
            Gate {
                slot: slot.clone(),
                ready: Arc::new(AtomicUsize::new(0)),
                _counted: Counted(drops.clone()),
            },
        );
        run_all(&q);
        let waker = slot.lock().unwrap().take().unwrap();
        let q2 = q.clone();
        let t = thread::spawn(move || {
            waker.wake();
            run_all(&q2);
        });
        q.owned.close_and_shutdown();
        t.join().unwrap();
        run_all(&q);
        assert_eq!(drops.load(SeqCst), 1, "future dropped exactly once");
        assert!(join.is_finished());
    });
}
