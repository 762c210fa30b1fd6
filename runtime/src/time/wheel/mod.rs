//! A hierarchical timing wheel: the pure data structure behind the timers.
//!
//! The wheel stores entries due at a tick (a millisecond count) and hands
//! them back once [`Wheel::advance`] moves its clock, `elapsed`, past their
//! tick. It knows nothing of wall-clock time, threads or wakers; the driver
//! (`time::driver`) supplies those.
//!
//! Layout: [`NUM_LEVELS`] levels of 64 slots (see `level.rs` for the slot
//! arithmetic), an overflow list for entries beyond the horizon, and a ready
//! list of due entries not yet handed out. Entries live in a [`Slab`] and
//! are threaded through those lists by index (`entry.rs`).
//!
//! Invariants (checked by `check_invariants` in the tests):
//!
//! * W1. Every entry on a wheel slot or the overflow list has
//!   `when > elapsed`, and is on the list `level_for(elapsed, when)` names,
//!   at slot `slot_for(when, level)`.
//! * W2. A level's occupancy bit for a slot is set iff that slot's list is
//!   non-empty; its `min_when` is at most the `when` of every entry in it.
//! * W3. Every entry on the ready list has `when <= elapsed`.
//! * W4. An entry's `generation` is unique over the wheel's lifetime, so a
//!   [`Key`] whose entry was removed (fired or cancelled) matches no entry,
//!   even after its slab index was reused.
//!
//! Costs: insert and remove are O(1); finding the next expiration is
//! O(levels) bit operations; each entry is moved between levels at most
//! [`NUM_LEVELS`] times before it is due, plus at most once per horizon
//! (about 795 days) while it waits on the overflow list; horizons with
//! nothing due are skipped.

mod entry;
mod level;
#[cfg(all(test, not(loom)))]
mod tests;

use slab::Slab;

use entry::{Entry, List, ListId, NIL};
use level::{HORIZON_MASK, Level, level_for, overflow_start, slot_for, slot_start};
pub(crate) use level::{MAX_TICK, NUM_LEVELS};

/// Names one registration in a [`Wheel`].
///
/// A key stays valid until its entry is removed or handed out by
/// [`Wheel::pop_ready`]; after that every lookup with it returns `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    /// Slab index of the entry.
    index: usize,
    /// Generation the entry had when the key was issued.
    generation: u64,
}

/// A hierarchical timing wheel holding one `T` per timer.
#[derive(Debug)]
pub(crate) struct Wheel<T> {
    /// The wheel's clock: every entry due at or before it has been moved to
    /// the ready list.
    elapsed: u64,
    /// The levels, lowest (finest) first.
    levels: Box<[Level; NUM_LEVELS]>,
    /// Entries due beyond the last level's span.
    overflow: List,
    /// Lower bound on the `when` of the overflow entries (`u64::MAX` if
    /// none).
    overflow_min: u64,
    /// Due entries, in the order they became due.
    ready: List,
    /// Storage of all entries.
    entries: Slab<Entry<T>>,
    /// Generation given to the next inserted entry.
    next_generation: u64,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Wheel::new()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Wheel<T> {
        Wheel {
            elapsed: 0,
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            overflow: List::EMPTY,
            overflow_min: u64::MAX,
            ready: List::EMPTY,
            entries: Slab::new(),
            next_generation: 0,
        }
    }

