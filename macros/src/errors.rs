//! Collecting several diagnostics and emitting them as `compile_error!`s.

use proc_macro2::TokenStream;

/// The problems found while expanding one attribute, in source order.
///
/// Reporting all of them at once saves the user a build per mistake.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    /// Each error carries its own span; none is merged into another.
    list: Vec<syn::Error>,
}

impl Errors {
    /// Records one problem.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.list.push(error);
    }

    /// One `compile_error!` invocation per problem, each spanned at the
    /// offending tokens.
    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.list.iter().map(syn::Error::to_compile_error).collect()
    }
}

#[cfg(test)]
impl Errors {
    /// The messages recorded so far, for unit tests.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.list.iter().map(ToString::to_string).collect()
    }
}
