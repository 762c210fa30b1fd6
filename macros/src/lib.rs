//! Procedural macros for the `tether` runtime. Use them through `tether::main`
//! and `tether::test`; this crate is not meant to be depended on directly.

use proc_macro::TokenStream;

/// Marks the async `main` function to run on a tether runtime.
#[proc_macro_attribute]
pub fn main(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Marks an async test function to run on a tether runtime.
#[proc_macro_attribute]
pub fn test(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
