//! Recycled task memory: a worker keeps the cells of finished tasks for its
//! next spawns instead of giving them back to the global allocator.
//! The cells of scoped children (`scope::child`) come from the same pool:
//! a scope spawns its children on one worker and its helpers finish them
//! on others, the same pattern.
//!
//! # Why
//!
//! A task spawned on worker A and finished on worker B is allocated by A and
//! freed by B. A general-purpose allocator keeps memory per thread or per
//! arena, so that free goes back to A's arena, under the lock A takes to
//! allocate. When one worker spawns many short tasks and another steals and
//! finishes half of them, the two threads meet on that lock at every task:
//! with glibc's allocator, `spawn_many_local` (10k spawns from a task) made
//! about 7 400 futex calls per run, all of them in `malloc` and `free`, and
//! a run took 1.2 ms or 10 ms depending on how many tasks the other worker
//! took.
//!
//! # How
//!
//! - **Size classes.** A cell of at most [`MAX_POOLED_SIZE`] bytes whose
//!   alignment is at most [`BLOCK_ALIGN`] belongs to a class (sizes rounded
//!   up to [`CLASS_GRANULE`]). Every block of a class is allocated from, and
//!   given back to, the global allocator with the class's layout, whoever
//!   does it. Blocks of a class are therefore interchangeable: a cell may be
//!   allocated by one runtime's worker and freed by another's, by a thread
//!   outside any runtime, or after its runtime is gone. Larger or
//!   over-aligned cells use the global allocator directly.
//! - **Per worker, no synchronisation.** Each worker thread has a [`Local`]
//!   cache in its worker context: per class, an *active* chain of free
//!   blocks and one *spare* chain of [`BATCH`] blocks. A free on that thread
//!   pushes onto the active chain, an allocation pops from it.
//! - **Memory flows back through the runtime.** When the active chain is
//!   full and a spare is already held, the spare goes to the runtime's
//!   [`Shared`] pool (a locked stack of chains per class). When both chains
//!   are empty, an allocation takes a chain from the pool. One lock per
//!   [`BATCH`] blocks moves memory from the workers that finish tasks back
//!   to the ones that spawn them. The spare gives hysteresis: a thread that
//!   alternates a free and an allocation at the boundary does not move a
//!   chain each time.
//! - **Bounds.** A worker thread holds at most `2 × BATCH` blocks per class
//!   (a thread that handed its core on keeps its cache until it exits);
//!   the pool holds at most [`SHARED_MAX_BYTES`] in all (plus one chain per
//!   thread giving at the same time). What does not fit goes back to the
//!   global allocator, as does everything a worker holds when it exits and
//!   everything in the pool when the runtime is dropped.
//! - **Memory checkers.** A recycled cell never reaches the global
//!   allocator's `free`, so a use after free of a task cell on a worker is
//!   invisible to AddressSanitizer there; the task state machine's own
//!   checks (Miri on `task::`, loom) are what cover it.
//! - **Other threads** (`block_on` callers, threads outside the runtime, the
//!   blocking pool) use the global allocator.
//!
//! # Safety model
//!
//! A block in a chain is owned by that chain: no cell lives in it, nothing
//! else points into it, and its first word is the link to the next block.
//! A chain moves as a whole (to the pool under its lock, back to a worker
//! under the same lock), so at any time each free block is reachable from
//! exactly one chain. A block leaves a chain only by [`Local::allocate`],
//! which hands it to a new cell, or by [`free_chain`], which gives it back
//! to the global allocator with its class layout.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Size step between classes: a cache line. With the cell's own 64-byte
/// tail pad, rounding up wastes at most 63 bytes more per cell, and 16
/// classes reach 1 KiB.
const CLASS_GRANULE: usize = 64;

/// Number of classes. Cells of most futures (a few hundred bytes with the
/// task header and tail pad) fit; larger ones are rare enough to pay the
/// global allocator.
const CLASSES: usize = 16;

/// The largest cell that is pooled.
pub(crate) const MAX_POOLED_SIZE: usize = CLASS_GRANULE * CLASSES;

