//! Heap allocations per scoped child, counted by a global allocator that
//! counts per thread (tests in this binary may run in parallel).
//!
//! Goal: at most one allocation per child (the child's cell: future, output
//! slot and wake record together). Growth of the scope's slab and pending
//! list is amortised over the children and shows up as a small fraction.
//! `join_all` knows its futures up front: none per child (one allocation
//! for all their cells).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use tether_tests::current_thread;

/// Counts allocations (and reallocations) made by the current thread.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the allocator may run during thread teardown.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

const N: usize = 10_000;

/// Allocations of a scope with `n` detached children borrowing `data`.
fn scope_allocs(n: usize, data: &[u64]) -> usize {
    allocs_during(|| {
        futures::executor::block_on(tether::scope(|s| async move {
            for x in &data[..n] {
                s.spawn(async move {
                    black_box(x);
                });
            }
        }));
    })
}

#[test]
fn at_most_one_allocation_per_scoped_child() {
    let data: Vec<u64> = (0..N as u64).collect();
    let base = scope_allocs(0, &data);
    let total = scope_allocs(N, &data);
    let per_child = (total - base) as f64 / N as f64;
    println!("scope: {base} allocations with no child, {total} with {N}: {per_child:.4} per child");
    assert!(per_child <= 1.01, "{per_child} allocations per child");
}

#[test]
fn at_most_one_allocation_per_join_set_child() {
    let data: Vec<u64> = (0..N as u64).collect();
    let data = &data;
    let run = |n: usize| {
        allocs_during(|| {
            futures::executor::block_on(async {
                let mut set = tether::ScopedJoinSet::new();
                for x in &data[..n] {
                    set.spawn(async move { *x });
                }
                while let Some(r) = set.join_next().await {
                    black_box(r.unwrap());
                }
            });
        })
    };
    let (base, total) = (run(0), run(N));
    let per_child = (total - base) as f64 / N as f64;
    println!(
        "ScopedJoinSet: {base} allocations with no child, {total} with {N}: {per_child:.4} per child"
    );
    assert!(per_child <= 1.01, "{per_child} allocations per child");
}

/// On the current-thread runtime the scope still costs one allocation per
/// child (all polls happen on this thread).
#[test]
fn scope_on_current_thread_runtime_allocations() {
    let rt = current_thread();
    let data: Vec<u64> = (0..N as u64).collect();
    let data = &data;
    let run = |n: usize| {
        allocs_during(|| {
            rt.block_on(tether::scope(|s| async move {
                for x in &data[..n] {
                    s.spawn(async move {
                        black_box(x);
                    });
                }
            }));
        })
    };
    run(N); // warm up runtime-internal buffers
    let (base, total) = (run(0), run(N));
    let per_child = (total - base) as f64 / N as f64;
    println!("scope on current-thread runtime: {per_child:.4} allocations per child");
    assert!(per_child <= 1.01, "{per_child} allocations per child");
}

/// `join_all` allocates no record per future: its children's cells share
/// one allocation, so the count does not grow with the number of futures
/// beyond the `Vec`s that hold the input and the outputs (a handful, the
/// same for 10 futures as for 10k).
#[test]
fn join_all_allocates_no_record_per_future() {
    let data: Vec<u64> = (0..N as u64).collect();
    let data = &data;
    let run = |n: usize| {
        allocs_during(|| {
            let out = futures::executor::block_on(tether::join_all(
                data[..n].iter().map(|x| async move { *x }),
            ));
            assert_eq!(out.len(), n);
            black_box(out);
        })
    };
    let (few, many) = (run(10), run(N));
    println!("join_all: {few} allocations for 10 futures, {many} for {N}");
    assert!(
        many <= few + 4,
        "{many} allocations for {N} futures against {few} for 10"
    );
}
