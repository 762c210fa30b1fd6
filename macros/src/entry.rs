//! The shared driver of both attributes: parse, check, expand, and attach
//! the errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::errors::Errors;
use crate::item::FnItem;
use crate::kind::Kind;
use crate::{check, config, expand};

/// Expands `#[tether::main(args)]` or `#[tether::test(args)]` on `item`.
///
/// Errors never discard the user's code: if the function can be parsed it
/// is expanded (with default options in place of bad ones) and the errors
/// are appended; if it cannot, the original tokens are emitted unchanged
/// next to the error, so rustc still reports its own precise diagnostics.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let config = config::parse(kind, args, &mut errors);
    let mut parsed = match FnItem::parse(kind, item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(error);
            let errors = errors.to_compile_errors();
            return quote!(#item #errors);
        }
    };
    let recovery = check::check(kind, &mut parsed, &mut errors);
    let mut expanded = expand::expand(kind, &config, parsed, &recovery);
    expanded.extend(errors.to_compile_errors());
    expanded
}