/// Alignment of every pooled block: what the global allocator gives small
/// blocks anyway on 64-bit targets, so pooling adds no aligned allocations.
pub(crate) const BLOCK_ALIGN: usize = 16;

/// Blocks moved between a worker and the pool at once: large enough that
/// the pool's lock is taken once per many spawns, small enough that a
/// worker's cache stays a few kilobytes.
const BATCH: usize = 32;

/// Most bytes the runtime's pool holds in all classes together. It absorbs
/// the tasks of a burst of ten thousand spawns of a small future; beyond
/// it, memory goes back to the global allocator.
pub(crate) const SHARED_MAX_BYTES: usize = 4 << 20;

/// The class of a cell of `layout`, or `None` if it is not pooled.
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() == 0 || layout.size() > MAX_POOLED_SIZE || layout.align() > BLOCK_ALIGN {
        return None;
    }
    Some((layout.size() - 1) / CLASS_GRANULE)
}

/// The layout every block of `class` is allocated and freed with.
fn class_layout(class: usize) -> Layout {
    debug_assert!(class < CLASSES);
    // Never fails: the size is at most `MAX_POOLED_SIZE` and the alignment
    // a small power of two.
    Layout::from_size_align((class + 1) * CLASS_GRANULE, BLOCK_ALIGN)
        .expect("class layouts are valid")
}

/// Allocates from the global allocator, aborting like `Box::new` on failure.
fn global_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: every layout passed here has a non-zero size (`class_of`
    // rejects zero, class layouts are at least `CLASS_GRANULE`, and task
    // cells are never zero-sized).
    let ptr = unsafe { alloc::alloc(layout) };
    NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// The first word of a free block.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// A singly linked chain of free blocks of one class.
#[derive(Clone, Copy)]
struct Chain {
    head: *mut FreeBlock,
    len: usize,
}

// SAFETY: a chain owns its blocks (module docs, "Safety model"): plain
// memory with no thread-bound data, which moves between threads only as a
// whole, under the pool's lock.
unsafe impl Send for Chain {}

impl Chain {
    const EMPTY: Chain = Chain {
        head: ptr::null_mut(),
        len: 0,
    };

    /// Pushes `block` onto the chain.
    ///
    /// # Safety
    ///
    /// `block` is a block of this chain's class that nothing else uses, and
    /// it is at least a pointer in size and alignment.
    unsafe fn push(&mut self, block: NonNull<u8>) {
        let block = block.cast::<FreeBlock>().as_ptr();
        // SAFETY: the caller gives the block to this chain; it is large and
        // aligned enough for the link.
        unsafe { block.write(FreeBlock { next: self.head }) };
        self.head = block;
        self.len += 1;
    }

    /// Pops a block, if any.
    fn pop(&mut self) -> Option<NonNull<u8>> {
        let block = NonNull::new(self.head)?;
        // SAFETY: the block is owned by this chain, which wrote its link.
        self.head = unsafe { (*block.as_ptr()).next };
        self.len -= 1;
        Some(block.cast())
    }
}

/// Gives every block of `chain` back to the global allocator.
///
/// # Safety
///
/// `chain` owns its blocks, which are of `class`.
unsafe fn free_chain(mut chain: Chain, class: usize) {
    let layout = class_layout(class);
    while let Some(block) = chain.pop() {
        // SAFETY: the block was allocated by the global allocator with the
        // class layout (module docs), and the chain owned it.
        unsafe { alloc::dealloc(block.as_ptr(), layout) };
    }
}

/// One class's free chains on a worker.
struct LocalClass {
    /// Allocations pop here and frees push here.
    active: Cell<Chain>,
    /// A full chain kept for the next time `active` runs out, or empty.
    spare: Cell<Chain>,
}

/// A worker thread's cache of free blocks (module docs). Lives in the
/// worker context for the thread's whole life; not `Sync` (its chains are
/// plain `Cell`s).
pub(crate) struct Local {
    classes: [LocalClass; CLASSES],
}

impl Local {
    /// An empty cache.
    pub(crate) fn new() -> Local {
        Local {
            classes: std::array::from_fn(|_| LocalClass {
                active: Cell::new(Chain::EMPTY),
                spare: Cell::new(Chain::EMPTY),
            }),
        }
    }

    /// A block of `class` from this cache or from `shared`, if either has
    /// one.
    pub(crate) fn allocate(&self, class: usize, shared: &Shared) -> Option<NonNull<u8>> {
        let c = &self.classes[class];
        let mut active = c.active.get();
        if active.len == 0 {
            active = match c.spare.replace(Chain::EMPTY) {
                spare if spare.len > 0 => spare,
                _ => shared.take(class)?,
            };
        }
        let block = active.pop();
        c.active.set(active);
        block
    }

    /// Keeps `block` for a later allocation of `class`.
    ///
    /// # Safety
    ///
    /// `block` was allocated for a cell whose layout is of `class`, by this
    /// module (so with the class layout), and the cell in it is dropped;
    /// nothing uses the memory any more.
    pub(crate) unsafe fn deallocate(&self, class: usize, block: NonNull<u8>, shared: &Shared) {
        let c = &self.classes[class];
        let mut active = c.active.get();
        if active.len == BATCH {
            // The full chain becomes the spare, and `active` is emptied
            // before the old spare leaves: no chain is held twice, even if
            // `give` unwinds (then the old spare's blocks are leaked).
            let full = c.spare.replace(active);
            active = Chain::EMPTY;
            c.active.set(Chain::EMPTY);
            if full.len > 0 {
                shared.give(class, full);
            }
        }
        // SAFETY: the caller gives the block up; class blocks are at least
        // `CLASS_GRANULE` bytes, aligned to `BLOCK_ALIGN`.
        unsafe { active.push(block) };
        c.active.set(active);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        for (class, c) in self.classes.iter().enumerate() {
            // SAFETY: the cache owns both chains, of this class.
            unsafe {
                free_chain(c.active.replace(Chain::EMPTY), class);
                free_chain(c.spare.replace(Chain::EMPTY), class);
            }
        }
    }
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held: usize = self
            .classes
            .iter()
            .map(|c| c.active.get().len + c.spare.get().len)
            .sum();
        f.debug_struct("Local").field("blocks", &held).finish()
    }
}

