//! request_arena: per-request scratch memory in an arena owned by the
//! request handler's frame, borrowed by the request's child tasks, and freed
//! in one go when the handler returns.
//!
//! This is the allocator-per-request idea of Zig web frameworks (derive an
//! arena for each request, let the handler allocate freely, free everything
//! at once when the response is sent), done in Rust with plain borrows.
//!
//! The job: an order service. A request body is an order (a customer, a
//! discount and a few hundred `sku, quantity` lines); the response is the
//! priced invoice. The handler parses the body into a `bumpalo` arena
//! (normalised SKUs, the line table, one result slot per line) and fans the
//! pricing out to child tasks, one per 32-line chunk. Every child borrows
//! the parsed order header, its chunk of lines, its own slots and the
//! shared product catalog:
//!
//! ```text
//! let arena = Bump::with_capacity(arena_capacity(body));        // this frame owns it
//! let (header, entries, slots) = parse_into(&arena, body);      // all in the arena
//! tether::scope(|s| async move {
//!     for (lines, slots) in entries.chunks(32).zip(slots.chunks_mut(32)) {
//!         s.spawn(async move { /* price `lines` into `slots`, reading `header`, `catalog` */ });
//!     }
//! })
//! .await;
//! render(header, entries, slots, catalog)   // the invoice; then `arena` drops: one free
//! ```
//!
//! With `tokio::spawn` the children must be `'static`, so they cannot borrow
//! arena memory (nor the handler's locals): the parsed order has to be
//! rebuilt out of owned `String`s behind an `Arc`, the catalog shared through
//! an `Arc`, and each child's results returned in a `Vec` of their own,
//! every one a separate heap allocation freed separately. (A careful tokio
//! version can trim some of that, e.g. with offsets into an `Arc<str>`, but
//! it cannot hand a child memory that dies with the request.)
//!
//! The program runs both versions over the same requests, checks that the
//! invoices are identical (exit status 1 otherwise), and counts heap
//! allocations with a counting global allocator (runtime internals
//! included, on every thread).
//!
//! ```sh
//! cargo run --example request_arena
//! cargo run --example request_arena -- --small
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bumpalo::Bump;
use tether_examples::{CountingAlloc, Rng, Size, millis};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Order requests (full run, `--small` run).
const REQUESTS: (usize, usize) = (200, 24);
/// Products in the catalog.
const PRODUCTS: usize = 2_000;
/// Order lines per child task: big enough that a child does real work,
/// small enough that a typical order spreads over several workers.
const LINES_PER_CHILD: usize = 32;
/// Typical length of an invoice line, to size the invoice up front.
const INVOICE_LINE_BYTES: usize = 64;
/// Seed of the generated catalog and orders.
const SEED: u64 = 0x0a7e_4a5e;

/// A product of the catalog.
#[derive(Debug)]
struct Product {
    /// Display name.
    name: String,
    /// Unit price in cents.
    price: u64,
}

/// The product catalog, shared by every request.
#[derive(Debug)]
struct Catalog {
    /// Products, indexed by their position.
    products: Vec<Product>,
    /// Normalised SKU to product index.
    by_sku: HashMap<String, u32>,
}

/// One line of an order body, parsed.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    /// `sku, quantity`.
    Item {
        /// 1-based line number in the body.
        line: u32,
        /// The SKU, trimmed and upper-cased.
        sku: &'a str,
        /// How many.
        quantity: u32,
    },
    /// A line that is not `sku, quantity`.
    Invalid {
        /// 1-based line number in the body.
        line: u32,
        /// The offending text.
        text: &'a str,
    },
}

/// The parsed header of an order, read by every child of its request.
#[derive(Debug, Clone, Copy)]
struct Header<'a> {
    /// The customer, upper-cased.
    customer: &'a str,
    /// Discount in percent, applied to every line.
    discount: u64,
}

