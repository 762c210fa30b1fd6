//! A tiny per-worker pseudo-random generator for picking steal victims.
//! Quality barely matters; it must be cheap and need no shared state.

/// xorshift64* state.
#[derive(Debug)]
pub(crate) struct FastRand {
    /// Never zero.
    state: u64,
}

impl FastRand {
    /// Seeds from `seed` (any value; zero is remapped).
    pub(crate) fn new(seed: u64) -> FastRand {
        FastRand {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// A value in `0..n` (`n > 0`).
    pub(crate) fn next_below(&mut self, n: usize) -> usize {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        ((r * n as u64) >> 32) as usize
    }
}
