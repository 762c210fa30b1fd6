//! `#[tether::main]` and `#[tether::test]` on real runtimes: the flavor and
//! the worker count are honoured, results, errors and panics come out of the
//! generated function, and the function keeps its attributes, parameters and
//! names.
//!
//! A `#[tether::main]` function need not be called `main`, so main-like
//! functions here are ordinary functions called from tests.

use std::collections::HashSet;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// How long a rendezvous waits for its peers before giving up. Only reached
/// when the runtime has fewer workers than expected, which the test then
/// reports as a wrong count; generous so a loaded machine cannot trip it.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(10);

/// How many short tasks probe the set of worker threads; enough that a pool
/// larger than requested would very likely show an extra thread.
const PROBE_TASKS: usize = 64;

/// Spawns `n` tasks that each block their worker until all `n` run at the
/// same time (or the timeout passes), and returns the threads they ran on.
///
/// A blocked worker cannot run another task, so `n` distinct threads come
/// back exactly when the runtime has at least `n` workers.
async fn rendezvous(n: usize) -> HashSet<ThreadId> {
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            tether::spawn(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + RENDEZVOUS_TIMEOUT;
                while arrived.load(Ordering::SeqCst) < n && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                }
                thread::current().id()
            })
        })
        .collect();
    let mut threads = HashSet::new();
    for handle in handles {
        threads.insert(handle.await.expect("rendezvous task failed"));
    }
    threads
}

/// Runs [`PROBE_TASKS`] short blocking tasks and returns the threads they
/// ran on.
async fn probe_threads() -> HashSet<ThreadId> {
    let handles: Vec<_> = (0..PROBE_TASKS)
        .map(|_| {
            tether::spawn(async {
                thread::sleep(Duration::from_micros(200));
                thread::current().id()
            })
        })
        .collect();
    let mut threads = HashSet::new();
    for handle in handles {
        threads.insert(handle.await.expect("probe task failed"));
    }
    threads
}

/// The thread a spawned task runs on, seen from inside the runtime.
async fn spawned_task_thread() -> ThreadId {
    tether::spawn(async { thread::current().id() })
        .await
        .expect("task failed")
}

#[tether::main(flavor = "current_thread")]
async fn current_thread_main() -> (ThreadId, ThreadId) {
    (thread::current().id(), spawned_task_thread().await)
}

#[test]
fn main_current_thread_runs_everything_on_the_caller() {
    let (body, task) = current_thread_main();
    assert_eq!(body, thread::current().id());
    assert_eq!(task, thread::current().id());
}

#[tether::main]
async fn default_main() -> (ThreadId, ThreadId) {
    (thread::current().id(), spawned_task_thread().await)
}

#[test]
fn main_defaults_to_worker_threads() {
    let (body, task) = default_main();
    // The body is driven by `block_on` on the caller; tasks go to workers.
    assert_eq!(body, thread::current().id());
    assert_ne!(task, thread::current().id());
}

/// The worker count the running runtime reports.
fn reported_workers() -> usize {
    tether::Handle::current().metrics().num_workers()
}

#[tether::main(worker_threads = 3)]
async fn three_workers_main() -> (usize, HashSet<ThreadId>, HashSet<ThreadId>) {
    (
        reported_workers(),
        rendezvous(3).await,
        probe_threads().await,
    )
}

#[test]
fn main_worker_threads_is_honoured() {
    let (reported, met, probed) = three_workers_main();
    assert_eq!(reported, 3);
    assert_eq!(
        met.len(),
        3,
        "three tasks should run at once on three workers"
    );
    assert!(!met.contains(&thread::current().id()));
    let all: HashSet<_> = met.union(&probed).collect();
    assert_eq!(all.len(), 3, "tasks ran on more threads than workers");
}

#[tether::main(flavor = "multi_thread", worker_threads = 1)]
async fn one_worker_main() -> (usize, HashSet<ThreadId>) {
    let mut threads = rendezvous(1).await;
    threads.extend(probe_threads().await);
    (reported_workers(), threads)
}

#[test]
fn main_single_worker() {
    let (reported, threads) = one_worker_main();
    assert_eq!(reported, 1);
    assert_eq!(threads.len(), 1);
    assert!(!threads.contains(&thread::current().id()));
}

