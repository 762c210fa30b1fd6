//! Readiness bits and the direction an I/O operation waits in.
//!
//! [`Ready`] is a small bitset of what the OS reported for a source. It is
//! stored packed inside [`ScheduledIo`](super::scheduled_io::ScheduledIo)'s
//! atomic word, so every bit here must fit in [`Ready::MASK`].

use std::fmt;
use std::ops;

/// A set of readiness bits reported by the reactor for one source.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready(usize);

impl Ready {
    /// Nothing is ready.
    pub(crate) const EMPTY: Ready = Ready(0);
    /// The source can be read (or, for a listener, accepted on).
    pub(crate) const READABLE: Ready = Ready(0b0_0001);
    /// The source can be written (or a pending connect finished).
    pub(crate) const WRITABLE: Ready = Ready(0b0_0010);
    /// The peer closed its write side: reads return end-of-stream from now on.
    pub(crate) const READ_CLOSED: Ready = Ready(0b0_0100);
    /// Our write side is closed (peer reset or our own shutdown).
    pub(crate) const WRITE_CLOSED: Ready = Ready(0b0_1000);
    /// The source has a pending error (read it with `take_error`).
    pub(crate) const ERROR: Ready = Ready(0b1_0000);
    /// Every bit a `Ready` may hold; the rest of the packed word belongs to
    /// other fields.
    pub(crate) const MASK: usize = 0b1_1111;

    /// Bits that, once reported, stay set for the life of the registration:
    /// a closed half never reopens, so clearing them after a `WouldBlock`
    /// would make a waiter sleep through the end of the stream.
    pub(crate) const FINAL: Ready = Ready(Self::READ_CLOSED.0 | Self::WRITE_CLOSED.0);

    /// Converts a `mio` event into readiness bits.
    pub(crate) fn from_mio(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready |= Ready::READABLE;
        }
        if event.is_writable() {
            ready |= Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready |= Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready |= Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready |= Ready::ERROR;
        }
        ready
    }

    /// Unpacks the readiness bits of a packed word.
    pub(crate) const fn from_usize(word: usize) -> Ready {
        Ready(word & Self::MASK)
    }

    /// The bits as a `usize`, for packing.
    pub(crate) const fn as_usize(self) -> usize {
        self.0
    }

    /// Whether no bit is set.
    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is also set in `self`.
    #[cfg(test)]
    pub(crate) const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share a bit.
    pub(crate) const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl ops::BitOrAssign for Ready {
    fn bitor_assign(&mut self, rhs: Ready) {
        self.0 |= rhs.0;
    }
}

impl ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, rhs: Ready) -> Ready {
        Ready(self.0 & rhs.0)
    }
}

impl ops::Sub for Ready {
    type Output = Ready;
    fn sub(self, rhs: Ready) -> Ready {
        Ready(self.0 & !rhs.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut list = f.debug_set();
        for (bit, name) in names {
            if self.intersects(bit) {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}

/// Which way an operation moves data, and so which readiness it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reads, receives and accepts.
    Read,
    /// Writes, sends and connects.
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction proceed.
    /// An error or a closed half counts: the operation will then fail or
    /// return end-of-stream instead of blocking, which the caller must see.
    pub(crate) const fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready(Ready::READABLE.0 | Ready::READ_CLOSED.0 | Ready::ERROR.0),
            Direction::Write => Ready(Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0 | Ready::ERROR.0),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn masks_cover_closed_and_error() {
        assert!(
            Direction::Read
                .mask()
                .contains(Ready::READ_CLOSED | Ready::ERROR)
        );
        assert!(!Direction::Read.mask().intersects(Ready::WRITABLE));
        assert!(
            Direction::Write
                .mask()
                .contains(Ready::WRITE_CLOSED | Ready::ERROR)
        );
        assert!(!Direction::Write.mask().intersects(Ready::READABLE));
    }

    #[test]
    fn set_operations() {
        let r = Ready::READABLE | Ready::READ_CLOSED;
        assert_eq!(r - Ready::FINAL, Ready::READABLE);
        assert_eq!(Ready::from_usize(r.as_usize() | 0xF00), r);
        assert!(Ready::EMPTY.is_empty());
        assert_eq!(format!("{r:?}"), "{READABLE, READ_CLOSED}");
    }
}
