//! Parsing the attribute arguments: `flavor`, `worker_threads`,
//! `start_paused` and `crate`.
//!
//! Invariants:
//! - Every option may appear at most once; a repeat is reported on the
//!   repeated option's name.
//! - Problems (unknown option, bad value, conflicting options, even a
//!   malformed entry) are collected, not returned at the first one, so a
//!   user sees all of them in one build: the arguments are split at
//!   top-level commas and each entry is parsed on its own.
//! - Whatever went wrong, [`parse`] still yields a usable [`Config`] (the
//!   defaults of the macro, plus every option that was valid), so the function
//!   can be expanded and its body type-checked next to the errors.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, Ident, Lit, LitInt, LitStr, Path, Token};

use crate::errors::Errors;
use crate::kind::Kind;

/// The two runtimes the macros can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `Builder::new_multi_thread()`: a pool of work-stealing workers.
    MultiThread,
    /// `Builder::new_current_thread()`: everything runs on the calling thread.
    CurrentThread,
}

impl Flavor {
    /// The value spelled in `flavor = "..."`.
    fn name(self) -> &'static str {
        match self {
            Flavor::MultiThread => "multi_thread",
            Flavor::CurrentThread => "current_thread",
        }
    }

    /// Parses the value of `flavor = "..."`.
    fn from_name(name: &str) -> Option<Flavor> {
        [Flavor::MultiThread, Flavor::CurrentThread]
            .into_iter()
            .find(|flavor| flavor.name() == name)
    }
}

/// The worker count requested with `worker_threads = N`.
#[derive(Debug, Clone)]
pub(crate) struct WorkerThreads {
    /// The number, already checked to be at least 1.
    pub(crate) count: usize,
    /// The span of the user's literal, reused for the generated argument so
    /// a type error would point at it.
    pub(crate) span: Span,
}

/// What the generated code needs to know, after validation.
#[derive(Clone)]
pub(crate) struct Config {
    /// Which runtime to build.
    pub(crate) flavor: Flavor,
    /// `Some` only for the multi-thread flavor with an explicit count.
    pub(crate) worker_threads: Option<WorkerThreads>,
    /// `start_paused = true` (current-thread flavor only): the span of the
    /// user's `true`.
    pub(crate) start_paused: Option<Span>,
    /// The path of the tether crate in generated code (`::tether` unless
    /// renamed with `crate = "..."`).
    pub(crate) krate: Path,
}

impl Config {
    /// The configuration used when no option is given.
    fn defaults(kind: Kind) -> Config {
        Config {
            flavor: kind.default_flavor(),
            worker_threads: None,
            start_paused: None,
            krate: syn::parse_quote!(::tether),
        }
    }
}

/// Option names, in the order they are listed in error messages.
const OPTIONS: [&str; 4] = ["flavor", "worker_threads", "start_paused", "crate"];

/// One comma-separated entry as written by the user.
struct RawOption {
    /// The option's name. Parsed as a path so that `foo::bar` is reported
    /// as an unknown option rather than as a syntax error; `crate` is a
    /// keyword, which a module-style path accepts.
    name: Path,
    /// The value after `=`, parsed as an expression so that a wrong kind of
    /// value (an identifier, a negative number) gets a targeted message.
    /// `None` if there is no `= value` (the entry's tokens are kept for the
    /// message's span).
    value: Option<Expr>,
    /// All tokens of the entry, to span a message about a missing value.
    tokens: TokenStream,
}

/// The options seen so far, each with the span of its name for messages
/// about repeats and conflicts.
#[derive(Default)]
struct Seen {
    /// `flavor`, if given and valid.
    flavor: Option<(Flavor, Ident)>,
    /// `worker_threads`, if given and valid.
    worker_threads: Option<(WorkerThreads, Ident)>,
    /// `start_paused`, if given and valid: the value and its span.
    start_paused: Option<(bool, Span, Ident)>,
    /// `crate`, if given and valid.
    krate: Option<Path>,
    /// Names already given, valid or not, to detect repeats.
    names: Vec<String>,
}

/// Parses and validates the arguments of `#[tether::main(...)]` or
/// `#[tether::test(...)]`.
///
/// Always returns a configuration to expand with; problems are pushed to
/// `errors`.
pub(crate) fn parse(kind: Kind, args: TokenStream, errors: &mut Errors) -> Config {
    let mut seen = Seen::default();
    for entry in split_entries(args, errors) {
        match parse_entry.parse2(entry) {
            Ok(option) => record(kind, option, &mut seen, errors),
            Err(err) => errors.push(err),
        }
    }
    validate(kind, seen, errors)
}

