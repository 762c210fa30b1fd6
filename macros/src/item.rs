//! A lenient parse of the annotated function.
//!
//! Only the attributes and the signature are parsed into syntax trees. The
//! body is kept as the user's raw tokens, so that
//! - a syntax or type error inside the body is reported by rustc on the
//!   user's own tokens, after expansion, instead of making the macro fail;
//! - the expansion does not depend on syn knowing every statement form.

use proc_macro2::TokenStream;
use proc_macro2::extra::DelimSpan;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Signature, Token, Visibility, braced};

use crate::kind::Kind;

/// The parts of `#[attrs] vis sig { #![inner] body }`.
pub(crate) struct FnItem {
    /// Attributes and doc comments above the function, kept in order.
    pub(crate) outer_attrs: Vec<Attribute>,
    /// `pub`, `pub(crate)`, or nothing.
    pub(crate) vis: Visibility,
    /// Everything from `const`/`async`/`unsafe`/`fn` up to the body.
    pub(crate) sig: Signature,
    /// The span of the body's braces, reused for the generated `async` block.
    pub(crate) brace_span: DelimSpan,
    /// `#![...]` attributes at the top of the body. They cannot stay inside
    /// an `async` block, so they move to the top of the generated body.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The statements of the body, untouched.
    pub(crate) body: TokenStream,
}

impl FnItem {
    /// Parses the item that `kind`'s attribute was placed on.
    pub(crate) fn parse(kind: Kind, item: TokenStream) -> syn::Result<FnItem> {
        (|input: ParseStream<'_>| FnItem::parse_stream(kind, input)).parse2(item)
    }

    /// Parses `#[attrs] vis sig { #![inner] body }`.
    fn parse_stream(kind: Kind, input: ParseStream<'_>) -> syn::Result<FnItem> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let starts_fn = input.peek(Token![fn])
            || input.peek(Token![async])
            || input.peek(Token![const])
            || input.peek(Token![unsafe])
            || input.peek(Token![extern]);
        if !starts_fn {
            return Err(input.error(format!(
                "`{}` can only be placed on an `async fn`",
                kind.attribute()
            )));
        }
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(FnItem {
            outer_attrs,
            vis,
            sig,
            brace_span: brace.span,
            inner_attrs,
            body,
        })
    }
}
