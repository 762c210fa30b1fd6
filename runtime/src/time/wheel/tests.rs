//! Unit tests of the wheel, without a runtime or a clock.

use std::collections::BTreeMap;

use super::level::{HORIZON_MASK, LEVEL_BITS};
use super::*;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Scales iteration counts down under Miri, which is ~1000× slower.
fn scaled(n: usize) -> usize {
    if cfg!(miri) { n / 100 } else { n }
}

fn drain_ready<T>(wheel: &mut Wheel<T>) -> Vec<T> {
    std::iter::from_fn(|| wheel.pop_ready()).collect()
}

#[test]
fn level_math() {
    assert_eq!(level_for(0, 1), Some(0));
    assert_eq!(level_for(0, 63), Some(0));
    assert_eq!(level_for(0, 64), Some(1));
    assert_eq!(level_for(63, 64), Some(1));
    assert_eq!(level_for(64, 127), Some(0));
    assert_eq!(level_for(0, 4095), Some(1));
    assert_eq!(level_for(0, 4096), Some(2));
    assert_eq!(level_for(0, HORIZON_MASK), Some(NUM_LEVELS - 1));
    assert_eq!(level_for(0, HORIZON_MASK + 1), None);
    // Crossing into the next horizon-sized block is overflow, however near.
    assert_eq!(level_for(HORIZON_MASK, HORIZON_MASK + 1), None);
    assert_eq!(level_for(HORIZON_MASK + 1, HORIZON_MASK + 2), Some(0));
    assert_eq!(slot_for(64 * 5 + 3, 0), 3);
    assert_eq!(slot_for(64 * 5 + 3, 1), 5);
    assert_eq!(slot_start(70, 0, 9), 64 + 9);
    assert_eq!(slot_start(70, 1, 9), 9 * 64);
    assert_eq!(slot_start(5000, 1, 2), 4096 + 128);
    assert_eq!(overflow_start(5), HORIZON_MASK + 1);
    assert_eq!(LEVEL_BITS as usize * NUM_LEVELS, 36);
}

#[test]
fn due_or_past_deadline_is_refused() {
    let mut wheel = Wheel::new();
    assert_eq!(wheel.insert(0, "now"), Err("now"));
    wheel.advance(100);
    assert_eq!(wheel.insert(100, "at clock"), Err("at clock"));
    assert_eq!(wheel.insert(3, "past"), Err("past"));
    assert!(wheel.insert(101, "next").is_ok());
    assert_eq!(wheel.len(), 1);
}

#[test]
fn entry_fires_exactly_at_its_tick() {
    for when in [1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 300_000, 1 << 30] {
        let mut wheel = Wheel::new();
        let key = wheel.insert(when, when).unwrap();
        assert_eq!(wheel.next_expiration(), Some(when), "when = {when}");
        wheel.advance(when - 1);
        wheel.check_invariants();
        assert_eq!(wheel.pop_ready(), None, "fired early: when = {when}");
        assert!(wheel.contains(key));
        assert_eq!(wheel.next_expiration(), Some(when));
        wheel.advance(when);
        wheel.check_invariants();
        assert_eq!(wheel.next_expiration(), Some(when));
        assert_eq!(wheel.pop_ready(), Some(when));
        assert!(!wheel.contains(key));
        assert_eq!(wheel.next_expiration(), None);
        assert_eq!(wheel.len(), 0);
    }
}

#[test]
fn late_advance_fires_everything_due_in_deadline_order() {
    let mut wheel = Wheel::new();
    let whens = [4097, 5, 64, 70_000, 63, 300, 4096, 1, 262_145];
    for w in whens {
        wheel.insert(w, w).unwrap();
    }
    wheel.advance(70_000);
    wheel.check_invariants();
    let fired = drain_ready(&mut wheel);
    let mut expected: Vec<u64> = whens.iter().copied().filter(|&w| w <= 70_000).collect();
    expected.sort_unstable();
    assert_eq!(fired, expected);
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.next_expiration(), Some(262_145));
}

#[test]
fn entries_cross_every_level_boundary() {
    // Deadlines just before, at and after each level's span, inserted at
    // a clock that is not aligned to anything.
    let start = 1_234_567;
    let mut wheel = Wheel::new();
    wheel.advance(start);
    let mut whens = Vec::new();
    for level in 0..=NUM_LEVELS as u32 {
        let span = 1u64 << (LEVEL_BITS * level);
        for d in [span - 1, span, span + 1] {
            if d > 0 {
                whens.push(start + d);
            }
        }
    }
    for &w in &whens {
        wheel.insert(w, w).unwrap();
    }
    wheel.check_invariants();
    whens.sort_unstable();
    whens.dedup();
    // Jump from deadline to deadline: each fires exactly when reached.
    for &w in &whens {
        assert_eq!(wheel.next_expiration(), Some(w));
        wheel.advance(w - 1);
        assert_eq!(wheel.pop_ready(), None, "fired before {w}");
        wheel.advance(w);
        wheel.check_invariants();
        assert_eq!(drain_ready(&mut wheel), vec![w]);
    }
    assert_eq!(wheel.len(), 0);
}