/// Splits the arguments at top-level commas, so that a malformed entry is
/// reported without hiding the entries after it. A trailing comma is
/// allowed; an empty entry elsewhere is reported on its comma.
fn split_entries(args: TokenStream, errors: &mut Errors) -> Vec<TokenStream> {
    let mut entries = Vec::new();
    let mut current = TokenStream::new();
    for token in args {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => {
                if current.is_empty() {
                    errors.push(syn::Error::new(
                        punct.span(),
                        "expected an option before this comma",
                    ));
                }
                entries.push(std::mem::take(&mut current));
            }
            _ => current.extend([token]),
        }
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries.retain(|entry| !entry.is_empty());
    entries
}

/// Parses one entry: `name = value`, or a bare `name` (reported later, with
/// a message that depends on the option).
fn parse_entry(input: ParseStream<'_>) -> syn::Result<RawOption> {
    let tokens = input.fork().parse::<TokenStream>()?;
    let name = input.call(Path::parse_mod_style).map_err(|err| {
        syn::Error::new(
            err.span(),
            "expected an option: `flavor`, `worker_threads`, `start_paused` or `crate`",
        )
    })?;
    let value = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Some(input.parse::<Expr>()?)
    } else {
        // Anything else after the name, such as `flavor("...")`, counts as
        // a missing value; skip it.
        input.parse::<TokenStream>()?;
        None
    };
    Ok(RawOption {
        name,
        value,
        tokens,
    })
}

/// Checks one option on its own and stores it in `seen`.
fn record(kind: Kind, option: RawOption, seen: &mut Seen, errors: &mut Errors) {
    let RawOption {
        name,
        value,
        tokens,
    } = option;
    let key = name.to_token_stream().to_string().replace(' ', "");
    let Some(name) = name.get_ident().filter(|_| OPTIONS.contains(&key.as_str())) else {
        errors.push(syn::Error::new_spanned(
            &name,
            format!(
                "unknown option `{key}` for `{attr}`; the options are `flavor`, \
                 `worker_threads`, `start_paused` and `crate`",
                attr = kind.attribute(),
            ),
        ));
        return;
    };
    if seen.names.contains(&key) {
        errors.push(syn::Error::new(
            name.span(),
            format!("`{key}` is given more than once"),
        ));
        return;
    }
    seen.names.push(key.clone());

    let Some(value) = value else {
        errors.push(syn::Error::new_spanned(tokens, expected_form(&key)));
        return;
    };
    let name = name.clone();
    match key.as_str() {
        "flavor" => match parse_flavor(&value) {
            Ok(flavor) => seen.flavor = Some((flavor, name)),
            Err(err) => errors.push(err),
        },
        "worker_threads" => match parse_worker_threads(&value) {
            Ok(threads) => seen.worker_threads = Some((threads, name)),
            Err(err) => errors.push(err),
        },
        "crate" => match parse_crate(&value) {
            Ok(path) => seen.krate = Some(path),
            Err(err) => errors.push(err),
        },
        "start_paused" => match parse_bool(&value) {
            Ok((paused, span)) => seen.start_paused = Some((paused, span, name)),
            Err(err) => errors.push(err),
        },
        _ => unreachable!("`OPTIONS` lists every handled option"),
    }
}

/// How option `key` is written, for messages about a missing or wrong value.
fn expected_form(key: &str) -> &'static str {
    match key {
        "flavor" => FLAVOR_FORM,
        "worker_threads" => WORKER_THREADS_FORM,
        "crate" => CRATE_FORM,
        "start_paused" => START_PAUSED_FORM,
        _ => unreachable!("`OPTIONS` lists every handled option"),
    }
}

/// How `flavor` is written.
const FLAVOR_FORM: &str = "expected `flavor = \"multi_thread\"` or `flavor = \"current_thread\"`";

/// How `worker_threads` is written.
const WORKER_THREADS_FORM: &str =
    "`worker_threads` takes a positive integer literal, e.g. `worker_threads = 4`";

/// How `start_paused` is written.
const START_PAUSED_FORM: &str =
    "`start_paused` takes a boolean literal, e.g. `start_paused = true`";

/// How `crate` is written.
const CRATE_FORM: &str =
    "`crate` takes the path of the tether crate as a string, e.g. `crate = \"::tether\"`";

