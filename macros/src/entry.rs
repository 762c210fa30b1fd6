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

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};
    use syn::{File, Item, ItemFn};

    use super::*;

    /// Expands and splits the output into the function and the messages of
    /// the `compile_error!`s after it.
    fn run(kind: Kind, args: TokenStream, item: TokenStream) -> (Option<ItemFn>, Vec<String>) {
        let file: File = syn::parse2(expand(kind, args, item)).expect("output parses as items");
        let mut function = None;
        let mut errors = Vec::new();
        for item in file.items {
            match item {
                Item::Fn(f) => function = Some(f),
                Item::Macro(m)
                    if m.mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "compile_error") =>
                {
                    let message: syn::LitStr = m.mac.parse_body().expect("string message");
                    errors.push(message.value());
                }
                other => panic!("unexpected item {}", other.to_token_stream()),
            }
        }
        (function, errors)
    }

    /// The attribute paths of `f`, as strings.
    fn attribute_paths(f: &ItemFn) -> Vec<String> {
        f.attrs
            .iter()
            .map(|a| a.path().to_token_stream().to_string())
            .collect()
    }

    #[test]
    fn main_becomes_a_synchronous_fn_with_the_same_signature() {
        let (f, errors) = run(
            Kind::Main,
            quote!(worker_threads = 3),
            quote! {
                /// Docs.
                #[inline(never)]
                pub(crate) async fn main() -> Result<(), Box<dyn std::error::Error>> {
                    #![allow(unused_mut)]
                    let mut x = 1;
                    Ok(())
                }
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
        let f = f.expect("a function");
        assert!(f.sig.asyncness.is_none());
        assert_eq!(f.sig.ident, "main");
        assert_eq!(f.vis.to_token_stream().to_string(), "pub (crate)");
        let expected: syn::ReturnType =
            syn::parse_quote!(-> Result<(), Box<dyn std::error::Error>>);
        assert_eq!(
            f.sig.output.to_token_stream().to_string(),
            expected.to_token_stream().to_string()
        );
        // syn lists the body's inner attributes after the outer ones: the
        // inner attribute moved to the top of the new body.
        assert_eq!(attribute_paths(&f), ["doc", "inline", "allow"]);
        assert!(matches!(f.attrs[2].style, syn::AttrStyle::Inner(_)));
        let body = f.block.to_token_stream().to_string();
        let build = quote!(
            ::tether::runtime::Builder::new_multi_thread()
                .worker_threads(3)
                .build()
        );
        assert!(body.contains(&build.to_string()), "{body}");
        assert!(body.contains("async move"), "{body}");
        assert!(body.contains("let mut x = 1 ;"), "{body}");
    }

    #[test]
    fn test_adds_the_test_attribute_and_defaults_to_current_thread() {
        let (f, errors) = run(
            Kind::Test,
            quote!(crate = "crate::rt"),
            quote! {
                #[should_panic]
                async fn it_works() {}
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
        let f = f.expect("a function");
        assert_eq!(
            attribute_paths(&f),
            [":: core :: prelude :: v1 :: test", "should_panic"]
        );
        let body = f.block.to_token_stream().to_string();
        let build = quote!(crate::rt::runtime::Builder::new_current_thread().build());
        assert!(body.contains(&build.to_string()), "{body}");
        // The body future is pinned and type-erased.
        assert!(
            body.contains("dyn :: core :: future :: Future < Output = () >"),
            "{body}"
        );
    }

    #[test]
    fn impl_trait_outputs_are_not_named() {
        let (f, errors) = run(
            Kind::Test,
            quote!(),
            quote!(
                async fn t() -> impl std::process::Termination {}
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let body = f.expect("a function").block.to_token_stream().to_string();
        assert!(!body.contains("Output ="), "{body}");
        assert!(!body.contains("Option"), "{body}");
    }

    #[test]
    fn a_second_test_attribute_is_reported_and_dropped() {
        let (f, errors) = run(
            Kind::Test,
            quote!(),
            quote! {
                #[test]
                #[ignore]
                async fn t() {}
            },
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("a second test attribute"),
            "{errors:?}"
        );
        let f = f.expect("still expanded");
        assert_eq!(
            attribute_paths(&f),
            [":: core :: prelude :: v1 :: test", "ignore"]
        );
    }

    #[test]
    fn parameters_are_reported_and_turned_into_locals() {
        let (f, errors) = run(
            Kind::Main,
            quote!(),
            quote!(
                async fn main(count: u32, (a, b): (u8, u8)) {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("`main` cannot take parameters"),
            "{errors:?}"
        );
        let f = f.expect("still expanded");
        assert!(f.sig.inputs.is_empty());
        let body = f.block.to_token_stream().to_string();
        assert!(
            body.contains("let count : u32 = :: core :: unreachable ! () ;"),
            "{body}"
        );
        assert!(
            body.contains("let (a , b) : (u8 , u8) = :: core :: unreachable ! () ;"),
            "{body}"
        );

        // Only `main` is special for `#[tether::main]`.
        let (f, errors) = run(
            Kind::Main,
            quote!(),
            quote!(
                async fn run(count: u32) {}
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(f.expect("a function").sig.inputs.len(), 1);

        let (_, errors) = run(
            Kind::Test,
            quote!(),
            quote!(
                async fn t(count: u32) {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("cannot take parameters"), "{errors:?}");
    }

    #[test]
    fn a_missing_async_is_reported_and_the_function_still_expanded() {
        let (f, errors) = run(
            Kind::Main,
            quote!(),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(
            errors,
            ["`#[tether::main]` needs an `async fn`; add `async` before `fn`"]
        );
        assert!(f.is_some());
    }

    #[test]
    fn bad_options_still_expand_with_defaults() {
        let (f, errors) = run(
            Kind::Main,
            quote!(flavor = "fast"),
            quote!(
                async fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        let body = f.expect("a function").block.to_token_stream().to_string();
        assert!(body.contains("new_multi_thread"), "{body}");
    }

    #[test]
    fn a_non_function_is_emitted_unchanged_with_an_error() {
        let out = expand(
            Kind::Main,
            quote!(),
            quote!(
                struct S;
            ),
        );
        let file: File = syn::parse2(out).expect("items");
        assert_eq!(file.items.len(), 2);
        assert!(matches!(file.items[0], Item::Struct(_)));
    }

    #[test]
    fn body_tokens_are_kept_even_if_they_do_not_parse() {
        let out = expand(Kind::Main, quote!(), quote!(async fn main() { let = ; }));
        let out = out.to_string();
        // The body is handed to rustc as is, which reports the syntax error.
        assert!(out.contains("let = ;"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }
}
