//! The program that started tether.
//!
//! With tokio, spawning a future that borrows a local does not compile,
//! because `tokio::spawn` requires `'static`:
//!
//! ```text
//! #[tokio::main]
//! async fn main() {
//!     let a = 2;
//!     tokio::task::spawn(foo(&a));
//! }
//!
//! error[E0597]: `a` does not live long enough
//!   --> src/main.rs:16:28
//!    |
//! 15 |     let a = 2;
//!    |         - binding `a` declared here
//! 16 |     tokio::task::spawn(foo(&a));
//!    |     -----------------------^^--
//!    |     |                      |
//!    |     |                      borrowed value does not live long enough
//!    |     argument requires that `a` is borrowed for `'static`
//! 17 | }
//!    | - `a` dropped here while still borrowed
//! ```
//!
//! The usual fix moves `a` to the heap behind an `Arc`. tether runs the
//! same program borrowing `a`, three ways: an async scope, a `ScopedJoinSet`, and
//! a blocking scope.
//!
//! Run with `cargo run -p tether-examples --example seed`.

use std::sync::Arc;

async fn foo(a: &u32) -> u32 {
    println!("  a: {a}");
    *a
}

async fn foo_arc(a: Arc<u32>) -> u32 {
    println!("  a: {a}");
    *a
}

fn main() -> std::io::Result<()> {
    // Nothing to shrink: `--small` is accepted so every example takes it.
    let _ = tether_examples::Size::from_args(
        "seed",
        "Runs the program tokio rejects (a task borrowing a local) with tether.",
    );
    println!("tokio: `tokio::spawn(foo(&a))` is rejected (E0597), so `a` goes into an Arc:");
    let tokio_rt = tokio::runtime::Runtime::new()?;
    tokio_rt.block_on(async {
        let a = Arc::new(2);
        let out = tokio::spawn(foo_arc(a.clone())).await.unwrap();
        assert_eq!(out, 2);
    });

    let rt = tether::Runtime::new()?;

    println!("tether::scope: the child borrows `a`, no Arc:");
    rt.block_on(async {
        let a = 2;
        let a = &a;
        let out = tether::scope(|s| async move { s.spawn(foo(a)).await.unwrap() }).await;
        assert_eq!(out, 2);
    });

    println!("tether::ScopedJoinSet: no closure at all:");
    rt.block_on(async {
        let a = 2;
        let mut set = tether::ScopedJoinSet::new();
        set.spawn(foo(&a));
        assert_eq!(set.join_all().await, [2]);
    });

    println!("Runtime::scope (blocking, like std::thread::scope):");
    let a = 2;
    let out = rt.scope(|s| s.spawn(foo(&a)).join().unwrap());
    assert_eq!(out, 2);

    println!(
        "all three borrowed `a` from the stack; `tether::spawn` itself still demands 'static."
    );
    Ok(())
}