/// Checks the options against each other and fills in defaults.
fn validate(kind: Kind, seen: Seen, errors: &mut Errors) -> Config {
    let mut config = Config::defaults(kind);
    if let Some(krate) = seen.krate {
        config.krate = krate;
    }
    let explicit_flavor = seen.flavor.is_some();
    if let Some((flavor, _)) = seen.flavor {
        config.flavor = flavor;
    }

    if let Some((threads, name)) = seen.worker_threads {
        match config.flavor {
            Flavor::MultiThread => config.worker_threads = Some(threads),
            Flavor::CurrentThread if explicit_flavor => errors.push(syn::Error::new(
                name.span(),
                "`worker_threads` cannot be combined with `flavor = \"current_thread\"`, \
                 which runs every task on the calling thread",
            )),
            Flavor::CurrentThread => errors.push(syn::Error::new(
                name.span(),
                format!(
                    "`{attr}` runs on the current-thread runtime unless told otherwise; \
                     add `flavor = \"multi_thread\"` to use `worker_threads`",
                    attr = kind.attribute(),
                ),
            )),
        }
    }
    if let Some((paused, span, name)) = seen.start_paused {
        match config.flavor {
            Flavor::CurrentThread => config.start_paused = paused.then_some(span),
            Flavor::MultiThread if explicit_flavor => errors.push(syn::Error::new(
                name.span(),
                "`start_paused` cannot be combined with `flavor = \"multi_thread\"`: only the \
                 current-thread runtime can tell it is idle and advance a paused clock",
            )),
            Flavor::MultiThread => errors.push(syn::Error::new(
                name.span(),
                format!(
                    "`{attr}` runs on the multi-thread runtime unless told otherwise; add \
                     `flavor = \"current_thread\"` to use `start_paused`",
                    attr = kind.attribute(),
                ),
            )),
        }
    }
    config
}

/// `start_paused = true | false`.
fn parse_bool(value: &Expr) -> syn::Result<(bool, Span)> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            attrs,
        }) if attrs.is_empty() => Ok((lit.value, lit.span)),
        _ => Err(syn::Error::new_spanned(value, START_PAUSED_FORM)),
    }
}

/// The string literal in `value`, or `None` if it is something else.
fn string_literal(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit),
            attrs,
        }) if attrs.is_empty() => Some(lit),
        _ => None,
    }
}

/// The integer literal in `value`, or `None` if it is something else.
fn integer_literal(value: &Expr) -> Option<&LitInt> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit),
            attrs,
        }) if attrs.is_empty() => Some(lit),
        _ => None,
    }
}

/// `flavor = "multi_thread" | "current_thread"`.
fn parse_flavor(value: &Expr) -> syn::Result<Flavor> {
    let Some(lit) = string_literal(value) else {
        return Err(syn::Error::new_spanned(value, FLAVOR_FORM));
    };
    Flavor::from_name(&lit.value()).ok_or_else(|| {
        syn::Error::new(
            lit.span(),
            format!(
                "unknown runtime flavor `{}`; {FLAVOR_FORM}",
                lit.value().escape_debug()
            ),
        )
    })
}

/// `worker_threads = N` with `N` a positive integer literal.
fn parse_worker_threads(value: &Expr) -> syn::Result<WorkerThreads> {
    let Some(lit) = integer_literal(value) else {
        return Err(syn::Error::new_spanned(value, WORKER_THREADS_FORM));
    };
    let count = lit.base10_parse::<usize>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "`worker_threads` is too large; it must fit in a `usize`",
        )
    })?;
    if count == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`worker_threads` must be at least 1",
        ));
    }
    Ok(WorkerThreads {
        count,
        span: lit.span(),
    })
}

