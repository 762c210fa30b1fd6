//! library_scope: a library that uses a scope internally works under any
//! runtime.
//!
//! The library here is a tiny key-value client, `kv::Client`, whose
//! `async fn fetch_all(&self, keys: &[Key])` looks up many keys at once.
//! Written with `tokio::spawn`, the fan-out would leak into the API and tie
//! the library to one runtime:
//!
//! ```text
//! pub async fn fetch_all(self: Arc<Self>, keys: Arc<[Key]>) -> Vec<Option<Value>> {
//!     let tasks: Vec<_> = (0..keys.len())
//!         .map(|i| {
//!             let (client, keys) = (self.clone(), keys.clone());   // 'static for tokio::spawn
//!             tokio::spawn(async move { client.get(&keys[i]).await })
//!         })
//!         .collect();
//!     // ...and it panics when called from anything but a tokio runtime.
//! }
//! ```
//!
//! Every caller would have to hold the client in an `Arc` and hand over
//! owned keys. With `tether::scope` the children borrow `&self` and the
//! caller's `&[Key]`, the signature stays the plain borrowing one, and the
//! scope is an ordinary `Send` future: it needs no runtime of its own. On a
//! tether worker its children run in parallel on idle workers; under any
//! other executor (here tokio) they run concurrently within the caller's
//! task. Either way all lookups are in flight at once, so the backend
//! answers them in a few batched round trips instead of one per key.
//!
//! The program calls `fetch_all` once from a tether application and once
//! from a tokio application (each inside a spawned task, as a server would),
//! checks that both got exactly the stored values (exit status 1
//! otherwise), and prints how many round trips each needed.
//!
//! ```sh
//! cargo run --example library_scope
//! cargo run --example library_scope -- --small
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tether_examples::{Size, millis};

/// The library: a client for a key-value store behind a (simulated) network.
///
/// Nothing in this module names a runtime: the only async machinery it uses
/// is `tether::scope` and a `futures` oneshot channel.
mod kv {
    use std::collections::HashMap;
    use std::fmt;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use futures::channel::oneshot;

    /// A key of the store.
    pub type Key = String;
    /// A stored value.
    pub type Value = String;

    /// The store went away before answering.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Disconnected;

    impl fmt::Display for Disconnected {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the key-value backend disconnected")
        }
    }

    impl std::error::Error for Disconnected {}

    /// What the backend saw over the client's lifetime.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct BackendStats {
        /// Lookups answered.
        pub lookups: usize,
        /// Batches answered; each costs one network latency.
        pub round_trips: usize,
        /// Most lookups answered in one round trip.
        pub largest_batch: usize,
    }

    /// One lookup on its way to the backend.
    struct Lookup {
        /// The key to look up.
        key: Key,
        /// Where the answer goes.
        reply: oneshot::Sender<Option<Value>>,
    }

    /// A connection to the store. `Sync`: many tasks may use one client
    /// through `&Client` at once.
    pub struct Client {
        /// Lookups to the backend.
        requests: mpsc::Sender<Lookup>,
        /// The backend, which reports its statistics when it stops.
        backend: thread::JoinHandle<BackendStats>,
    }

    impl Client {
        /// Starts a backend serving `records`, with `latency` per round
        /// trip, and connects to it.
        pub fn connect(records: HashMap<Key, Value>, latency: Duration) -> Client {
            let (requests, incoming) = mpsc::channel();
            let backend = thread::spawn(move || serve(&records, latency, &incoming));
            Client { requests, backend }
        }

        /// Looks up one key.
        pub async fn get(&self, key: &str) -> Result<Option<Value>, Disconnected> {
            let (reply, answer) = oneshot::channel();
            let lookup = Lookup {
                key: key.to_owned(),
                reply,
            };
            self.requests.send(lookup).map_err(|_| Disconnected)?;
            answer.await.map_err(|_| Disconnected)
        }

        /// Looks up every key concurrently; the values come back in the
        /// order of `keys` (`None` for a missing key).
        ///
        /// One child per key, each borrowing `self` and its key: the
        /// signature needs neither `Arc<Self>` nor owned keys, and no
        /// particular runtime.
        pub async fn fetch_all(&self, keys: &[Key]) -> Result<Vec<Option<Value>>, Disconnected> {
            tether::scope(|s| async move {
                let lookups: Vec<_> = keys.iter().map(|key| s.spawn(self.get(key))).collect();
                let mut values = Vec::with_capacity(keys.len());
                for lookup in lookups {
                    // `get` does not panic, and the scope re-raises a
                    // child's panic itself, so a JoinError cannot occur.
                    values.push(lookup.await.expect("lookup task failed")?);
                }
                Ok(values)
            })
            .await
        }

        /// Disconnects and returns the backend's statistics.
        pub fn close(self) -> BackendStats {
            let Client { requests, backend } = self;
            drop(requests);
            backend.join().unwrap_or_default()
        }
    }

    impl fmt::Debug for Client {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Client").finish_non_exhaustive()
        }
    }

    /// The backend: answers whatever lookups have arrived as one batch per
    /// round trip (as a pipelining server would), until the client
    /// disconnects.
    fn serve(
        records: &HashMap<Key, Value>,
        latency: Duration,
        incoming: &mpsc::Receiver<Lookup>,
    ) -> BackendStats {
        let mut stats = BackendStats::default();
        while let Ok(first) = incoming.recv() {
            let mut batch = vec![first];
            batch.extend(incoming.try_iter());
            thread::sleep(latency);
            stats.round_trips += 1;
            stats.lookups += batch.len();
            stats.largest_batch = stats.largest_batch.max(batch.len());
            for lookup in batch {
                // A caller that gave up (dropped its future) is fine.
                let _ = lookup.reply.send(records.get(&lookup.key).cloned());
            }
        }
        stats
    }
}

