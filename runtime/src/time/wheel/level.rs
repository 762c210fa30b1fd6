//! Slot arithmetic of the hierarchical wheel and one level's slots.
//!
//! Time is counted in ticks of one millisecond since the driver started.
//! Level `k` has [`SLOTS`] slots of `64^k` ticks each, so it spans `64^(k+1)`
//! ticks. An entry due at `when` lives on the lowest level whose span,
//! aligned on a multiple of itself, contains both `elapsed` and `when`: the
//! level is given by the highest bit in which `elapsed` and `when` differ.
//! Consequences the wheel relies on:
//!
//! * Every entry on level `k` is due later than every entry on level `k - 1`
//!   (it lies in a later `64^k`-tick block than `elapsed`).
//! * Within a level, slots at or before the slot of `elapsed` are empty:
//!   the slot of an entry is never behind `elapsed` on its level.
//!
//! So the earliest entry sits in the first occupied slot (from the slot of
//! `elapsed` on) of the lowest occupied level, which the per-level occupancy
//! bitmap finds with one `trailing_zeros`, without scanning slots.

use super::entry::{List, NIL};

/// Bits of a tick consumed by one level: 64 slots, one bit each in the
/// occupancy word.
pub(super) const LEVEL_BITS: u32 = 6;

/// Slots per level; 64 so a level's occupancy fits in one `u64`.
pub(super) const SLOTS: usize = 1 << LEVEL_BITS;

/// Number of levels. Six levels of 64 slots cover `2^36` ms (about 795
/// days); entries further away wait in the overflow list and are re-placed
/// when the wheel reaches the end of its horizon.
pub(crate) const NUM_LEVELS: usize = 6;

/// Mask of the tick bits covered by the whole wheel (`2^36 - 1`).
pub(super) const HORIZON_MASK: u64 = (1 << (LEVEL_BITS as u64 * NUM_LEVELS as u64)) - 1;

/// The largest tick the wheel accepts; later deadlines are clamped to it.
/// `2^62` ms is about 146 million years, and keeping ticks this far below
/// `u64::MAX` lets the horizon arithmetic add one block without overflow.
pub(crate) const MAX_TICK: u64 = 1 << 62;

/// The level on which an entry due at `when` is stored when the wheel is at
/// `elapsed`, or `None` if it lies beyond the last level (overflow).
///
/// Requires `when > elapsed`.
pub(super) fn level_for(elapsed: u64, when: u64) -> Option<usize> {
    debug_assert!(when > elapsed);
    // Or-ing in the slot mask makes entries of the current level-0 block
    // (differing only in the low six bits) land on level 0.
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    let level = (significant / LEVEL_BITS) as usize;
    (level < NUM_LEVELS).then_some(level)
}

/// The slot of `when` on `level`.
pub(super) fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (LEVEL_BITS as usize * level)) as usize) & (SLOTS - 1)
}

/// The first tick covered by `slot` of `level` when the wheel is at
/// `elapsed`.
pub(super) fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let level_span_bits = LEVEL_BITS as usize * (level + 1);
    let block_start = elapsed & !((1u64 << level_span_bits) - 1);
    block_start | ((slot as u64) << (LEVEL_BITS as usize * level))
}

/// The first tick after the wheel's horizon, when the overflow list is
/// re-placed.
pub(super) fn overflow_start(elapsed: u64) -> u64 {
    (elapsed | HORIZON_MASK) + 1
}

/// One level: its slot lists, their occupancy bitmap and per-slot lower
/// bounds on the deadlines they hold.
#[derive(Debug)]
pub(super) struct Level {
    /// Bit `s` is set iff slot `s` holds at least one entry.
    pub(super) occupied: u64,
    /// The entries of each slot, in insertion order.
    pub(super) slots: [List; SLOTS],
    /// A lower bound on the `when` of every entry in each slot (exact unless
    /// an entry was removed since the slot was last emptied); `u64::MAX`
    /// for an empty slot. Lets the driver sleep until the earliest deadline
    /// instead of the slot's first tick.
    pub(super) min_when: [u64; SLOTS],
}

impl Level {
    /// An empty level.
    pub(super) fn new() -> Level {
        Level {
            occupied: 0,
            slots: [List::EMPTY; SLOTS],
            min_when: [u64::MAX; SLOTS],
        }
    }

    /// The first occupied slot at or after `from`.
    pub(super) fn next_occupied(&self, from: usize) -> Option<usize> {
        let ahead = self.occupied & (u64::MAX << from);
        (ahead != 0).then(|| ahead.trailing_zeros() as usize)
    }

    /// Records that an entry due at `when` joined `slot`.
    pub(super) fn note_insert(&mut self, slot: usize, when: u64) {
        self.occupied |= 1 << slot;
        self.min_when[slot] = self.min_when[slot].min(when);
    }

    /// Updates the bookkeeping after an entry left `slot`.
    pub(super) fn note_remove(&mut self, slot: usize) {
        if self.slots[slot].head == NIL {
            self.occupied &= !(1 << slot);
            self.min_when[slot] = u64::MAX;
        }
    }

    /// Detaches the whole list of `slot`, leaving it empty.
    pub(super) fn take(&mut self, slot: usize) -> List {
        self.occupied &= !(1 << slot);
        self.min_when[slot] = u64::MAX;
        std::mem::replace(&mut self.slots[slot], List::EMPTY)
    }
}
