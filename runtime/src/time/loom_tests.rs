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
        // The far timer in the first shard, the racing one in the last.
        let (first, last) = (handle.shard(0), handle.shard(shards - 1));
        let far = first.register(hour, std::task::Waker::noop()).unwrap();

        let soon = Instant::now() + Duration::from_secs(10);
        let registrant = {
            let last = last.clone();
            thread::spawn(move || last.register(soon, std::task::Waker::noop()).unwrap())
        };
        let planned = handle.next_expiration().unwrap();
        let key = registrant.join().unwrap();

        let saw_it = planned <= soon + Duration::from_millis(1);
        let unparked = unpark.0.load(SeqCst) > 0;
        assert!(
            saw_it || unparked,
            "a timer earlier than the plan was missed"
        );

        last.deregister(key);
        first.deregister(far);
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
        let far = handle
            .shard(0)
            .register(hour, std::task::Waker::noop())
            .unwrap();
        assert!(handle.next_expiration().is_some());
        assert_eq!(unpark.0.load(SeqCst), 0);

        let threads: Vec<_> = [(0, 10), (1, 20)]
            .into_iter()
            .map(|(shard, secs)| {
                let shard = handle.shard(shard);
                let at = Instant::now() + Duration::from_secs(secs);
                thread::spawn(move || {
                    let key = shard.register(at, std::task::Waker::noop()).unwrap();
                    (shard, key)
                })
            })
            .collect();
        let keys: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let unparks = unpark.0.load(SeqCst);
        assert!((1..=2).contains(&unparks), "{unparks} unparks");

        for (shard, key) in keys {
            shard.deregister(key);
        }
        handle.shard(0).deregister(far);
    });
}
