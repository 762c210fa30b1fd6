//! borrow_vs_arc: one job written twice, with `tokio::spawn` + `Arc` and
//! with a tether scope.
//!
//! The job is a small search service answering a batch of queries
//! concurrently. Every query handler reads three things that live in `main`:
//!
//! * `config: Config`: ranking settings and stop words (read-only);
//! * `index: Index`: an inverted index over a few thousand documents
//!   (read-only, the expensive thing to build);
//! * `stats: Mutex<Stats>`: service counters every handler updates.
//!
//! Both versions run the *same* handler, `async fn handle(&Request,
//! &Config, &Index, &Mutex<Stats>)`; only the fan-out around it differs.
//!
//! With tokio, `tokio::spawn` requires `'static`, so a task may not borrow
//! `main`'s locals. Everything shared moves to the heap behind an `Arc`
//! (`Arc<Mutex<Stats>>` for the counters), and each task gets its own clone
//! of every `Arc`, bumping three atomic reference counts per request:
//!
//! ```text
//! let config = Arc::new(config);                      // and index, stats
//! for req in requests {
//!     let (config, index, stats) = (config.clone(), index.clone(), stats.clone());
//!     handles.push(tokio::spawn(async move { handle(&req, &config, &index, &stats).await }));
//! }
//! ```
//!
//! With tether, the handlers are children of a `tether::scope`: they take
//! `&config`, `&index` and `&stats` straight from the caller's stack (the
//! statistics behind a plain `Mutex`, no `Arc`), run in parallel on the
//! runtime's workers, and the scope does not complete before every child
//! has, which is what lets the borrow checker accept the borrows:
//!
//! ```text
//! tether::scope(|s| async move {
//!     for req in requests {
//!         s.spawn(handle(req, config, index, stats));   // plain references
//!     }
//! })
//! ```
//!
//! The program checks that both versions return identical responses and
//! statistics (it exits with status 1 otherwise), prints the time of each
//! (for information: the criterion benches compare runtimes properly) and
//! counts every `Arc::new` and `Arc::clone` the tokio version made (each one
//! goes through the `counted` helpers below).
//!
//! ```sh
//! cargo run --example borrow_vs_arc              # the full batch
//! cargo run --example borrow_vs_arc -- --small   # a quick run
//! ```

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tether_examples::{Rng, Size, millis};

/// Documents in the index (full run, `--small` run).
const DOCS: (usize, usize) = (1_500, 300);
/// Queries in the batch (full run, `--small` run).
const REQUESTS: (usize, usize) = (1_200, 200);
/// Words per document: long enough that common words repeat in a document.
const WORDS_PER_DOC: usize = 24;
/// Leading words of a document that form its title (and score higher).
const TITLE_WORDS: usize = 3;
/// Distinct words in the generated corpus.
const VOCABULARY: usize = 600;
/// Seed of the generated corpus and queries (any value works; fixed so runs
/// are comparable).
const SEED: u64 = 0x7e7e_5eed;

/// Ranking settings, read by every handler.
#[derive(Debug, Clone)]
struct Config {
    /// Most documents returned per query.
    max_results: usize,
    /// Weight of a match in a document's title relative to one in its body.
    title_boost: u32,
    /// Documents scoring below this are not returned.
    min_score: u32,
    /// Query words ignored by the ranking.
    stop_words: HashSet<String>,
}

/// One occurrence list entry: `doc` contains the word `count` times.
#[derive(Debug, Clone, Copy)]
struct Posting {
    /// Document number.
    doc: u32,
    /// Occurrences of the word in the document's body.
    count: u16,
    /// Whether the word is in the document's title.
    in_title: bool,
}

/// An inverted index: for each word, the documents containing it.
#[derive(Debug)]
struct Index {
    /// Word to postings, each list sorted by document number.
    postings: HashMap<String, Vec<Posting>>,
    /// Number of indexed documents.
    docs: usize,
}

/// One query of the batch.
#[derive(Debug, Clone)]
struct Request {
    /// Position in the batch.
    id: u32,
    /// Query words (some are stop words, some are not in the corpus).
    terms: Vec<String>,
}

/// The answer to one query: the best documents, best first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Response {
    /// The request's id.
    id: u32,
    /// `(document, score)`, by score descending then document ascending.
    hits: Vec<(u32, u32)>,
}

/// Counters updated by every handler (order-independent, so both versions
/// must end with exactly the same values).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Stats {
    /// Queries answered.
    requests: u64,
    /// Query words looked up in the index.
    lookups: u64,
    /// Query words skipped as stop words.
    stop_words_skipped: u64,
    /// Query words absent from the index.
    unknown_words: u64,
    /// Postings read, over all lookups.
    postings_scanned: u64,
    /// Documents returned, over all queries.
    hits_returned: u64,
    /// Queries that returned nothing.
    empty_responses: u64,
}

