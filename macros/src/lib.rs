//! Procedural macros for the `tether` runtime. Use them through
//! `tether::main` and `tether::test`; this crate is not meant to be depended
//! on directly, and the code it generates names only `tether` (or the path
//! given with `crate = "..."`) and `core`.
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

/// Marks the async `main` function to run on a tether runtime.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// Marks an async test function to run on a tether runtime.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}
