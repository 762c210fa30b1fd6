//! The reactor's table of live registrations, keyed by `mio::Token`.
//!
//! Registrations live in a [`Slab`]; a token packs the slab key in its low
//! [`KEY_BITS`] bits and a generation tag above them. Slab keys are reused as
//! soon as a socket is dropped, but the kernel may still hand the driver an
//! event for the old socket that was queued before the drop. The generation
//! makes such a stale token miss: the driver only dispatches to an entry whose
//! generation equals the token's, so an old event can never wake (or mark
//! ready) the new socket that took over the slot.

use std::io;

use slab::Slab;

use super::scheduled_io::ScheduledIo;
use crate::loom::sync::Arc;

/// Bits of a token used for the slab key: 2^24 (16 million) live
/// registrations is far above any process's descriptor limit, and leaves
/// at least 8 bits of generation even where `usize` is 32 bits wide.
const KEY_BITS: u32 = 24;
/// Mask selecting the slab key from a token.
const KEY_MASK: usize = (1 << KEY_BITS) - 1;
/// Number of distinct generations. The all-ones value is excluded so that
/// no registration token can equal `usize::MAX`, which the driver reserves
/// for its wake-up token.
const GENERATIONS: usize = (usize::MAX >> KEY_BITS) - 1;

/// Live registrations plus the state needed to hand out fresh tokens.
#[derive(Debug, Default)]
pub(crate) struct RegistrationSet {
    /// The readiness state of every live registration.
    slab: Slab<Arc<ScheduledIo>>,
    /// The generation the next registration gets; wraps at [`GENERATIONS`].
    next_generation: usize,
    /// Set by [`RegistrationSet::shutdown`]; new registrations are refused.
    is_shutdown: bool,
}

impl RegistrationSet {
    /// Creates the state of a new registration and its token.
    pub(crate) fn allocate(&mut self) -> io::Result<(mio::Token, Arc<ScheduledIo>)> {
        if self.is_shutdown {
            return Err(io::Error::other(
                "the tether runtime is shut down; no new I/O can be registered",
            ));
        }
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        if key > KEY_MASK {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "too many I/O sources are registered with the tether reactor",
            ));
        }
        let generation = self.next_generation;
        self.next_generation = (generation + 1) % GENERATIONS;
        let io = Arc::new(ScheduledIo::new(generation));
        entry.insert(io.clone());
        Ok((mio::Token(generation << KEY_BITS | key), io))
    }

    /// The registration `token` was issued for, unless it has been removed
    /// (and its slot possibly reused by a newer registration).
    pub(crate) fn get(&self, token: mio::Token) -> Option<&Arc<ScheduledIo>> {
        let io = self.slab.get(token.0 & KEY_MASK)?;
        (io.generation() == token.0 >> KEY_BITS).then_some(io)
    }

    /// Removes the registration `token` was issued for, if still present.
    pub(crate) fn remove(&mut self, token: mio::Token) {
        if self.get(token).is_some() {
            self.slab.remove(token.0 & KEY_MASK);
        }
    }

    /// Refuses further registrations and returns every live one, for the
    /// caller to mark as shut down and wake.
    pub(crate) fn shutdown(&mut self) -> Vec<Arc<ScheduledIo>> {
        self.is_shutdown = true;
        self.slab.iter().map(|(_, io)| io.clone()).collect()
    }

    /// Whether [`RegistrationSet::shutdown`] ran.
    #[cfg(test)]
    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown
    }

    /// Number of live registrations.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reused_slot_gets_new_generation_and_old_token_misses() {
        let mut set = RegistrationSet::default();
        let (old, old_io) = set.allocate().unwrap();
        set.remove(old);
        let (new, new_io) = set.allocate().unwrap();
        assert_eq!(old.0 & KEY_MASK, new.0 & KEY_MASK, "slot is reused");
        assert_ne!(old, new);
        assert!(set.get(old).is_none());
        assert!(Arc::ptr_eq(set.get(new).unwrap(), &new_io));
        assert!(!Arc::ptr_eq(&old_io, &new_io));
        // Removing through the stale token must not remove the new entry.
        set.remove(old);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn generation_wraps_and_never_forms_the_wakeup_token() {
        let mut set = RegistrationSet {
            next_generation: GENERATIONS - 1,
            ..Default::default()
        };
        let (a, _) = set.allocate().unwrap();
        let (b, _) = set.allocate().unwrap();
        assert_eq!(a.0 >> KEY_BITS, GENERATIONS - 1);
        assert_eq!(b.0 >> KEY_BITS, 0);
        assert_ne!(a.0, usize::MAX);
    }

    #[test]
    fn shutdown_refuses_new_registrations() {
        let mut set = RegistrationSet::default();
        let _ = set.allocate().unwrap();
        assert_eq!(set.shutdown().len(), 1);
        assert!(set.is_shutdown());
        let err = set.allocate().unwrap_err();
        assert!(err.to_string().contains("shut down"));
    }
}
