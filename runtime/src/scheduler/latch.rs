//! [`CountLatch`]: waits for a group of tasks (the blocking scope's
//! children) to finish.
//!
//! # Protocol
//!
//! `count` is the number of unfinished members. `wait_async` checks the
//! count and stores its waker under `waker`'s lock; the decrement that
//! reaches zero takes the same lock before waking. So either the waiter sees
//! zero, or the last decrement sees the waiter's waker: no lost wake-up.
//! Every member holds its own clone of the `Arc`, so the final decrement
//! never touches freed memory even if the waiter returns at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// A countdown latch; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct CountLatch {
    /// Shared with every member.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Unfinished members.
    count: AtomicUsize,
    /// The waiter, if it is waiting.
    waker: Mutex<Option<Waker>>,
}

impl CountLatch {
    /// A latch with no members (already open).
    pub(crate) fn new() -> CountLatch {
        CountLatch {
            inner: Arc::new(Inner {
                count: AtomicUsize::new(0),
                waker: Mutex::new(None),
            }),
        }
    }

    /// Adds a member. Must happen before the matching `decrement`.
    pub(crate) fn increment(&self) {
        self.inner.count.fetch_add(1, Ordering::Relaxed);
    }

    /// A member finished. The last one wakes the waiter.
    pub(crate) fn decrement(&self) {
        let prev = self.inner.count.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(prev > 0, "latch decremented below zero");
        if prev == 1 {
            let waker = crate::loom::lock(&self.inner.waker).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// True when every member finished.
    pub(crate) fn is_open(&self) -> bool {
        self.inner.count.load(Ordering::Acquire) == 0
    }

    /// Resolves when every member finished.
    pub(crate) fn wait_async(&self) -> Wait<'_> {
        Wait { latch: self }
    }

    /// Blocks until every member finished. On a tether worker, the worker
    /// first hands its core to another thread, which keeps running the
    /// runtime's tasks.
    pub(crate) fn wait(&self) {
        if self.is_open() {
            return;
        }
        super::block_on_nested(self.wait_async());
    }
}

/// Future returned by [`CountLatch::wait_async`].
#[derive(Debug)]
pub(crate) struct Wait<'a> {
    /// The latch waited on.
    latch: &'a CountLatch,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.latch.inner;
        let mut slot = crate::loom::lock(&inner.waker);
        if inner.count.load(Ordering::Acquire) == 0 {
            return Poll::Ready(());
        }
        match slot.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    struct CountWake(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for CountWake {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The last decrement racing with the waiter's registration never loses
    /// the wake-up, and the waiter never sees the latch open early.
    #[test]
    fn loom_count_latch_no_lost_wakeup() {
        loom::model(|| {
            let latch = CountLatch::new();
            latch.increment();
            latch.increment();
            let mut ts = Vec::new();
            for _ in 0..2 {
                let l = latch.clone();
                ts.push(thread::spawn(move || l.decrement()));
            }
            let wake = std::sync::Arc::new(CountWake(std::sync::atomic::AtomicUsize::new(0)));
            let waker = Waker::from(wake.clone());
            let mut wait = latch.wait_async();
            let first = Pin::new(&mut wait).poll(&mut Context::from_waker(&waker));
            for t in ts {
                t.join().unwrap();
            }
            if first.is_pending() {
                assert_eq!(wake.0.load(std::sync::atomic::Ordering::SeqCst), 1);
            }
            assert!(latch.is_open());
        });
    }
}