/// Answers one query. Both versions run exactly this function.
async fn handle(req: &Request, config: &Config, index: &Index, stats: &Mutex<Stats>) -> Response {
    let mut scores: HashMap<u32, u32> = HashMap::new();
    let mut local = Stats {
        requests: 1,
        ..Stats::default()
    };
    for term in &req.terms {
        if config.stop_words.contains(term) {
            local.stop_words_skipped += 1;
            continue;
        }
        // Where a real handler would wait for storage, this one lets its
        // executor run other requests. `tether::yield_now` only wakes the
        // current task and returns `Pending` once, so it works under tokio
        // too: both versions really do run the same handler.
        tether::yield_now().await;
        local.lookups += 1;
        let Some(postings) = index.postings.get(term) else {
            local.unknown_words += 1;
            continue;
        };
        local.postings_scanned += postings.len() as u64;
        for p in postings {
            let weight = if p.in_title { config.title_boost } else { 1 };
            *scores.entry(p.doc).or_default() += u32::from(p.count) * weight;
        }
    }
    let mut hits: Vec<(u32, u32)> = scores
        .into_iter()
        .filter(|&(_, score)| score >= config.min_score)
        .collect();
    hits.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    hits.truncate(config.max_results);
    local.hits_returned = hits.len() as u64;
    local.empty_responses = u64::from(hits.is_empty());

    // The lock is held for a few additions, never across an `.await`.
    let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
    stats.requests += local.requests;
    stats.lookups += local.lookups;
    stats.stop_words_skipped += local.stop_words_skipped;
    stats.unknown_words += local.unknown_words;
    stats.postings_scanned += local.postings_scanned;
    stats.hits_returned += local.hits_returned;
    stats.empty_responses += local.empty_responses;
    Response { id: req.id, hits }
}

/// The tether version: every handler borrows `config`, `index` and `stats`.
///
/// No `Arc`, no clone, no `'static`: the scope's children may borrow
/// anything that outlives the scope future.
async fn serve_tether(
    requests: &[Request],
    config: &Config,
    index: &Index,
    stats: &Mutex<Stats>,
) -> Vec<Response> {
    tether::scope(|s| async move {
        let handles: Vec<_> = requests
            .iter()
            .map(|req| s.spawn(handle(req, config, index, stats)))
            .collect();
        let mut responses = Vec::with_capacity(handles.len());
        for h in handles {
            responses.push(h.await.expect("a handler panicked"));
        }
        responses
    })
    .await
}

/// Every `Arc` the tokio version creates or clones goes through these two
/// functions, so the counts printed at the end are exact.
mod counted {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// `Arc::new` calls so far.
    pub static NEW: AtomicUsize = AtomicUsize::new(0);
    /// `Arc::clone` calls so far.
    pub static CLONE: AtomicUsize = AtomicUsize::new(0);

    /// `Arc::new(value)`, counted.
    pub fn new<T>(value: T) -> Arc<T> {
        NEW.fetch_add(1, Ordering::Relaxed);
        Arc::new(value)
    }

    /// `Arc::clone(arc)`, counted.
    pub fn clone<T>(arc: &Arc<T>) -> Arc<T> {
        CLONE.fetch_add(1, Ordering::Relaxed);
        Arc::clone(arc)
    }
}

/// The tokio version: `tokio::spawn` needs `'static` futures, so the shared
/// data moves behind `Arc`s and each task owns a clone of every one.
async fn serve_tokio(
    requests: Vec<Request>,
    config: Config,
    index: Index,
) -> (Vec<Response>, Stats) {
    let config = counted::new(config);
    let index = counted::new(index);
    let stats = counted::new(Mutex::new(Stats::default()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let config = counted::clone(&config);
            let index = counted::clone(&index);
            let stats = counted::clone(&stats);
            tokio::spawn(async move { handle(&req, &config, &index, &stats).await })
        })
        .collect();
    let mut responses = Vec::with_capacity(handles.len());
    for h in handles {
        responses.push(h.await.expect("a handler panicked"));
    }
    let stats = std::mem::take(&mut *stats.lock().unwrap_or_else(PoisonError::into_inner));
    (responses, stats)
}

/// Pronounceable generated words, so sample output is readable.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "go", "hi", "ju", "pe",
        "zo",
    ];
    let mut seen = HashSet::new();
    let mut words = Vec::with_capacity(VOCABULARY);
    while words.len() < VOCABULARY {
        let syllables = 2 + rng.below(2);
        let word: String = (0..syllables)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words
}

/// A word index skewed towards small values, so a few words are frequent
/// and most are rare, as in real text.
fn skewed(rng: &mut Rng, n: usize) -> usize {
    let bound = rng.below(n) + 1;
    rng.below(bound)
}