#[test]
fn next_expiration_is_exact_without_removals() {
    let mut rng = Rng(0x1234_5678);
    let mut wheel = Wheel::new();
    let mut min = u64::MAX;
    for _ in 0..scaled(2_000) {
        let when = 1 + rng.below(1 << 40);
        wheel.insert(when, ()).unwrap();
        min = min.min(when);
        assert_eq!(wheel.next_expiration(), Some(min));
    }
}

#[test]
fn next_expiration_is_a_lower_bound_after_removals() {
    let mut rng = Rng(99);
    let mut wheel = Wheel::new();
    let mut live = BTreeMap::new();
    for i in 0..scaled(5_000) {
        let when = 1 + rng.below(1 << 20);
        let key = wheel.insert(when, ()).unwrap();
        live.insert((when, i), key);
        if rng.below(3) == 0 {
            let (&k, &key) = live
                .iter()
                .nth(rng.below(live.len() as u64) as usize)
                .unwrap();
            wheel.remove(key).unwrap();
            live.remove(&k);
        }
        let earliest = live.keys().next().map(|&(w, _)| w);
        let next = wheel.next_expiration();
        assert!(next <= earliest, "{next:?} after the earliest {earliest:?}");
        assert_eq!(next.is_some(), earliest.is_some());
    }
}

#[test]
fn huge_deadlines_wait_in_overflow_and_fire_exactly() {
    let mut wheel = Wheel::new();
    let beyond = HORIZON_MASK + 5;
    let far = 3 * (HORIZON_MASK + 1) + 17;
    wheel.insert(beyond, "beyond").unwrap();
    wheel.insert(far, "far").unwrap();
    let max = wheel.insert(u64::MAX, "max").unwrap();
    assert_eq!(wheel.when(max), Some(MAX_TICK), "clamped to MAX_TICK");
    wheel.check_invariants();
    assert_eq!(wheel.next_expiration(), Some(beyond));

    wheel.advance(beyond - 1);
    wheel.check_invariants();
    assert_eq!(wheel.pop_ready(), None);
    wheel.advance(beyond);
    assert_eq!(drain_ready(&mut wheel), vec!["beyond"]);

    // Re-placed on the overflow list at each horizon until it is in reach.
    wheel.advance(far - 1);
    wheel.check_invariants();
    assert_eq!(wheel.pop_ready(), None);
    assert_eq!(wheel.next_expiration(), Some(far));
    wheel.advance(far);
    assert_eq!(drain_ready(&mut wheel), vec!["far"]);

    wheel.advance(u64::MAX);
    assert_eq!(wheel.elapsed(), MAX_TICK);
    assert_eq!(drain_ready(&mut wheel), vec!["max"]);
    // At the end of time every new timer is due at once.
    assert_eq!(wheel.insert(u64::MAX, "late"), Err("late"));
}

#[test]
fn removal_frees_slots_and_bits() {
    let mut rng = Rng(7);
    let mut wheel = Wheel::new();
    let keys: Vec<Key> = (0..scaled(10_000))
        .map(|_| wheel.insert(1 + rng.below(1 << 38), ()).unwrap())
        .collect();
    assert_eq!(wheel.len(), keys.len());
    for &key in keys.iter().rev().step_by(2) {
        assert_eq!(wheel.remove(key), Some(()));
        assert_eq!(wheel.remove(key), None, "second removal is a no-op");
    }
    wheel.check_invariants();
    for &key in &keys {
        wheel.remove(key);
    }
    wheel.check_invariants();
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_expiration(), None);
    assert!(wheel.levels.iter().all(|l| l.occupied == 0));
    assert!(wheel.overflow.is_empty());
}

#[test]
fn stale_key_never_touches_a_reused_entry() {
    let mut wheel = Wheel::new();
    let old = wheel.insert(10, "old").unwrap();
    assert_eq!(wheel.remove(old), Some("old"));
    let new = wheel.insert(20, "new").unwrap();
    assert_eq!(old.index, new.index, "the slab reuses the index");
    assert!(!wheel.contains(old));
    assert_eq!(wheel.get_mut(old), None);
    assert_eq!(wheel.remove(old), None);
    assert_eq!(wheel.get_mut(new), Some(&mut "new"));

    // Also after firing: a fired key does not see its successor.
    wheel.advance(20);
    assert_eq!(wheel.pop_ready(), Some("new"));
    let newer = wheel.insert(30, "newer").unwrap();
    assert_eq!(newer.index, new.index);
    assert_eq!(wheel.remove(new), None);
    assert!(wheel.contains(newer));
}

#[test]
fn ready_entries_can_still_be_removed() {
    let mut wheel = Wheel::new();
    let a = wheel.insert(5, 'a').unwrap();
    let b = wheel.insert(5, 'b').unwrap();
    let c = wheel.insert(6, 'c').unwrap();
    wheel.advance(10);
    assert_eq!(wheel.remove(b), Some('b'));
    wheel.check_invariants();
    assert!(wheel.contains(a) && wheel.contains(c));
    assert_eq!(drain_ready(&mut wheel), vec!['a', 'c']);
    assert_eq!(wheel.len(), 0);
}