/// The runtime's pool of full chains, shared by its workers.
pub(crate) struct Shared {
    /// Full chains, per class.
    classes: [Mutex<Vec<Chain>>; CLASSES],
    /// Bytes in all chains of `classes`. Updated under the class's lock;
    /// read without one by `give`, so the bound may be passed by one chain
    /// per thread giving at the same time.
    bytes: AtomicUsize,
}

impl Shared {
    /// An empty pool.
    pub(crate) fn new() -> Shared {
        Shared {
            classes: std::array::from_fn(|_| Mutex::new(Vec::new())),
            bytes: AtomicUsize::new(0),
        }
    }

    /// A full chain of `class`, if the pool has one.
    fn take(&self, class: usize) -> Option<Chain> {
        let mut chains = crate::loom::lock(&self.classes[class]);
        let chain = chains.pop()?;
        self.bytes
            .fetch_sub(chain.len * class_layout(class).size(), Relaxed);
        Some(chain)
    }

    /// Keeps `chain` for a worker that runs out, or frees it if the pool is
    /// full.
    fn give(&self, class: usize, chain: Chain) {
        let size = chain.len * class_layout(class).size();
        if self.bytes.load(Relaxed) + size <= SHARED_MAX_BYTES {
            let mut chains = crate::loom::lock(&self.classes[class]);
            self.bytes.fetch_add(size, Relaxed);
            chains.push(chain);
            return;
        }
        // SAFETY: the chain was handed over by a worker's cache, which owned
        // it; its blocks are of `class`.
        unsafe { free_chain(chain, class) };
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for (class, chains) in self.classes.iter().enumerate() {
            for chain in std::mem::take(&mut *crate::loom::lock(chains)) {
                // SAFETY: the pool owns its chains, of this class.
                unsafe { free_chain(chain, class) };
            }
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("bytes", &self.bytes.load(Relaxed))
            .finish()
    }
}

/// Memory for a task cell of `layout`: from this worker's cache if the
/// thread is a worker and the cell is pooled, else from the global
/// allocator.
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        return global_alloc(layout);
    };
    crate::scheduler::multi_thread::worker::with_task_pool(|pool| {
        pool.and_then(|(local, shared)| local.allocate(class, shared))
    })
    .unwrap_or_else(|| global_alloc(class_layout(class)))
}