/// `crate = "path::to::tether"`.
fn parse_crate(value: &Expr) -> syn::Result<Path> {
    let Some(lit) = string_literal(value) else {
        return Err(syn::Error::new_spanned(value, CRATE_FORM));
    };
    // `LitStr::parse` gives every token of the path the literal's span, so an
    // unresolved path is reported on the user's `crate = "..."`.
    lit.parse::<Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`{}` is not a path; {CRATE_FORM}",
                lit.value().escape_debug()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use quote::{ToTokens, quote};

    use super::*;

    /// Parses `args` for `kind`, returning the configuration and messages.
    fn run(kind: Kind, args: TokenStream) -> (Config, Vec<String>) {
        let mut errors = Errors::default();
        let config = parse(kind, args, &mut errors);
        (config, errors.messages())
    }

    #[test]
    fn defaults_depend_on_the_attribute() {
        let (main, errors) = run(Kind::Main, quote!());
        assert!(errors.is_empty());
        assert_eq!(main.flavor, Flavor::MultiThread);
        assert!(main.worker_threads.is_none());
        assert_eq!(main.krate.to_token_stream().to_string(), ":: tether");

        let (test, errors) = run(Kind::Test, quote!());
        assert!(errors.is_empty());
        assert_eq!(test.flavor, Flavor::CurrentThread);
    }

    #[test]
    fn all_options_together() {
        let (config, errors) = run(
            Kind::Test,
            quote!(
                flavor = "multi_thread",
                worker_threads = 3,
                crate = "my::rt",
            ),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.flavor, Flavor::MultiThread);
        assert_eq!(config.worker_threads.map(|w| w.count), Some(3));
        assert_eq!(config.krate.to_token_stream().to_string(), "my :: rt");
    }

    #[test]
    fn current_thread_flavor_for_main() {
        let (config, errors) = run(Kind::Main, quote!(flavor = "current_thread"));
        assert!(errors.is_empty());
        assert_eq!(config.flavor, Flavor::CurrentThread);
    }

    #[test]
    fn every_problem_is_reported_and_valid_options_still_apply() {
        let (config, errors) = run(
            Kind::Main,
            quote!(
                flavor = "current_thread",
                colour = "blue",
                worker_threads = 0,
                flavor = "multi_thread",
                crate = "::renamed"
            ),
        );
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("unknown option `colour`"));
        assert_eq!(errors[1], "`worker_threads` must be at least 1");
        assert_eq!(errors[2], "`flavor` is given more than once");
        assert_eq!(config.flavor, Flavor::CurrentThread);
        assert_eq!(config.krate.to_token_stream().to_string(), ":: renamed");
    }

    #[test]
    fn worker_threads_needs_the_multi_thread_flavor() {
        let (config, errors) = run(
            Kind::Main,
            quote!(flavor = "current_thread", worker_threads = 2),
        );
        assert!(config.worker_threads.is_none());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("cannot be combined with `flavor = \"current_thread\"`"));

        let (_, errors) = run(Kind::Test, quote!(worker_threads = 2));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("add `flavor = \"multi_thread\"`"));

        let (config, errors) = run(Kind::Main, quote!(worker_threads = 2));
        assert!(errors.is_empty());
        assert_eq!(config.worker_threads.map(|w| w.count), Some(2));
    }

    #[test]
    fn start_paused_needs_the_current_thread_flavor() {
        let (config, errors) = run(Kind::Test, quote!(start_paused = true));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(config.start_paused.is_some());

        let (config, errors) = run(Kind::Test, quote!(start_paused = false));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(config.start_paused.is_none());

        let (config, errors) = run(
            Kind::Main,
            quote!(flavor = "current_thread", start_paused = true),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(config.start_paused.is_some());

        let (_, errors) = run(Kind::Main, quote!(start_paused = true));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("add `flavor = \"current_thread\"`"));

        let (config, errors) = run(
            Kind::Test,
            quote!(flavor = "multi_thread", start_paused = true),
        );
        assert!(config.start_paused.is_none());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("cannot be combined with `flavor = \"multi_thread\"`"));

        let (_, errors) = run(Kind::Test, quote!(start_paused = "yes"));
        assert_eq!(errors, [START_PAUSED_FORM]);
    }

    #[test]
    fn values_of_the_wrong_kind() {
        for (args, expected) in [
            (
                quote!(flavor = multi_thread),
                "expected `flavor = \"multi_thread\"`",
            ),
            (
                quote!(flavor = "Multi_Thread"),
                "unknown runtime flavor `Multi_Thread`",
            ),
            (quote!(worker_threads = "2"), "positive integer literal"),
            (quote!(worker_threads = -2), "positive integer literal"),
            (quote!(worker_threads = 1.5), "positive integer literal"),
            (quote!(crate = tether), "as a string"),
            (quote!(crate = "a b"), "`a b` is not a path"),
        ] {
            let (_, errors) = run(Kind::Main, args.clone());
            assert_eq!(errors.len(), 1, "{args}: {errors:?}");
            assert!(errors[0].contains(expected), "{args}: {errors:?}");
        }
    }

    #[test]
    fn malformed_entries_are_reported_one_by_one() {
        let (config, errors) = run(
            Kind::Main,
            quote!(
                flavor,
                worker_threads(2),
                threadpool::size = 3,
                crate = "::rt"
            ),
        );
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0], FLAVOR_FORM);
        assert_eq!(errors[1], WORKER_THREADS_FORM);
        assert!(errors[2].starts_with("unknown option `threadpool::size`"));
        // The valid entry after the malformed ones still applies.
        assert_eq!(config.krate.to_token_stream().to_string(), ":: rt");
        assert_eq!(config.flavor, Flavor::MultiThread);
    }

    #[test]
    fn syntax_errors_inside_an_entry() {
        let (config, errors) = run(
            Kind::Main,
            quote!(flavor = "current_thread" worker_threads = 2),
        );
        assert_eq!(errors, ["unexpected token"]);
        assert_eq!(config.flavor, Flavor::MultiThread);

        let (_, errors) = run(Kind::Main, quote!(, flavor = "current_thread",));
        assert_eq!(errors, ["expected an option before this comma"]);

        let (_, errors) = run(Kind::Main, quote!("flavor" = "current_thread"));
        assert_eq!(
            errors,
            ["expected an option: `flavor`, `worker_threads`, `start_paused` or `crate`"]
        );
    }
}
