//! Regression test: a helper forked by the owner's loop of a standby
//! session must not linger on the owner's loop while the owner waits for
//! that very helper.
//!
//! The shape (found by a stall of `chaos.rs`): a session starts with a
//! standby helper; a worker takes it while the owner's loop is inside a
//! long poll, finds nothing to do and gives up lingering (after
//! `LINGER_MAX_IDLE_SLEEPS`). The owner's loop then finds more ready than it
//! can poll and forks a second helper (the standby reservation is free
//! again). That helper lingers "while the owner's loop runs" (`owner_loop`),
//! but the owner's loop is now waiting in the fork's join for the helper:
//! neither ends until the session's re-poll budget is spent or the helper
//! sees 250 idle sleeps in a row, which a child that ticks every few
//! milliseconds never allows. Meanwhile the owner's task (a server's accept,
//! here the join set's own completions) waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tether::ScopedJoinSet;
use tether::runtime::Builder;

/// A waker slot shared with whoever triggers a child.
type Slot = Arc<Mutex<Option<Waker>>>;

/// Pending until woken through `slot`, then ready after a short poll (long
/// enough for a worker woken for a helper to take it).
struct Gate {
    slot: Slot,
    polled: bool,
}

impl Future for Gate {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            std::thread::sleep(Duration::from_millis(30));
            return Poll::Ready(());
        }
        self.polled = true;
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// First poll: waits for `slot`. Second poll: a long poll (`block`), at
/// whose end it wakes `then` (several siblings at once); then pending for
/// good.
struct Long {
    slot: Slot,
    then: Vec<Slot>,
    block: Duration,
    polls: u32,
}

impl Future for Long {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        match self.polls {
            1 => *self.slot.lock().unwrap() = Some(cx.waker().clone()),
            2 => {
                std::thread::sleep(self.block);
                wake_all(&self.then);
            }
            _ => {}
        }
        Poll::Pending
    }
}

/// First poll: waits for `slot`. Second poll: wakes `then` in order (so
/// they are queued in that order during the session), then is done.
struct Trigger {
    slot: Slot,
    then: Vec<Slot>,
    polled: bool,
}

impl Future for Trigger {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            wake_all(&self.then);
            return Poll::Ready(());
        }
        self.polled = true;
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn slot() -> Slot {
    Arc::new(Mutex::new(None))
}

/// Wakes the children registered in `slots`, in order.
fn wake_all(slots: &[Slot]) {
    for s in slots {
        if let Some(w) = s.lock().unwrap().take() {
            w.wake();
        }
    }
}

#[test]
fn a_helper_forked_by_the_owners_loop_does_not_linger_on_it() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let trigger_slot = slot();
    let long_slot = slot();
    let short_slot = slot();
    let burst: Vec<Slot> = (0..2).map(|_| slot()).collect();
    let first_session_done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let task = {
        let (trigger_slot, long_slot, short_slot, burst, first_session_done) = (
            trigger_slot.clone(),
            long_slot.clone(),
            short_slot.clone(),
            burst.clone(),
            first_session_done.clone(),
        );
        rt.spawn(async move {
            let mut set = ScopedJoinSet::new();
            // Many idle children: a large re-poll budget (16 per child),
            // as a server's set of idle connections gives.
            for _ in 0..1000 {
                set.spawn(std::future::pending::<()>());
            }
            // A child that ticks every few milliseconds once the burst is
            // over (a lingering client): the helper never sees a long
            // idle stretch.
            set.spawn(async {
                tether::time::sleep(Duration::from_millis(900)).await;
                loop {
                    tether::time::sleep(Duration::from_millis(3)).await;
                }
            });
            // Woken from outside: wakes the long child, then a short one, so
            // that the owner's loop (which takes the long one) finds more
            // ready than it polls and wakes a worker for the standby helper.
            set.spawn(Trigger {
                slot: trigger_slot,
                then: vec![long_slot.clone(), short_slot.clone()],
                polled: false,
            });
            set.spawn(std::future::poll_fn({
                let short_slot = short_slot.clone();
                let mut polled = false;
                move |cx| {
                    if polled {
                        return Poll::Pending;
                    }
                    polled = true;
                    *short_slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }));
            set.spawn(Long {
                slot: long_slot,
                then: burst.clone(),
                block: Duration::from_millis(700),
                polls: 0,
            });
            for s in burst {
                set.spawn(Gate {
                    slot: s,
                    polled: false,
                });
            }
            // The first session polls every child once (long enough for the
            // next one to wake a worker for its standby helper).
            let mut next = std::pin::pin!(set.join_next());
            let first = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "no child is done yet");
            first_session_done.store(true, SeqCst);
            // Ends when a burst child completes, i.e. when the session that
            // polled it ends.
            let r = next.await;
            tx.send(Instant::now()).unwrap();
            r
        })
    };
    while !first_session_done.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    let woken = Instant::now();
    if let Some(w) = trigger_slot.lock().unwrap().take() {
        w.wake();
    }
    // The session: the long poll (700 ms), then the burst, then the end.
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(done) => {
            // Not a speed goal: the session's own sleeps take about 0.75 s;
            // a stuck one ends (if at all) only when another thread's
            // timing breaks the circle, seconds later.
            let took = done - woken;
            assert!(took < Duration::from_secs(3), "the session took {took:?}");
            rt.block_on(task).unwrap().unwrap().unwrap();
        }
        Err(_) => {
            // The runtime cannot be dropped while the session is stuck
            // (its drop joins the workers): leak it and fail.
            std::mem::forget(rt);
            panic!("the session did not end within 5 s of the long poll's wake");
        }
    }
}