/// The result of pricing one entry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Priced {
    /// Not priced (yet).
    #[default]
    Pending,
    /// A known product: its index and the discounted line total in cents.
    Item {
        /// Index into [`Catalog::products`].
        product: u32,
        /// Line total after the discount, in cents.
        cents: u64,
    },
    /// The SKU is not in the catalog.
    Unknown,
    /// The line could not be parsed.
    Invalid,
}

/// Prices one entry: the per-line work both versions share.
fn price(header: Header<'_>, entry: &Entry<'_>, catalog: &Catalog) -> Priced {
    match *entry {
        Entry::Item { sku, quantity, .. } => match catalog.by_sku.get(sku) {
            Some(&product) => {
                let gross = catalog.products[product as usize].price * u64::from(quantity);
                Priced::Item {
                    product,
                    cents: gross - gross * header.discount / 100,
                }
            }
            None => Priced::Unknown,
        },
        Entry::Invalid { .. } => Priced::Invalid,
    }
}

/// Parses one body line (`line` is 1-based); `normalise` stores the
/// upper-cased SKU wherever the caller keeps its memory.
fn parse_line<'a>(
    line: u32,
    text: &'a str,
    normalise: impl FnOnce(&'a str) -> &'a str,
) -> Entry<'a> {
    let parsed = text
        .split_once(',')
        .and_then(|(sku, quantity)| Some((sku.trim(), quantity.trim().parse().ok()?)))
        .filter(|(sku, _)| !sku.is_empty());
    match parsed {
        Some((sku, quantity)) => Entry::Item {
            line,
            sku: normalise(sku),
            quantity,
        },
        None => Entry::Invalid { line, text },
    }
}

/// Splits a body into its header fields and its order lines (numbered from
/// 1 after the `---` separator).
fn split_body(body: &str) -> (&str, u64, impl Iterator<Item = (u32, &str)>) {
    let (head, lines) = body.split_once("\n---\n").unwrap_or(("", body));
    let mut customer = "";
    let mut discount = 0;
    for field in head.lines() {
        match field.split_once(':') {
            Some(("customer", v)) => customer = v.trim(),
            Some(("discount", v)) => discount = v.trim().parse::<u64>().unwrap_or(0).min(100),
            _ => {}
        }
    }
    let lines = lines.lines().zip(1..).map(|(text, n)| (n, text));
    (customer, discount, lines)
}

