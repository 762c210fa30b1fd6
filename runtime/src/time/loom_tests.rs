//! Loom models of the timer driver's wake-up protocol: a timer registered
//! concurrently with the driver computing its timeout is never missed.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p tether --lib --release loom_time`

use std::time::{Duration, Instant};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use super::driver::Handle;
use crate::park::Unpark;

/// Counts unparks.
#[derive(Default)]
struct CountUnpark(AtomicUsize);

impl Unpark for CountUnpark {
    fn unpark(&self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Sets up a driver with a timer an hour away (so it plans a long block),
/// then races `next_expiration` against registering a timer due in `soon`.
/// Either the driver's computed expiration covers the new timer, or the
/// driver was unparked.
fn race_registration_with_planning(shards: usize) {
    loom::model(move || {
        let unpark = std::sync::Arc::new(CountUnpark::default());
        let handle = Handle::with_shards(unpark.clone(), shards);
        let hour = Instant::now() + Duration::from_secs(3600);
        let far = handle.register(hour, std::task::Waker::noop()).unwrap();

        let soon = Instant::now() + Duration::from_secs(10);
        let registrant = {
            let handle = handle.clone();
            thread::spawn(move || handle.register(soon, std::task::Waker::noop()).unwrap())
        };
        let planned = handle.next_expiration().unwrap();
        let key = registrant.join().unwrap();

        let saw_it = planned <= soon + Duration::from_millis(1);
        let unparked = unpark.0.load(SeqCst) > 0;
        assert!(
            saw_it || unparked,
            "a timer earlier than the plan was missed"
        );

        handle.deregister(key);
        handle.deregister(far);
    });
}

#[test]
fn loom_time_registration_vs_planning_one_shard() {
    race_registration_with_planning(1);
}

#[test]
fn loom_time_registration_vs_planning_two_shards() {
    race_registration_with_planning(2);
}

/// Two registrations race while the driver is blocked: the earlier of the
/// two timers must have caused an unpark, however they interleave.
#[test]
fn loom_time_two_registrations_while_parked() {
    loom::model(|| {
        let unpark = std::sync::Arc::new(CountUnpark::default());
        let handle = Handle::with_shards(unpark.clone(), 2);
        let hour = Instant::now() + Duration::from_secs(3600);
        let far = handle.register(hour, std::task::Waker::noop()).unwrap();
        assert!(handle.next_expiration().is_some());
        assert_eq!(unpark.0.load(SeqCst), 0);

        let threads: Vec<_> = [10, 20]
            .into_iter()
            .map(|secs| {
                let handle = handle.clone();
                let at = Instant::now() + Duration::from_secs(secs);
                thread::spawn(move || handle.register(at, std::task::Waker::noop()).unwrap())
            })
            .collect();
        let keys: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let unparks = unpark.0.load(SeqCst);
        assert!((1..=2).contains(&unparks), "{unparks} unparks");

        for key in keys {
            handle.deregister(key);
        }
        handle.deregister(far);
    });
}
