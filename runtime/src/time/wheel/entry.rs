//! Timer entries and the intrusive doubly linked lists that thread them.
//!
//! Entries live in a [`slab::Slab`]; each list (a wheel slot, the overflow
//! list, the ready list) is a head/tail pair of slab indices, and each entry
//! carries the indices of its neighbours and the id of the list it is on.
//! Unlinking an entry therefore needs no search: it is O(1) wherever the
//! entry is.

use slab::Slab;

/// "No entry": the end of a list.
pub(super) const NIL: usize = usize::MAX;

/// Which list an entry is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListId {
    /// A slot of a wheel level.
    Slot {
        /// The level, `0..NUM_LEVELS`.
        level: u8,
        /// The slot, `0..SLOTS`.
        slot: u8,
    },
    /// Due beyond the wheel's horizon.
    Overflow,
    /// Due; waiting to be handed out by `Wheel::pop_ready`.
    Ready,
}

/// One registered timer.
#[derive(Debug)]
pub(super) struct Entry<T> {
    /// The tick at which the timer is due.
    pub(super) when: u64,
    /// Distinguishes this registration from earlier ones that used the same
    /// slab index, so a stale key never touches a reused entry.
    pub(super) generation: u64,
    /// Previous entry on the same list, or [`NIL`].
    pub(super) prev: usize,
    /// Next entry on the same list, or [`NIL`].
    pub(super) next: usize,
    /// The list the entry is on.
    pub(super) list: ListId,
    /// The caller's payload (the task's waker, for the runtime).
    pub(super) value: T,
}

/// Head and tail of an intrusive list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct List {
    /// First entry, or [`NIL`] if the list is empty.
    pub(super) head: usize,
    /// Last entry, or [`NIL`] if the list is empty.
    pub(super) tail: usize,
}

impl List {
    /// The empty list.
    pub(super) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    /// Whether the list holds no entry.
    pub(super) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends entry `idx` (not on any list) and records `id` in it.
    pub(super) fn push_back<T>(&mut self, entries: &mut Slab<Entry<T>>, idx: usize, id: ListId) {
        let entry = &mut entries[idx];
        entry.list = id;
        entry.prev = self.tail;
        entry.next = NIL;
        match self.tail {
            NIL => self.head = idx,
            tail => entries[tail].next = idx,
        }
        self.tail = idx;
    }

    /// Unlinks entry `idx`, which must be on this list.
    pub(super) fn unlink<T>(&mut self, entries: &mut Slab<Entry<T>>, idx: usize) {
        let (prev, next) = (entries[idx].prev, entries[idx].next);
        match prev {
            NIL => self.head = next,
            prev => entries[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => entries[next].prev = prev,
        }
        let entry = &mut entries[idx];
        entry.prev = NIL;
        entry.next = NIL;
    }

    /// Unlinks and returns the first entry's index.
    pub(super) fn pop_front<T>(&mut self, entries: &mut Slab<Entry<T>>) -> Option<usize> {
        let head = self.head;
        if head == NIL {
            return None;
        }
        self.unlink(entries, head);
        Some(head)
    }
}