/// Writes the invoice: the only memory that outlives the request.
fn render<'e>(
    header: Header<'_>,
    entries: impl ExactSizeIterator<Item = (Entry<'e>, Priced)>,
    catalog: &Catalog,
) -> String {
    let mut out = String::with_capacity((entries.len() + 2) * INVOICE_LINE_BYTES);
    let _ = writeln!(
        out,
        "invoice for {} ({}% discount)",
        header.customer, header.discount
    );
    let (mut total, mut items, mut unknown, mut invalid) = (0u64, 0u64, 0u32, 0u32);
    for (entry, priced) in entries {
        match (entry, priced) {
            (
                Entry::Item {
                    line,
                    sku,
                    quantity,
                },
                Priced::Item { product, cents },
            ) => {
                let p = &catalog.products[product as usize];
                let _ = writeln!(
                    out,
                    "{line:>4}  {sku:<8} {:<14} {quantity:>3} x {:>4}.{:02} = {:>6}.{:02}",
                    p.name,
                    p.price / 100,
                    p.price % 100,
                    cents / 100,
                    cents % 100,
                );
                total += cents;
                items += u64::from(quantity);
            }
            (Entry::Item { line, sku, .. }, _) => {
                let _ = writeln!(out, "{line:>4}  {sku:<8} unknown product");
                unknown += 1;
            }
            (Entry::Invalid { line, text }, _) => {
                let _ = writeln!(out, "{line:>4}  cannot read {text:?}");
                invalid += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "total {}.{:02} for {items} items ({unknown} unknown, {invalid} unreadable lines)",
        total / 100,
        total % 100,
    );
    out
}

/// What the arena version reports about one request's arena.
#[derive(Debug, Clone, Copy, Default)]
struct ArenaUse {
    /// Bytes handed out by the arena.
    used: usize,
    /// Chunks the arena took from the heap (each one allocation).
    chunks: usize,
}

/// Bytes that parsing `body` takes from its arena, at most: an entry and a
/// result slot per line, plus the normalised SKUs and customer, which are
/// never longer than the body's text. Reserving this up front lets one heap
/// allocation hold the whole request.
fn arena_capacity(body: &str) -> usize {
    let lines = body.lines().count();
    lines * (size_of::<Entry<'_>>() + size_of::<Priced>()) + body.len()
}

/// Parses `body` into `arena`: the order header, its lines, and one result
/// slot per line. Nothing here touches the heap except through the arena.
fn parse_into<'a>(
    arena: &'a Bump,
    body: &'a str,
) -> (Header<'a>, &'a [Entry<'a>], &'a mut [Priced]) {
    let (customer, discount, lines) = split_body(body);
    let mut customer = bumpalo::collections::String::from_str_in(customer, arena);
    customer.make_ascii_uppercase();
    let header = Header {
        customer: customer.into_bump_str(),
        discount,
    };
    let mut entries = bumpalo::collections::Vec::with_capacity_in(body.lines().count(), arena);
    for (n, text) in lines {
        entries.push(parse_line(n, text, |sku| {
            let mut sku = bumpalo::collections::String::from_str_in(sku, arena);
            sku.make_ascii_uppercase();
            sku.into_bump_str()
        }));
    }
    let entries = entries.into_bump_slice();
    let slots = arena.alloc_slice_fill_default(entries.len());
    (header, entries, slots)
}

/// The tether handler. Everything it allocates lives in `arena`, owned by
/// this frame; the children borrow it; it is freed when the frame ends.
async fn handle_in_arena(body: &str, catalog: &Catalog) -> (String, ArenaUse) {
    let mut arena = Bump::with_capacity(arena_capacity(body));
    let invoice = {
        let (header, entries, slots) = parse_into(&arena, body);
        // Lent to the children for the scope's duration.
        let lent = &mut *slots;
        tether::scope(|s| async move {
            for (lines, slots) in entries
                .chunks(LINES_PER_CHILD)
                .zip(lent.chunks_mut(LINES_PER_CHILD))
            {
                s.spawn(async move {
                    for (entry, slot) in lines.iter().zip(slots) {
                        *slot = price(header, entry, catalog);
                    }
                });
            }
        })
        .await;
        // The scope has ended: no child holds a borrow any more, so the
        // slots are ours to read again.
        render(
            header,
            entries.iter().copied().zip(slots.iter().copied()),
            catalog,
        )
    };
    let usage = ArenaUse {
        used: arena.iter_allocated_chunks().map(|c| c.len()).sum(),
        chunks: arena.iter_allocated_chunks().count(),
    };
    (invoice, usage)
    // `arena` drops here: its chunks are freed at once.
}

/// The tether server: one task per request, all borrowing the catalog and
/// the request bodies.
fn serve_tether(
    rt: &tether::Runtime,
    bodies: &[String],
    catalog: &Catalog,
) -> Vec<(String, ArenaUse)> {
    rt.scope(|s| {
        let handlers: Vec<_> = bodies
            .iter()
            .map(|body| s.spawn(handle_in_arena(body, catalog)))
            .collect();
        handlers
            .into_iter()
            .map(|h| h.join().expect("a request handler panicked"))
            .collect()
    })
}

/// An owned order line, for the tokio version.
#[derive(Debug)]
enum OwnedEntry {
    /// `sku, quantity`.
    Item {
        /// 1-based line number.
        line: u32,
        /// The normalised SKU, in its own allocation.
        sku: String,
        /// How many.
        quantity: u32,
    },
    /// An unreadable line.
    Invalid {
        /// 1-based line number.
        line: u32,
        /// The offending text, in its own allocation.
        text: String,
    },
}

impl OwnedEntry {
    /// The borrowed form the shared functions take.
    fn view(&self) -> Entry<'_> {
        match self {
            OwnedEntry::Item {
                line,
                sku,
                quantity,
            } => Entry::Item {
                line: *line,
                sku,
                quantity: *quantity,
            },
            OwnedEntry::Invalid { line, text } => Entry::Invalid { line: *line, text },
        }
    }
}

/// An owned order, shared by a request's tokio tasks through an `Arc`.
#[derive(Debug)]
struct OwnedOrder {
    /// The customer, upper-cased.
    customer: String,
    /// Discount in percent.
    discount: u64,
    /// The order lines.
    entries: Vec<OwnedEntry>,
}

/// The tokio handler: children must be `'static`, so they share the order
/// and the catalog through `Arc`s and return their results by value.
async fn handle_owned(body: String, catalog: Arc<Catalog>) -> String {
    let (customer, discount, lines) = split_body(&body);
    let entries = lines
        .map(|(n, text)| match parse_line(n, text, |sku| sku) {
            Entry::Item {
                line,
                sku,
                quantity,
            } => OwnedEntry::Item {
                line,
                sku: sku.to_ascii_uppercase(),
                quantity,
            },
            Entry::Invalid { line, text } => OwnedEntry::Invalid {
                line,
                text: text.to_owned(),
            },
        })
        .collect();
    let order = Arc::new(OwnedOrder {
        customer: customer.to_ascii_uppercase(),
        discount,
        entries,
    });
    let len = order.entries.len();
    let children: Vec<_> = (0..len)
        .step_by(LINES_PER_CHILD)
        .map(|start| {
            let order = Arc::clone(&order);
            let catalog = Arc::clone(&catalog);
            tokio::spawn(async move {
                let header = Header {
                    customer: &order.customer,
                    discount: order.discount,
                };
                let end = (start + LINES_PER_CHILD).min(order.entries.len());
                order.entries[start..end]
                    .iter()
                    .map(|e| price(header, &e.view(), &catalog))
                    .collect::<Vec<Priced>>()
            })
        })
        .collect();
    let mut priced = Vec::with_capacity(len);
    for child in children {
        priced.extend(child.await.expect("a pricing task panicked"));
    }
    let header = Header {
        customer: &order.customer,
        discount: order.discount,
    };
    let entries = order.entries.iter().map(OwnedEntry::view);
    render(header, entries.zip(priced), &catalog)
}

/// The tokio server: one task per request, each owning its body and an
/// `Arc` of the catalog.
async fn serve_tokio(bodies: Vec<String>, catalog: Arc<Catalog>) -> Vec<String> {
    let handlers: Vec<_> = bodies
        .into_iter()
        .map(|body| tokio::spawn(handle_owned(body, Arc::clone(&catalog))))
        .collect();
    let mut invoices = Vec::with_capacity(handlers.len());
    for h in handlers {
        invoices.push(h.await.expect("a request handler panicked"));
    }
    invoices
}

/// Builds the catalog and the order bodies.
fn generate(size: Size) -> (Catalog, Vec<String>) {
    const NAMES: [&str; 8] = [
        "bolt", "gear", "valve", "spring", "bracket", "hinge", "pulley", "washer",
    ];
    let mut rng = Rng::new(SEED);
    let products: Vec<Product> = (0..PRODUCTS)
        .map(|i| Product {
            name: format!("{} {}", NAMES[i % NAMES.len()], i / NAMES.len()),
            price: 50 + rng.below(20_000) as u64,
        })
        .collect();
    let by_sku = (0..PRODUCTS)
        .map(|i| (format!("SK-{i:04}"), i as u32))
        .collect();
    let catalog = Catalog { products, by_sku };

    let bodies = (0..size.pick(REQUESTS.0, REQUESTS.1))
        .map(|_| {
            let mut body = format!(
                "customer: acme-{}\ndiscount: {}\n---\n",
                rng.below(500),
                [0, 5, 10, 15][rng.below(4)],
            );
            for _ in 0..100 + rng.below(300) {
                let _ = match rng.below(50) {
                    0 => writeln!(body, "sk-{:04}, lots", rng.below(PRODUCTS)),
                    1 => writeln!(body, "sk-{:04}, {}", PRODUCTS + rng.below(100), 1),
                    // Mixed case and stray spaces: the handler normalises.
                    _ => writeln!(
                        body,
                        " {}-{:04} ,{}",
                        if rng.below(2) == 0 { "sk" } else { "SK" },
                        rng.below(PRODUCTS),
                        1 + rng.below(20)
                    ),
                };
            }
            body
        })
        .collect();
    (catalog, bodies)
}

/// Runs `f` and returns its output, its wall time and the heap allocations
/// made meanwhile (on every thread).
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, u64) {
    let allocations = CountingAlloc::allocations();
    let start = Instant::now();
    let out = f();
    (
        out,
        start.elapsed(),
        CountingAlloc::allocations() - allocations,
    )
}

fn main() -> std::io::Result<()> {
    let size = Size::from_args(
        "request_arena",
        "Serves a batch of order requests whose handlers keep all scratch memory in\n\
         a per-request arena borrowed by their child tasks, then the same with\n\
         tokio::spawn + Arc, and compares invoices and heap allocations.\n\n\
         --small   fewer requests (what CI runs)",
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (catalog, bodies) = generate(size);
    let lines: usize = bodies.iter().map(|b| split_body(b).2.count()).sum();

    println!("request_arena: per-request scratch memory, borrowed by the request's child tasks");
    println!(
        "  {} order requests ({lines} lines) against a catalog of {} products; each handler\n  \
         parses its body into an arena it owns, {LINES_PER_CHILD}-line chunks are priced by child\n  \
         tasks borrowing that arena, and the arena is freed in one go when the handler returns.\n  \
         {workers} worker threads per runtime.",
        bodies.len(),
        catalog.products.len(),
    );
    println!();

    let rt = tether::Runtime::builder().worker_threads(workers).build()?;
    let (tether_out, tether_time, tether_allocs) = measure(|| serve_tether(&rt, &bodies, &catalog));
    drop(rt);

    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()?;
    let requests = bodies.len() as f64;
    let (tokio_out, tokio_time, tokio_allocs) =
        measure(|| tokio_rt.block_on(serve_tokio(bodies, Arc::new(catalog))));
    drop(tokio_rt);

    let arena_used: usize = tether_out.iter().map(|(_, u)| u.used).sum();
    let arena_chunks: usize = tether_out.iter().map(|(_, u)| u.chunks).sum();
    println!(
        "tokio::spawn + Arc      {:>9}  {:>6.1} heap allocations per request",
        millis(tokio_time),
        tokio_allocs as f64 / requests,
    );
    println!(
        "tether::scope + arena   {:>9}  {:>6.1} heap allocations per request",
        millis(tether_time),
        tether_allocs as f64 / requests,
    );
    println!(
        "  tether, per request: one arena ({:.1} KiB used on average, {:.2} heap chunks) freed in\n  \
         one go, the invoice String (the only memory that outlives the request), and the\n  \
         runtime's task and scope bookkeeping. tokio, per request: an owned String per order\n  \
         line, the order's Vec and Arc, a result Vec per child task, the invoice, and tokio's\n  \
         task bookkeeping.",
        arena_used as f64 / requests / 1024.0,
        arena_chunks as f64 / requests,
    );
    println!();

    let identical = tether_out.len() == tokio_out.len()
        && tether_out.iter().zip(&tokio_out).all(|((a, _), b)| a == b);
    if let Some((invoice, _)) = tether_out.first() {
        println!("first invoice (head and tail):");
        let lines: Vec<&str> = invoice.lines().collect();
        for line in lines.iter().take(4) {
            println!("  | {line}");
        }
        println!("  | ...");
        for line in lines.iter().skip(lines.len().saturating_sub(2)) {
            println!("  | {line}");
        }
        println!();
    }
    println!("identical: {identical}");
    if !identical {
        eprintln!("request_arena: the two versions wrote different invoices");
        std::process::exit(1);
    }
    Ok(())
}