    /// The wheel's clock.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of registered entries (pending or ready).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Registers `value`, due at tick `when` (clamped to [`MAX_TICK`]).
    ///
    /// Returns `Err(value)` without registering if `when` is not after the
    /// wheel's clock: the timer is already due.
    pub(crate) fn insert(&mut self, when: u64, value: T) -> Result<Key, T> {
        let when = when.min(MAX_TICK);
        if when <= self.elapsed {
            return Err(value);
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let index = self.entries.insert(Entry {
            when,
            generation,
            prev: NIL,
            next: NIL,
            list: ListId::Ready,
            value,
        });
        self.place(index);
        Ok(Key { index, generation })
    }

    /// Removes the entry of `key`, returning its value, or `None` if it was
    /// already removed or handed out.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        if !self.contains(key) {
            return None;
        }
        self.unlink(key.index);
        Some(self.entries.remove(key.index).value)
    }

    /// Whether `key` still names a registered entry.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.entries
            .get(key.index)
            .is_some_and(|e| e.generation == key.generation)
    }

    /// The value of `key`'s entry, if it is still registered.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.entries.get_mut(key.index) {
            Some(e) if e.generation == key.generation => Some(&mut e.value),
            _ => None,
        }
    }

    /// The tick `key`'s entry is due at, if it is still registered.
    #[cfg(test)]
    pub(crate) fn when(&self, key: Key) -> Option<u64> {
        match self.entries.get(key.index) {
            Some(e) if e.generation == key.generation => Some(e.when),
            _ => None,
        }
    }

    /// Calls `f` on the value of every registered entry.
    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&mut T)) {
        for (_, entry) in self.entries.iter_mut() {
            f(&mut entry.value);
        }
    }

    /// The earliest tick at which [`advance`](Self::advance) has something
    /// to do: the wheel's clock if entries are ready, otherwise a lower
    /// bound on the earliest pending deadline that is exact unless entries
    /// were removed from the slot holding it. `None` if the wheel is empty.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if !self.ready.is_empty() {
            return Some(self.elapsed);
        }
        let (id, start) = self.next_list()?;
        let min_when = match id {
            ListId::Slot { level, slot } => self.levels[level as usize].min_when[slot as usize],
            ListId::Overflow => self.overflow_min,
            ListId::Ready => unreachable!("next_list never names the ready list"),
        };
        Some(start.max(min_when))
    }

    /// Moves the clock to `now` (clamped to [`MAX_TICK`]; a `now` behind the
    /// clock is ignored), cascading entries down the levels and moving every
    /// entry due at or before `now` to the ready list, in deadline order.
    pub(crate) fn advance(&mut self, now: u64) {
        let now = now.min(MAX_TICK);
        while let Some((id, start)) = self.next_list() {
            if start > now {
                break;
            }
            debug_assert!(start > self.elapsed);
            self.elapsed = start;
            let list = self.take_list(id);
            // Re-place every entry relative to the new clock: the due ones
            // become ready, the rest go to a lower level (or back to the
            // overflow list if still beyond the horizon).
            let mut cur = list.head;
            while cur != NIL {
                let next = self.entries[cur].next;
                if self.entries[cur].when <= self.elapsed {
                    self.ready.push_back(&mut self.entries, cur, ListId::Ready);
                } else {
                    self.place(cur);
                }
                cur = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The tick the first ready entry was due at, if any is ready.
    pub(crate) fn peek_ready(&self) -> Option<u64> {
        match self.ready.head {
            NIL => None,
            head => Some(self.entries[head].when),
        }
    }

    /// Removes the first ready entry and returns its value.
    pub(crate) fn pop_ready(&mut self) -> Option<T> {
        let index = self.ready.pop_front(&mut self.entries)?;
        Some(self.entries.remove(index).value)
    }

    /// The list [`advance`](Self::advance) processes next and the tick at
    /// which it must do so: the first occupied slot of the lowest occupied
    /// level, else the overflow list.
    fn next_list(&self) -> Option<(ListId, u64)> {
        for (level, lvl) in self.levels.iter().enumerate() {
            let from = slot_for(self.elapsed, level);
            if let Some(slot) = lvl.next_occupied(from) {
                let id = ListId::Slot {
                    level: level as u8,
                    slot: slot as u8,
                };
                return Some((id, slot_start(self.elapsed, level, slot)));
            }
        }
        // Nothing on the overflow list is due before the horizon-sized block
        // holding `overflow_min`, so the clock may jump straight there
        // instead of stepping through every horizon in between.
        (!self.overflow.is_empty()).then(|| {
            let start = overflow_start(self.elapsed).max(self.overflow_min & !HORIZON_MASK);
            (ListId::Overflow, start)
        })
    }

    /// Links entry `index` (on no list) onto the list its `when` belongs to
    /// relative to the current clock. Requires `when > elapsed`.
    fn place(&mut self, index: usize) {
        let when = self.entries[index].when;
        match level_for(self.elapsed, when) {
            Some(level) => {
                let slot = slot_for(when, level);
                let id = ListId::Slot {
                    level: level as u8,
                    slot: slot as u8,
                };
                let lvl = &mut self.levels[level];
                lvl.slots[slot].push_back(&mut self.entries, index, id);
                lvl.note_insert(slot, when);
            }
            None => {
                self.overflow
                    .push_back(&mut self.entries, index, ListId::Overflow);
                self.overflow_min = self.overflow_min.min(when);
            }
        }
    }

    /// Unlinks entry `index` from whatever list it is on, keeping the
    /// occupancy bookkeeping exact.
    fn unlink(&mut self, index: usize) {
        match self.entries[index].list {
            ListId::Slot { level, slot } => {
                let lvl = &mut self.levels[level as usize];
                lvl.slots[slot as usize].unlink(&mut self.entries, index);
                lvl.note_remove(slot as usize);
            }
            ListId::Overflow => {
                self.overflow.unlink(&mut self.entries, index);
                if self.overflow.is_empty() {
                    self.overflow_min = u64::MAX;
                }
            }
            ListId::Ready => self.ready.unlink(&mut self.entries, index),
        }
    }

    /// Detaches the whole list `id`, clearing its bookkeeping.
    fn take_list(&mut self, id: ListId) -> List {
        match id {
            ListId::Slot { level, slot } => self.levels[level as usize].take(slot as usize),
            ListId::Overflow => {
                self.overflow_min = u64::MAX;
                std::mem::replace(&mut self.overflow, List::EMPTY)
            }
            ListId::Ready => std::mem::replace(&mut self.ready, List::EMPTY),
        }
    }

    /// Panics if any of the invariants W1–W3 is violated.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut seen = 0;
        for (level, lvl) in self.levels.iter().enumerate() {
            for slot in 0..level::SLOTS {
                let list = lvl.slots[slot];
                assert_eq!(
                    lvl.occupied & (1 << slot) != 0,
                    !list.is_empty(),
                    "W2: occupancy of level {level} slot {slot}"
                );
                let id = ListId::Slot {
                    level: level as u8,
                    slot: slot as u8,
                };
                for index in self.walk(list, id) {
                    let e = &self.entries[index];
                    assert!(e.when > self.elapsed, "W1: entry not after the clock");
                    assert_eq!(level_for(self.elapsed, e.when), Some(level), "W1: level");
                    assert_eq!(slot_for(e.when, level), slot, "W1: slot");
                    assert!(lvl.min_when[slot] <= e.when, "W2: min_when");
                    seen += 1;
                }
            }
        }
        for index in self.walk(self.overflow, ListId::Overflow) {
            let e = &self.entries[index];
            assert!(e.when > self.elapsed && level_for(self.elapsed, e.when).is_none());
            assert!(self.overflow_min <= e.when);
            seen += 1;
        }
        for index in self.walk(self.ready, ListId::Ready) {
            assert!(self.entries[index].when <= self.elapsed, "W3");
            seen += 1;
        }
        assert_eq!(
            seen,
            self.entries.len(),
            "every entry is on exactly one list"
        );
    }

    /// The indices on `list`, checking its links and list ids on the way.
    #[cfg(test)]
    fn walk(&self, list: List, id: ListId) -> Vec<usize> {
        let mut out = Vec::new();
        let mut prev = NIL;
        let mut cur = list.head;
        while cur != NIL {
            let e = &self.entries[cur];
            assert_eq!(e.prev, prev, "broken back link");
            assert_eq!(e.list, id, "entry records the wrong list");
            out.push(cur);
            prev = cur;
            cur = e.next;
        }
        assert_eq!(list.tail, prev, "tail is not the last entry");
        out
    }
}