#[tether::main(flavor = "current_thread")]
async fn parse_main(input: &str) -> Result<u32, Box<dyn Error>> {
    let value: u32 = input.parse()?;
    Ok(value * 2)
}

#[test]
fn main_returns_results_and_propagates_errors_with_question_mark() {
    assert_eq!(parse_main("21").unwrap(), 42);
    let error = parse_main("twenty-one").unwrap_err();
    assert_eq!(error.to_string(), "invalid digit found in string");
}

/// A main-like function named other than `main` may take parameters.
#[tether::main(flavor = "current_thread")]
pub(crate) async fn add(a: u32, b: u32) -> u32 {
    tether::spawn(async move { a + b })
        .await
        .expect("task failed")
}

#[test]
fn main_like_function_with_parameters() {
    assert_eq!(add(2, 3), 5);
}

#[tether::main(flavor = "current_thread")]
async fn hygiene(body: u32) -> u32 {
    #![allow(unused_mut)]
    // Names the expansion uses internally are free for the user.
    let mut runtime = 1;
    let value = 2;
    body + runtime + value
}

#[test]
fn generated_names_do_not_clash_with_user_names() {
    assert_eq!(hygiene(10), 13);
}

#[tether::main(flavor = "current_thread")]
async fn early_return(flag: bool) -> &'static str {
    if flag {
        return "early";
    }
    tether::yield_now().await;
    "late"
}

#[test]
fn return_in_the_body_returns_from_the_function() {
    assert_eq!(early_return(true), "early");
    assert_eq!(early_return(false), "late");
}

#[tether::test]
async fn test_defaults_to_current_thread() {
    let test_thread = thread::current().id();
    assert_eq!(spawned_task_thread().await, test_thread);
}

#[tether::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_multi_thread_with_two_workers() {
    assert_eq!(reported_workers(), 2);
    let met = rendezvous(2).await;
    assert_eq!(met.len(), 2, "two tasks should run at once on two workers");
    assert!(!met.contains(&thread::current().id()));
    let probed = probe_threads().await;
    assert!(
        probed.is_subset(&met),
        "tasks ran on more threads than workers"
    );
}

#[tether::test(flavor = "current_thread")]
async fn test_returning_ok() -> Result<(), Box<dyn Error>> {
    let n: i64 = "-7".parse()?;
    assert_eq!(n, -7);
    Ok(())
}

/// An `impl Trait` return type cannot be named inside the expansion; the
/// macro falls back to plain inference for it.
#[tether::test]
async fn test_returning_impl_termination() -> impl std::process::Termination {
    tether::yield_now().await;
}

/// Fails on purpose; run by `test_returning_err_fails` below.
#[tether::test]
#[ignore = "fails on purpose; called by test_returning_err_fails"]
async fn test_returning_err() -> Result<(), String> {
    tether::yield_now().await;
    Err(String::from("expected failure"))
}

#[test]
fn test_returning_err_fails() {
    // The harness reports a test as failed when it returns `Err`; calling the
    // generated function shows the `Err` comes out of it.
    assert_eq!(test_returning_err(), Err(String::from("expected failure")));
}

#[tether::test]
#[should_panic(expected = "panic from the body")]
async fn test_panic_in_the_body_fails_the_test() {
    tether::yield_now().await;
    panic!("panic from the body");
}

#[tether::test(flavor = "multi_thread")]
#[should_panic(expected = "panic from the body")]
async fn test_panic_in_the_body_fails_the_multi_thread_test() {
    tether::yield_now().await;
    panic!("panic from the body");
}

/// A crate that re-exports tether, as a framework built on it would.
mod framework {
    pub use tether as runtime;
}

#[tether::test(crate = "crate::framework::runtime")]
async fn test_with_a_renamed_crate_path() {
    assert_eq!(spawned_task_thread().await, thread::current().id());
}

#[tether::main(crate = "framework::runtime", flavor = "current_thread")]
async fn renamed_main() -> u8 {
    tether::spawn(async { 7 }).await.expect("task failed")
}

#[test]
fn main_with_a_renamed_crate_path() {
    assert_eq!(renamed_main(), 7);
}