/// Gives back the memory of a task cell of `layout`.
///
/// # Safety
///
/// `ptr` was returned by [`allocate`] with the same `layout`, the cell in it
/// is dropped, and nothing uses the memory any more.
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: `allocate` got it from the global allocator with `layout`.
        unsafe { alloc::dealloc(ptr.as_ptr(), layout) };
        return;
    };
    let kept = crate::scheduler::multi_thread::worker::with_task_pool(|pool| match pool {
        Some((local, shared)) => {
            // SAFETY: the caller's contract; `allocate` gave a block of
            // this class (from a cache or with the class layout).
            unsafe { local.deallocate(class, ptr, shared) };
            true
        }
        None => false,
    });
    if !kept {
        // SAFETY: every block of a class comes from the global allocator
        // with the class layout (module docs).
        unsafe { alloc::dealloc(ptr.as_ptr(), class_layout(class)) };
    }
}

/// Drops the value at `ptr` in place, then gives back its cell's memory
/// with [`deallocate`], also if the drop panics (the memory is freed while
/// the panic unwinds).
///
/// # Safety
///
/// `ptr` points into the start of memory returned by [`allocate`] with
/// `layout`, holds an initialised `T` that nothing else uses or drops, and
/// nothing uses the memory afterwards.
pub(crate) unsafe fn drop_and_deallocate<T>(ptr: NonNull<T>, layout: Layout) {
    /// Gives the memory back however the drop ends.
    struct Free(NonNull<u8>, Layout);
    impl Drop for Free {
        fn drop(&mut self) {
            // SAFETY: the caller's contract: memory from `allocate` with
            // this layout; its value is dropped (or being unwound) by now.
            unsafe { deallocate(self.0, self.1) };
        }
    }
    let _free = Free(ptr.cast(), layout);
    // SAFETY: the caller's contract: an initialised `T`, dropped once, here.
    unsafe { std::ptr::drop_in_place(ptr.as_ptr()) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Allocates `n` class blocks from the global allocator, as `allocate`
    /// does on a thread without a cache.
    fn fresh(class: usize, n: usize) -> Vec<NonNull<u8>> {
        (0..n).map(|_| global_alloc(class_layout(class))).collect()
    }

    #[test]
    fn classes_round_up_to_the_granule_and_skip_large_or_over_aligned_cells() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 8)), Some(0));
        assert_eq!(class_of(l(64, 8)), Some(0));
        assert_eq!(class_of(l(65, 16)), Some(1));
        assert_eq!(class_of(l(MAX_POOLED_SIZE, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(l(MAX_POOLED_SIZE + 1, 8)), None);
        assert_eq!(class_of(l(64, 32)), None);
        assert_eq!(class_of(l(0, 1)), None);
        for class in 0..CLASSES {
            let layout = class_layout(class);
            assert_eq!(class_of(layout), Some(class));
            assert!(layout.size() >= size_of::<FreeBlock>());
        }
    }

    #[test]
    fn a_worker_reuses_what_it_freed_last_first() {
        let (local, shared) = (Local::new(), Shared::new());
        let blocks = fresh(2, 3);
        for &b in &blocks {
            // SAFETY: fresh class-2 blocks, given up here.
            unsafe { local.deallocate(2, b, &shared) };
        }
        for &b in blocks.iter().rev() {
            assert_eq!(local.allocate(2, &shared), Some(b));
        }
        assert_eq!(local.allocate(2, &shared), None, "cache and pool are empty");
        for b in blocks {
            // SAFETY: allocated above with the class layout, not in a chain.
            unsafe { alloc::dealloc(b.as_ptr(), class_layout(2)) };
        }
    }

    #[test]
    fn blocks_freed_on_one_worker_are_allocated_on_another_through_the_pool() {
        let shared = Shared::new();
        let (spawner, finisher) = (Local::new(), Local::new());
        let blocks = fresh(1, 4 * BATCH);
        for &b in &blocks {
            // SAFETY: fresh class-1 blocks, given up here.
            unsafe { finisher.deallocate(1, b, &shared) };
        }
        // The finisher keeps an active and a spare chain and passed the
        // rest on, one full chain at a time.
        let passed = 4 * BATCH - 2 * BATCH;
        assert_eq!(shared.bytes.load(Relaxed), passed * class_layout(1).size());
        let mut got = Vec::new();
        while let Some(b) = spawner.allocate(1, &shared) {
            got.push(b);
        }
        assert_eq!(got.len(), passed);
        assert_eq!(shared.bytes.load(Relaxed), 0);
        for b in got {
            assert!(blocks.contains(&b));
            // SAFETY: a class-1 block taken out of the caches.
            unsafe { spawner.deallocate(1, b, &shared) };
        }
        // Dropping the caches and the pool gives everything back (Miri's
        // leak check sees it).
    }

    #[test]
    fn a_full_pool_gives_chains_back_to_the_allocator() {
        let shared = Shared::new();
        let class = CLASSES - 1;
        let chain_bytes = BATCH * class_layout(class).size();
        let fits = SHARED_MAX_BYTES / chain_bytes;
        // Miri is slow with thousands of blocks: fill the pool's count
        // instead, then give it one real chain more than fits.
        shared.bytes.store(fits * chain_bytes, Relaxed);
        let mut chain = Chain::EMPTY;
        for b in fresh(class, BATCH) {
            // SAFETY: fresh blocks of the class, owned by the chain.
            unsafe { chain.push(b) };
        }
        shared.give(class, chain);
        assert_eq!(
            shared.bytes.load(Relaxed),
            fits * chain_bytes,
            "the chain was freed"
        );
        assert!(crate::loom::lock(&shared.classes[class]).is_empty());
        shared.bytes.store(0, Relaxed);
    }

    #[test]
    fn alternating_at_the_boundary_does_not_move_chains() {
        let (local, shared) = (Local::new(), Shared::new());
        for b in fresh(0, BATCH + 1) {
            // SAFETY: fresh class-0 blocks, given up here.
            unsafe { local.deallocate(0, b, &shared) };
        }
        // Active holds one block, the spare a full chain.
        for _ in 0..100 {
            let b = local.allocate(0, &shared).expect("cached");
            // SAFETY: the block just taken, given back.
            unsafe { local.deallocate(0, b, &shared) };
            let b = local.allocate(0, &shared).expect("cached");
            let c = local.allocate(0, &shared).expect("the spare");
            // SAFETY: as above.
            unsafe {
                local.deallocate(0, c, &shared);
                local.deallocate(0, b, &shared);
            }
            assert_eq!(shared.bytes.load(Relaxed), 0);
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A worker that finishes tasks passes a chain through the pool while
    /// another worker allocates: the second gets every block of the chain
    /// exactly once, or none of them, and nothing is freed twice or lost
    /// (the blocks are counted when the caches and the pool drop).
    #[test]
    fn loom_a_chain_passes_from_the_worker_that_frees_to_the_one_that_allocates() {
        loom::model(|| {
            let shared = Arc::new(Shared::new());
            let finisher = {
                let shared = shared.clone();
                loom::thread::spawn(move || {
                    let local = Local::new();
                    // One more than an active and a spare chain hold: the
                    // spare goes to the pool.
                    for _ in 0..2 * BATCH + 1 {
                        let block = global_alloc(class_layout(0));
                        // SAFETY: a fresh class-0 block, given up here.
                        unsafe { local.deallocate(0, block, &shared) };
                    }
                })
            };
            let local = Local::new();
            let mut got = Vec::new();
            while got.len() < BATCH {
                match local.allocate(0, &shared) {
                    Some(block) => got.push(block),
                    None => loom::thread::yield_now(),
                }
            }
            finisher.join().unwrap();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), BATCH, "a block was handed out twice");
            assert_eq!(shared.bytes.load(Relaxed), 0);
            for block in got {
                // SAFETY: blocks taken out of the pool, given back.
                unsafe { local.deallocate(0, block, &shared) };
            }
        });
    }
}
