//! Workloads shared by more than one bench binary, so that every binary
//! measures exactly the same code: the scoped fan-out's per-child work and
//! the recursive `fib` of the join benches. Included with `#[path]` by
//! `scope_fanout`, `join` and `rounds`; each uses what it needs.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;

/// Elements per fan-out child: a few microseconds of work, small enough
/// that scheduling overhead matters, large enough to be a "task".
pub const CHUNK: usize = 64;

/// The per-element work of a fan-out child: a few multiply/rotate rounds
/// the optimiser cannot fold away.
pub fn work(x: u64) -> u64 {
    let mut h = x;
    for _ in 0..8 {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x;
    }
    h
}

/// One fan-out child's result: `work` folded over its chunk.
pub fn chunk_sum(c: &[u64]) -> u64 {
    c.iter().map(|&x| work(x)).fold(0, u64::wrapping_add)
}

/// `fib(n)`, sequentially: the leaves of the recursive joins.
pub fn seq_fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        seq_fib(n - 1) + seq_fib(n - 2)
    }
}

/// A boxed `Send` future, as recursion needs.
pub type BoxFut = Pin<Box<dyn Future<Output = u64> + Send>>;

/// `fib(n)` by `tether::join!` of the two recursive calls, sequential below
/// `cutoff`.
pub fn tether_fib(n: u64, cutoff: u64) -> BoxFut {
    Box::pin(async move {
        if n < cutoff {
            return seq_fib(black_box(n));
        }
        let (a, b) = tether::join!(tether_fib(n - 1, cutoff), tether_fib(n - 2, cutoff));
        a + b
    })
}

/// `fib(n)` by `rayon::join` of the two recursive calls, sequential below
/// `cutoff`.
pub fn rayon_fib(n: u64, cutoff: u64) -> u64 {
    if n < cutoff {
        return seq_fib(black_box(n));
    }
    let (a, b) = rayon::join(|| rayon_fib(n - 1, cutoff), || rayon_fib(n - 2, cutoff));
    a + b
}
