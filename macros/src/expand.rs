//! Code generation: a synchronous function that builds a runtime and blocks
//! on the original body.
//!
//! For
//!
//! ```text
//! #[tether::main(worker_threads = 2)]
//! async fn main() -> R { body }
//! ```
//!
//! the output is, in essence,
//!
//! ```text
//! fn main() -> R {
//!     let body = async move {
//!         // Fixes the block's output type to `R` before `body` is checked.
//!         if let Some(value) = None::<R> { return value; }
//!         body
//!     };
//!     let runtime = ::tether::runtime::Builder::new_multi_thread()
//!         .worker_threads(2)
//!         .build()
//!         .expect("...");
//!     runtime.block_on(body)
//! }
//! ```
//!
//! Invariants:
//! - The user's attributes, doc comments, visibility, generics and return
//!   type are kept; only `async` is removed from the signature.
//! - The body's tokens are reused with their spans, inside a block carrying
//!   the span of the original braces, so diagnostics about the body point at
//!   the user's code.
//! - Generated locals use `Span::mixed_site()`, so they can neither capture
//!   nor shadow a name in the user's code.
//! - Generated code names only `#krate` and `::core`, so a user needs no
//!   dependency other than tether.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{FnArg, LitInt, ReturnType, Type};

use crate::check::Recovery;
use crate::config::{Config, Flavor};
use crate::item::FnItem;
use crate::kind::Kind;

/// Message of the panic when the runtime cannot be built (for instance when
/// the OS refuses to spawn a worker thread or to create the I/O driver).
const BUILD_FAILED: &str = "failed to build the tether runtime";

/// Expands `item` into a synchronous function that runs its body on the
/// runtime described by `config`.
pub(crate) fn expand(
    kind: Kind,
    config: &Config,
    item: FnItem,
    recovery: &Recovery,
) -> TokenStream {
    let FnItem {
        outer_attrs,
        vis,
        mut sig,
        brace_span,
        inner_attrs,
        body,
    } = item;

    sig.asyncness = None;
    let param_bindings = if recovery.drop_params {
        take_params(&mut sig)
    } else {
        TokenStream::new()
    };
    let lint_allowances = if recovery.drop_params {
        // The diverging placeholders make the rest of the body unreachable
        // and the parameters possibly unused; only the reported error
        // matters.
        quote!(#[allow(unreachable_code, unused_variables)])
    } else {
        TokenStream::new()
    };

    let body_ident = Ident::new("body", Span::mixed_site());
    let runtime_ident = Ident::new("runtime", Span::mixed_site());

    let output = nameable_output(&sig.output);
    let fix_output = output.as_ref().map(|output| {
        // An `async` block's output type is inferred from the first `return`
        // or tail expression rustc checks. This never-taken `return` comes
        // first and has the declared type, so every `return`, `?` and the
        // tail in the user's body are checked against the declared return
        // type, and a mismatch is reported on the user's expression. The
        // returned value is located at the declared type, so that rustc's
        // "return type inferred to be ... here" note points at the signature.
        let value = Ident::new(
            "value",
            Span::mixed_site().located_at(return_type_span(&sig.output)),
        );
        quote! {
            if let ::core::option::Option::Some(#value) =
                ::core::option::Option::<#output>::None
            {
                return #value;
            }
        }
    });
    // The user's statements go straight into the `async` block (a nested
    // block would draw an `unused_braces` warning on a one-expression body),
    // and the block takes the span of the user's braces.
    let mut async_block = Group::new(Delimiter::Brace, quote!(#fix_output #body));
    async_block.set_span(brace_span.join());
    let future = quote!(async move #async_block);
    let body_binding = match (kind, output) {
        // A test pins its body and erases its type, so that every test with
        // the same return type shares one `block_on` instantiation: a test
        // crate compiles faster. `main` exists once; it gains nothing.
        (Kind::Test, Some(output)) => quote! {
            let #body_ident = #future;
            let #body_ident = ::core::pin::pin!(#body_ident);
            let #body_ident: ::core::pin::Pin<
                &mut dyn ::core::future::Future<Output = #output>,
            > = #body_ident;
        },
        _ => quote! {
            let #body_ident = #future;
        },
    };

    let build = build_runtime(config);
    let test_attr = match kind {
        Kind::Test => quote!(#[::core::prelude::v1::test]),
        Kind::Main => TokenStream::new(),
    };

    quote! {
        #test_attr
        #(#outer_attrs)*
        #lint_allowances
        #vis #sig {
            #(#inner_attrs)*
            #param_bindings
            #body_binding
            #[allow(clippy::expect_used)]
            let #runtime_ident = #build;
            #runtime_ident.block_on(#body_ident)
        }
    }
}

/// `Builder::new_*().worker_threads(n).start_paused(true).build().expect(..)`
/// for `config`.
fn build_runtime(config: &Config) -> TokenStream {
    let krate = &config.krate;
    let constructor = match config.flavor {
        Flavor::MultiThread => quote!(new_multi_thread),
        Flavor::CurrentThread => quote!(new_current_thread),
    };
    let worker_threads = config.worker_threads.as_ref().map(|threads| {
        let count = LitInt::new(&threads.count.to_string(), threads.span);
        quote!(.worker_threads(#count))
    });
    let start_paused = config
        .start_paused
        .map(|span| quote::quote_spanned!(span=> .start_paused(true)));
    quote! {
        #krate::runtime::Builder::#constructor()
            #worker_threads
            #start_paused
            .build()
            .expect(#BUILD_FAILED)
    }
}

/// The output type of the body future if it can be written in a type
/// annotation: not for `impl Trait` (only allowed in the return position).
fn nameable_output(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if mentions_impl(ty.to_token_stream()) => None,
        ReturnType::Type(_, ty) => Some(match &**ty {
            // `-> !` is fine for a function but the body future's output
            // must be a type that can be named in `Future<Output = _>`.
            Type::Never(_) => return None,
            ty => ty.to_token_stream(),
        }),
    }
}

/// The span of the declared return type (its first token on stable Rust).
fn return_type_span(output: &ReturnType) -> Span {
    match output {
        ReturnType::Default => Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    }
}

/// Whether the `impl` keyword occurs anywhere in `tokens`.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// Removes the parameters from `sig` and returns `let` statements that
/// declare them with their types and a diverging initialiser.
///
/// Only used after an error was reported about the parameters: the body
/// still type-checks against them, and rustc does not add an error of its
/// own about a `main` or a test with parameters.
fn take_params(sig: &mut syn::Signature) -> TokenStream {
    sig.variadic = None;
    let params = std::mem::take(&mut sig.inputs);
    params
        .into_iter()
        .filter_map(|param| match param {
            FnArg::Typed(typed) => {
                let (pat, ty) = (&typed.pat, &typed.ty);
                Some(quote!(let #pat: #ty = ::core::unreachable!();))
            }
            // `self` is meaningless outside an `impl` block, where rustc
            // reports it already.
            FnArg::Receiver(_) => None,
        })
        .collect()
}
