//! Stress: many scopes and join sets on the multi-thread runtime, with
//! children that finish, yield, panic, get aborted or are dropped mid-flight.
//! Every child future must be dropped exactly once and every result that was
//! produced must be observed.

use std::sync::atomic::{AtomicUsize, Ordering};

use tether_tests::multi_thread;

/// Counts creations and drops of the values it is attached to.
struct Tracked<'a>(&'a Counters);

#[derive(Default)]
struct Counters {
    created: AtomicUsize,
    dropped: AtomicUsize,
    finished: AtomicUsize,
}

impl<'a> Tracked<'a> {
    fn new(c: &'a Counters) -> Self {
        c.created.fetch_add(1, Ordering::SeqCst);
        Tracked(c)
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A cheap deterministic pseudo-random sequence (xorshift).
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

const ROUNDS: usize = 200;
const CHILDREN: usize = 40;

#[test]
fn join_sets_with_panics_aborts_and_drops() {
    let rt = multi_thread(2);
    let counters = Counters::default();
    let c = &counters;
    let mut produced = 0usize;
    let mut observed = 0usize;
    rt.scope(|bs| {
        let produced = &mut produced;
        let observed = &mut observed;
        bs.spawn(async move {
            let mut seed = 0x2545_F491_4F6C_DD1D;
            for round in 0..ROUNDS {
                let mut set = tether::ScopedJoinSet::new();
                for i in 0..CHILDREN {
                    let kind = next(&mut seed) % 5;
                    let t = Tracked::new(c);
                    set.spawn(async move {
                        let _t = t;
                        match kind {
                            0 => i,
                            1 => {
                                tether::yield_now().await;
                                i
                            }
                            2 => panic!("child {i} panics"),
                            3 => std::future::pending().await,
                            _ => {
                                for _ in 0..3 {
                                    tether::yield_now().await;
                                }
                                i
                            }
                        }
                    });
                }
                // Take a few results, then either abort the rest and drain,
                // or drop the set mid-flight.
                let mut results = 0;
                for _ in 0..CHILDREN / 4 {
                    let Some(r) = set.join_next().await else {
                        break;
                    };
                    results += 1;
                    match r {
                        Ok(_) => {
                            *observed += 1;
                            c.finished.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => assert!(e.is_panic()),
                    }
                }
                if round % 2 == 0 {
                    set.abort_all();
                    while let Some(r) = set.join_next().await {
                        results += 1;
                        match r {
                            Ok(_) => {
                                *observed += 1;
                                c.finished.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => assert!(e.is_cancelled() || e.is_panic()),
                        }
                    }
                    // Every child produced exactly one result.
                    assert_eq!(results, CHILDREN);
                    assert!(set.is_empty());
                }
                *produced = c.finished.load(Ordering::SeqCst);
                drop(set);
            }
        });
    });
    assert_eq!(produced, observed);
    let created = counters.created.load(Ordering::SeqCst);
    assert_eq!(created, ROUNDS * CHILDREN);
    assert_eq!(
        counters.dropped.load(Ordering::SeqCst),
        created,
        "every child dropped once"
    );
}

#[test]
fn scopes_dropped_mid_flight_and_nested() {
    let rt = multi_thread(2);
    let counters = Counters::default();
    let c = &counters;
    rt.scope(|bs| {
        for task in 0..4u64 {
            bs.spawn(async move {
                let mut seed = 0x9E37_79B9_7F4A_7C15 ^ task;
                for _ in 0..ROUNDS / 4 {
                    let stop_after = (next(&mut seed) % 4) as usize;
                    let scope = tether::scope(|s| async move {
                        for _ in 0..CHILDREN {
                            let t = Tracked::new(c);
                            let s2 = s.clone();
                            s.spawn(async move {
                                let _t = t;
                                tether::yield_now().await;
                                // A grandchild in a nested scope.
                                tether::scope(|inner| async move {
                                    let t = Tracked::new(c);
                                    inner.spawn(async move {
                                        let _t = t;
                                        tether::yield_now().await;
                                    });
                                })
                                .await;
                                let t = Tracked::new(c);
                                s2.spawn(async move {
                                    let _t = t;
                                    std::future::pending::<()>().await;
                                });
                            });
                        }
                        std::future::pending::<()>().await;
                    });
                    // Poll the scope a few times, then drop it mid-flight.
                    let mut scope = std::pin::pin!(scope);
                    for _ in 0..stop_after {
                        let _ = futures::poll!(scope.as_mut());
                        tether::yield_now().await;
                    }
                }
            });
        }
    });
    let created = counters.created.load(Ordering::SeqCst);
    assert!(created >= CHILDREN);
    assert_eq!(
        counters.dropped.load(Ordering::SeqCst),
        created,
        "every child dropped once"
    );
}
