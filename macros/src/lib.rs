//! Procedural macros for the `tether` runtime: `#[tether::main]` and
//! `#[tether::test]`.
//!
//! Use them through the `tether` crate; this crate is not meant to be
//! depended on directly. The code they generate names only `tether` (or the
//! path given with `crate = "..."`) and `core`, so a program needs no other
//! dependency.
//!
//! Module map: `entry` drives parsing (`config`, `item`), the checks on the
//! function (`check`) and code generation (`expand`); `errors` collects
//! diagnostics so that every mistake is reported in one build.
#![warn(missing_docs, missing_debug_implementations)]

mod check;
mod config;
mod entry;
mod errors;
mod expand;
mod item;
mod kind;

use proc_macro::TokenStream;

use crate::kind::Kind;

/// `#[tether::main]` turns an `async fn` into a plain `fn` that builds a
/// runtime with `tether::runtime::Builder`, then blocks on the original body
/// with `Runtime::block_on`. The runtime shuts down when `main` returns. The
/// signature, visibility, attributes, doc comments and return type are kept,
/// so `main` may return a `Result` and use `?`.
///
/// # Options
///
/// | option | value | default |
/// |---|---|---|
/// | `flavor` | `"multi_thread"` (work-stealing workers) or `"current_thread"` (everything on the calling thread) | `"multi_thread"` |
/// | `worker_threads` | a positive integer literal; only with the multi-thread flavor | the builder's default, one worker per core |
/// | `crate` | a string holding the path of the tether crate, for code that re-exports it | `"::tether"` |
///
/// # Examples
///
/// Options, a `Result` return type and `?`:
///
/// ```
/// use std::error::Error;
///
/// #[tether::main(flavor = "multi_thread", worker_threads = 2)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let port: u16 = "8080".parse()?;
///     assert_eq!(port, 8080);
///     Ok(())
/// }
/// ```
///
/// The previous example expands to code equivalent to this:
///
/// ```
/// use std::error::Error;
///
/// fn main() -> Result<(), Box<dyn Error>> {
///     let body = async move {
///         let port: u16 = "8080".parse()?;
///         assert_eq!(port, 8080);
///         Ok(())
///     };
///     let runtime = tether::runtime::Builder::new_multi_thread()
///         .worker_threads(2)
///         .build()
///         .expect("failed to build the tether runtime");
///     runtime.block_on(body)
/// }
/// ```
///
/// # Panics
///
/// The generated `main` panics if the runtime cannot be built (for instance
/// if the OS refuses to start a worker thread). A panic in the body
/// propagates out of `main`, as it would in a synchronous `main`.
///
/// # Errors at compile time
///
/// A `compile_error!` on the offending tokens for: a function without
/// `async`, parameters on `main`, an unknown or repeated option, a bad
/// value, and `worker_threads` with the current-thread flavor.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// `#[tether::test]` is `#[tether::main]` for tests, with two differences: it also adds `#[test]`, and
/// the runtime is current-thread unless `flavor = "multi_thread"` is given,
/// so a test is deterministic and cheap by default. Each test gets its own
/// runtime, shut down when the test returns. Other attributes such as
/// `#[should_panic]` and `#[ignore]` are kept; a test may return a `Result`.
///
/// # Options
///
/// | option | value | default |
/// |---|---|---|
/// | `flavor` | `"current_thread"` or `"multi_thread"` | `"current_thread"` |
/// | `worker_threads` | a positive integer literal; requires `flavor = "multi_thread"` | the builder's default, one worker per core |
/// | `crate` | a string holding the path of the tether crate | `"::tether"` |
///
/// # Examples
///
/// ```
/// #[tether::test]
/// async fn spawned_task_runs() {
///     let value = tether::spawn(async { 1 + 1 }).await.unwrap();
///     assert_eq!(value, 2);
/// }
///
/// #[tether::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn on_two_workers() -> Result<(), std::num::ParseIntError> {
///     let n: u32 = "12".parse()?;
///     assert_eq!(n, 12);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Errors at compile time
///
/// A `compile_error!` on the offending tokens for: a function without
/// `async`, a function with parameters, a second test attribute (`#[test]`
/// is added for you), an unknown or repeated option, a bad value, and
/// `worker_threads` without the multi-thread flavor.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}