#[test]
fn advance_backwards_is_ignored() {
    let mut wheel = Wheel::new();
    wheel.advance(1000);
    wheel.insert(1500, ()).unwrap();
    wheel.advance(10);
    assert_eq!(wheel.elapsed(), 1000);
    assert_eq!(wheel.pop_ready(), None);
    wheel.check_invariants();
}

#[test]
fn many_random_entries_fire_in_deadline_order_buckets() {
    let n = scaled(100_000);
    let mut rng = Rng(0xdead_beef);
    let mut wheel = Wheel::new();
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        // Spread over ~5 levels, clustered near the start like real sleeps.
        let bits = 8 + rng.below(22);
        let when = 1 + rng.below(1 << bits);
        keys.push(wheel.insert(when, (when, i)).unwrap());
    }
    wheel.check_invariants();
    let mut fired = vec![false; n];
    let mut fired_count = 0;
    let mut prev_now = 0;
    while wheel.len() > 0 {
        let next = wheel.next_expiration().unwrap();
        assert!(next > prev_now);
        // Advance by a random step, sometimes exactly to the next deadline.
        let now = if rng.below(2) == 0 {
            next
        } else {
            prev_now + 1 + rng.below(1 << 16)
        };
        wheel.advance(now);
        let mut last_when = 0;
        while let Some((when, i)) = wheel.pop_ready() {
            assert!(when <= now, "fired {when} at {now}: early");
            assert!(
                when > prev_now,
                "fired {when} at {now}: missed at {prev_now}"
            );
            assert!(when >= last_when, "out of order within a bucket");
            last_when = when;
            assert!(!std::mem::replace(&mut fired[i], true), "fired twice");
            fired_count += 1;
        }
        if rng.below(64) == 0 {
            wheel.check_invariants();
        }
        prev_now = now;
    }
    assert_eq!(fired_count, n);
    assert!(keys.iter().all(|&k| !wheel.contains(k)));
}

#[test]
fn random_operations_match_a_reference_model() {
    let mut rng = Rng(42);
    let mut wheel = Wheel::new();
    // (when, id) -> key: what should be pending.
    let mut model: BTreeMap<(u64, u64), Key> = BTreeMap::new();
    let mut next_id = 0;
    for step in 0..scaled(200_000) {
        match rng.below(10) {
            0..=5 => {
                let horizon = [64, 4096, 1 << 20, 1 << 40][rng.below(4) as usize];
                let when = wheel.elapsed() + rng.below(horizon);
                match wheel.insert(when, next_id) {
                    Ok(key) => {
                        model.insert((when, next_id), key);
                    }
                    Err(id) => assert!(when <= wheel.elapsed() && id == next_id),
                }
                next_id += 1;
            }
            6..=7 if !model.is_empty() => {
                let k = *model
                    .keys()
                    .nth(rng.below(model.len() as u64) as usize)
                    .unwrap();
                let key = model.remove(&k).unwrap();
                assert_eq!(wheel.remove(key), Some(k.1));
            }
            _ => {
                let bits = rng.below(24);
                let now = wheel.elapsed() + rng.below(1 << bits);
                wheel.advance(now);
                let mut fired = Vec::new();
                while let Some(id) = wheel.pop_ready() {
                    fired.push(id);
                }
                let due: Vec<(u64, u64)> = model.range(..(now + 1, 0)).map(|(&k, _)| k).collect();
                for k in &due {
                    model.remove(k);
                }
                let mut expected: Vec<u64> = due.iter().map(|&(_, id)| id).collect();
                let mut got = fired.clone();
                expected.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, expected, "step {step}: wrong timers fired at {now}");
            }
        }
        assert_eq!(wheel.len(), model.len());
        let earliest = model.keys().next().map(|&(w, _)| w);
        assert!(wheel.next_expiration() <= earliest);
        if step % 1024 == 0 {
            wheel.check_invariants();
        }
    }
    wheel.check_invariants();
}

#[test]
fn horizon_boundary_is_crossed_through_overflow() {
    // At the last tick of a horizon block even the next tick overflows; it
    // must still fire exactly on time.
    let mut wheel = Wheel::new();
    wheel.advance(HORIZON_MASK - 1);
    wheel.insert(HORIZON_MASK + 1, "next block").unwrap();
    wheel.advance(HORIZON_MASK);
    wheel.check_invariants();
    assert_eq!(wheel.pop_ready(), None);
    wheel
        .insert(HORIZON_MASK + 1, "inserted at the edge")
        .unwrap();
    wheel.insert(HORIZON_MASK + 2, "one later").unwrap();
    wheel.check_invariants();
    assert_eq!(wheel.next_expiration(), Some(HORIZON_MASK + 1));
    wheel.advance(HORIZON_MASK + 1);
    wheel.check_invariants();
    assert_eq!(
        drain_ready(&mut wheel),
        vec!["next block", "inserted at the edge"]
    );
    wheel.advance(HORIZON_MASK + 2);
    assert_eq!(drain_ready(&mut wheel), vec!["one later"]);
}
