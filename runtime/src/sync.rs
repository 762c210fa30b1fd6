//! Synchronization primitives for tasks, under tokio's names and
//! signatures: [`mpsc`] (bounded and unbounded), [`oneshot`], [`broadcast`],
//! [`watch`], [`Mutex`], [`RwLock`], [`Semaphore`], [`Notify`], [`Barrier`],
//! [`OnceCell`] and [`SetOnce`], with their guards and error types.
//!
//! These are tokio's own primitives (its `sync` feature), re-exported: they
//! are runtime-agnostic — they only park and wake tasks through their
//! `Waker`s — so they behave on tether exactly as on tokio, and a tokio
//! program that uses `tokio::sync::X` ports by writing `tether::sync::X`.
//! Nothing here needs tokio's runtime. Methods of tokio's that *do* need a
//! timer from tokio's runtime (`mpsc::Sender::send_timeout`) are not
//! offered; combine the plain method with [`tether::time::timeout`]
//! instead.
//!
//! With scoped tasks the primitives need no `Arc`: children of a
//! [`scope`](crate::scope()) borrow them from the caller's stack.
//!
//! ```
//! use tether::sync::{Mutex, mpsc};
//!
//! # tether::Runtime::new().unwrap().block_on(async {
//! let total = Mutex::new(0u64); // on this stack, shared by borrow
//! let total = &total;
//! let (tx, mut rx) = mpsc::channel::<u64>(16);
//! tether::scope(|s| async move {
//!     for i in 1..=4 {
//!         let tx = tx.clone();
//!         s.spawn(async move {
//!             *total.lock().await += i;
//!             tx.send(i).await.unwrap();
//!         });
//!     }
//!     drop(tx);
//!     let mut seen = 0;
//!     while let Some(_) = rx.recv().await {
//!         seen += 1;
//!     }
//!     assert_eq!(seen, 4);
//! })
//! .await;
//! assert_eq!(*total.lock().await, 10);
//! # });
//! ```
//!
//! [`tether::time::timeout`]: crate::time::timeout

pub use tokio::sync::{
    AcquireError, Barrier, BarrierWaitResult, MappedMutexGuard, Mutex, MutexGuard, Notify,
    OnceCell, OwnedMappedMutexGuard, OwnedMutexGuard, OwnedRwLockMappedWriteGuard,
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, OwnedSemaphorePermit, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit,
    SetError, SetOnce, SetOnceError, TryAcquireError, TryLockError,
};
pub use tokio::sync::{broadcast, futures, mpsc, oneshot, watch};