/// Builds the configuration, the index and the query batch.
fn generate(size: Size) -> (Config, Index, Vec<Request>) {
    let mut rng = Rng::new(SEED);
    let words = vocabulary(&mut rng);
    let docs = size.pick(DOCS.0, DOCS.1);

    let mut postings: HashMap<String, Vec<Posting>> = HashMap::new();
    for doc in 0..docs {
        let mut counts: HashMap<usize, (u16, bool)> = HashMap::new();
        for position in 0..WORDS_PER_DOC {
            let entry = counts.entry(skewed(&mut rng, words.len())).or_default();
            entry.0 += 1;
            entry.1 |= position < TITLE_WORDS;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_unstable_by_key(|&(word, _)| word);
        for (word, (count, in_title)) in counts {
            postings
                .entry(words[word].clone())
                .or_default()
                .push(Posting {
                    doc: doc as u32,
                    count,
                    in_title,
                });
        }
    }
    let index = Index { postings, docs };

    // The most frequent words are the stop words.
    let config = Config {
        max_results: 10,
        title_boost: 3,
        min_score: 2,
        stop_words: words[..8].iter().cloned().collect(),
    };

    let requests = (0..size.pick(REQUESTS.0, REQUESTS.1))
        .map(|id| {
            let terms = (0..1 + rng.below(4))
                .map(|_| match rng.below(20) {
                    // Now and then a word that is in no document.
                    0 => format!("{}x", words[rng.below(words.len())]),
                    _ => words[skewed(&mut rng, words.len())].clone(),
                })
                .collect();
            Request {
                id: id as u32,
                terms,
            }
        })
        .collect();
    (config, index, requests)
}

/// A one-line fingerprint of a result, printed for both versions.
fn summary(responses: &[Response], stats: &Stats) -> String {
    let mut hasher = DefaultHasher::new();
    responses.hash(&mut hasher);
    format!(
        "{} responses, {} hits, {} empty, {} postings scanned, digest {:016x}",
        responses.len(),
        stats.hits_returned,
        stats.empty_responses,
        stats.postings_scanned,
        hasher.finish(),
    )
}

fn main() -> std::io::Result<()> {
    let size = Size::from_args(
        "borrow_vs_arc",
        "Answers a batch of search queries twice, with tokio::spawn + Arc and with\n\
         a tether scope borrowing the configuration, index and statistics, then\n\
         checks that both gave identical results.\n\n\
         --small   a smaller batch (what CI runs)",
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (config, index, requests) = generate(size);

    println!("borrow_vs_arc: the same search job, with tokio::spawn + Arc and with tether::scope");
    println!(
        "  {} queries, one task each, all reading one Config and one Index ({} documents,\n  \
         {} words) and updating one Stats behind a Mutex; {} worker threads per runtime.",
        requests.len(),
        index.docs,
        index.postings.len(),
        workers,
    );
    if let Some(req) = requests.first() {
        println!("  e.g. query #{} {:?}", req.id, req.terms);
    }
    println!();

    // tether first: it only borrows, so `config`, `index` and `requests` are
    // still ours afterwards, to move into the tokio version.
    let rt = tether::Runtime::builder().worker_threads(workers).build()?;
    let stats = Mutex::new(Stats::default());
    let start = Instant::now();
    // The job borrows these locals; the scope inside it spreads the
    // handlers over every worker (`block_on` forks, the workers steal).
    let tether_responses = rt.block_on(serve_tether(&requests, &config, &index, &stats));
    let tether_time = start.elapsed();
    let tether_stats = stats.into_inner().unwrap_or_else(PoisonError::into_inner);
    drop(rt);

    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()?;
    let start = Instant::now();
    let (tokio_responses, tokio_stats) = tokio_rt.block_on(serve_tokio(requests, config, index));
    let tokio_time = start.elapsed();
    drop(tokio_rt);

    let arc_new = counted::NEW.load(std::sync::atomic::Ordering::Relaxed);
    let arc_clone = counted::CLONE.load(std::sync::atomic::Ordering::Relaxed);
    let per_task = arc_clone.checked_div(tokio_responses.len()).unwrap_or(0);
    println!("tokio::spawn + Arc   {:>9}", millis(tokio_time));
    println!("  {}", summary(&tokio_responses, &tokio_stats));
    println!(
        "  Arc::new: {arc_new}, Arc::clone: {arc_clone} ({per_task} per task, each an atomic \
         increment, then a decrement)"
    );
    println!("tether::scope        {:>9}", millis(tether_time));
    println!("  {}", summary(&tether_responses, &tether_stats));
    println!("  Arc::new: 0, Arc::clone: 0 (handlers borrow &config, &index and &stats)");
    println!();

    let identical = tether_responses == tokio_responses && tether_stats == tokio_stats;
    println!("identical: {identical}");
    if !identical {
        eprintln!("borrow_vs_arc: the two versions disagree");
        eprintln!("  tokio:  {tokio_stats:?}");
        eprintln!("  tether: {tether_stats:?}");
        std::process::exit(1);
    }
    Ok(())
}