/// Keys looked up (full run, `--small` run).
const KEYS: (usize, usize) = (256, 32);
/// Records in the store.
const RECORDS: usize = 1_000;
/// Every this many keys asked for, one is not in the store.
const MISSING_EVERY: usize = 16;
/// Simulated network latency per round trip (full run, `--small` run);
/// small enough to keep the run short, large enough to dominate the cost.
const LATENCY: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(1));

/// What one application got.
struct Outcome {
    /// The values, in key order.
    values: Vec<Option<kv::Value>>,
    /// What the backend saw.
    backend: kv::BackendStats,
    /// Wall time of the `fetch_all` call.
    elapsed: Duration,
}

/// A tether application: the call runs in a `tether::spawn`ed task that
/// owns the client and the keys.
fn tether_app(
    records: HashMap<kv::Key, kv::Value>,
    keys: Vec<kv::Key>,
    latency: Duration,
) -> std::io::Result<Outcome> {
    let rt = tether::Runtime::new()?;
    let client = kv::Client::connect(records, latency);
    let task = rt.spawn(async move {
        let start = Instant::now();
        let values = client.fetch_all(&keys).await;
        (client, values, start.elapsed())
    });
    let (client, values, elapsed) = rt.block_on(task).expect("the tether task panicked");
    let backend = client.close();
    Ok(Outcome {
        values: values.map_err(std::io::Error::other)?,
        backend,
        elapsed,
    })
}

/// A tokio application: the same call in a `tokio::spawn`ed task. tokio
/// knows nothing about tether; the scope is just a future to it.
fn tokio_app(
    records: HashMap<kv::Key, kv::Value>,
    keys: Vec<kv::Key>,
    latency: Duration,
) -> std::io::Result<Outcome> {
    let rt = tokio::runtime::Runtime::new()?;
    let client = kv::Client::connect(records, latency);
    let task = rt.spawn(async move {
        let start = Instant::now();
        let values = client.fetch_all(&keys).await;
        (client, values, start.elapsed())
    });
    let (client, values, elapsed) = rt.block_on(task).expect("the tokio task panicked");
    let backend = client.close();
    Ok(Outcome {
        values: values.map_err(std::io::Error::other)?,
        backend,
        elapsed,
    })
}

fn main() -> std::io::Result<()> {
    let size = Size::from_args(
        "library_scope",
        "Calls a library function that uses tether::scope internally once from a\n\
         tether application and once from a tokio application.\n\n\
         --small   fewer keys (what CI runs)",
    );
    let latency = size.pick(LATENCY.0, LATENCY.1);
    let records: HashMap<kv::Key, kv::Value> = (0..RECORDS)
        .map(|i| (format!("user:{i}"), format!("profile of user {i}")))
        .collect();
    // Every MISSING_EVERY-th key names a user past the end of the store.
    let keys: Vec<kv::Key> = (0..size.pick(KEYS.0, KEYS.1))
        .map(|i| match i % MISSING_EVERY {
            0 => format!("user:{}", RECORDS + i),
            _ => format!("user:{}", i * 37 % RECORDS),
        })
        .collect();
    let expected: Vec<Option<kv::Value>> = keys.iter().map(|k| records.get(k).cloned()).collect();

    println!("library_scope: one library function, called from two runtimes");
    println!(
        "  kv::Client::fetch_all(&self, keys: &[Key]) spawns one child per key into a\n  \
         tether::scope; the children borrow `self` and the caller's keys. No tokio::spawn,\n  \
         no Arc, no 'static, so the library works under whichever runtime polls it."
    );
    println!(
        "  {} keys ({} not stored), backend latency {} per round trip",
        keys.len(),
        expected.iter().filter(|v| v.is_none()).count(),
        millis(latency),
    );
    println!();

    let tether = tether_app(records.clone(), keys.clone(), latency)?;
    let tokio = tokio_app(records, keys.clone(), latency)?;
    for (app, outcome) in [
        ("tether app, in a tether::spawn task:", &tether),
        ("tokio app, in a tokio::spawn task:", &tokio),
    ] {
        let trips = outcome.backend.round_trips;
        println!(
            "{app:<37} {} values, {trips} round trip{} (largest batch {}), {}",
            outcome.values.iter().flatten().count(),
            if trips == 1 { "" } else { "s" },
            outcome.backend.largest_batch,
            millis(outcome.elapsed),
        );
    }
    println!(
        "awaiting get() one key at a time would take {} round trips (at least {})",
        keys.len(),
        millis(latency * keys.len() as u32),
    );
    println!();

    let correct = tether.values == expected && tokio.values == expected;
    println!("identical (and equal to the stored values): {correct}");
    if !correct {
        eprintln!("library_scope: a runtime returned wrong values");
        std::process::exit(1);
    }
    Ok(())
}
