//! Checks on the annotated function, and how the expansion recovers from
//! each problem.
//!
//! Every problem is reported on the tokens that cause it. The expansion then
//! goes ahead as if the problem were fixed, so that rustc still checks the
//! body (and an IDE still sees a test or a `main`) without piling follow-up
//! errors on top of the one that matters.

use syn::Attribute;

use crate::errors::Errors;
use crate::item::FnItem;
use crate::kind::Kind;

/// What the expansion has to do differently because of a reported problem.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// The function takes parameters it must not have. The expansion drops
    /// them from the signature and declares them as diverging locals, so the
    /// body still type-checks and rustc does not add its own complaint
    /// about the signature.
    pub(crate) drop_params: bool,
}

/// Checks `item` for `kind`, reporting problems to `errors`. Removes the
/// user's own `#[test]` attributes from a `#[tether::test]` function (one is
/// generated).
pub(crate) fn check(kind: Kind, item: &mut FnItem, errors: &mut Errors) -> Recovery {
    let mut recovery = Recovery::default();

    if item.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            item.sig.fn_token.span,
            format!(
                "`{}` needs an `async fn`; add `async` before `fn`",
                kind.attribute()
            ),
        ));
    }

    let has_params = !item.sig.inputs.is_empty() || item.sig.variadic.is_some();
    match kind {
        Kind::Main if has_params && item.sig.ident == "main" => {
            errors.push(syn::Error::new(
                item.sig.paren_token.span.join(),
                "`main` cannot take parameters; read command-line arguments with \
                 `std::env::args()`",
            ));
            recovery.drop_params = true;
        }
        Kind::Test if has_params => {
            errors.push(syn::Error::new(
                item.sig.paren_token.span.join(),
                "a `#[tether::test]` function cannot take parameters: the test harness \
                 calls it with none",
            ));
            recovery.drop_params = true;
        }
        Kind::Main | Kind::Test => {}
    }

    if kind == Kind::Test {
        item.outer_attrs.retain(|attr| {
            if !is_test_attribute(attr) {
                return true;
            }
            errors.push(syn::Error::new_spanned(
                attr,
                "a second test attribute: `#[tether::test]` already registers this \
                 function as a test, so remove this one",
            ));
            false
        });
    }

    recovery
}

/// Whether `attr` registers a test: `#[test]`, `#[core::prelude::v1::test]`,
/// another runtime's `#[xyz::test]`, or a second `#[tether::test]`.
///
/// Any path ending in `test` counts: two test attributes on one function
/// either register it twice or nest two runtimes, and neither is intended.
fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "test")
}
