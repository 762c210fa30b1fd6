// A tokio program, written against tokio's API only. `tests/port.rs`
// compiles it twice: as is, on tokio, and with the word `tokio` replaced by
// `tether` everywhere (by `build.rs`), on tether. Both runs must print the
// same transcript.
//
// (Plain comments, not `//!`: the file is `include!`d into a module.)
//
// It covers what a tokio service commonly uses: a chat relay (TcpListener,
// `into_split` + `BufReader::lines`, `broadcast`, `watch` for shutdown,
// `select!`, a `JoinSet` of connections served in the background while the
// server waits in `accept`, a task-local client name), a worker pool
// (`Semaphore`, `mpsc`, `oneshot`, `spawn_blocking`), an `RwLock` config
// loaded with `fs`, `interval`, `timeout`, `join!`/`try_join!`, `Notify`,
// and the paused clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, RwLock, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};

tokio::task_local! {
    static CLIENT: String;
}

/// The relay's settings, read from a file and shared behind an `RwLock`.
#[derive(Debug, Clone)]
struct Config {
    greeting: String,
    max_line: usize,
}

async fn load_config(path: &Path) -> std::io::Result<Config> {
    let text = tokio::fs::read_to_string(path).await?;
    let mut config = Config {
        greeting: String::new(),
        max_line: 0,
    };
    for line in text.lines() {
        match line.split_once('=') {
            Some(("greeting", v)) => config.greeting = v.to_string(),
            Some(("max_line", v)) => config.max_line = v.parse().unwrap(),
            _ => {}
        }
    }
    Ok(config)
}

/// Serves one chat client: relays its lines to everyone else and theirs to
/// it, until it leaves or the server shuts down.
async fn serve_client(
    stream: TcpStream,
    id: usize,
    config: Arc<RwLock<Config>>,
    chat: broadcast::Sender<(usize, String)>,
    mut inbox: broadcast::Receiver<(usize, String)>,
    mut shutdown: watch::Receiver<bool>,
) -> usize {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let greeting = config.read().await.greeting.clone();
    write
        .write_all(format!("{greeting}, {}\n", CLIENT.get()).as_bytes())
        .await
        .unwrap();
    let mut relayed = 0;
    loop {
        tokio::select! {
            line = lines.next_line() => match line.unwrap() {
                Some(line) => {
                    let max = config.read().await.max_line;
                    let line: String = line.chars().take(max).collect();
                    chat.send((id, format!("{}: {line}", CLIENT.get()))).unwrap();
                }
                None => break,
            },
            msg = inbox.recv() => {
                let (from, text) = msg.unwrap();
                if from != id {
                    write.write_all(format!("{text}\n").as_bytes()).await.unwrap();
                    relayed += 1;
                }
            }
            _ = shutdown.changed() => {
                write.write_all(b"server closing\n").await.unwrap();
                break;
            }
        }
    }
    relayed
}

/// The chat relay: accepts clients until shut down, serving each in a
/// `JoinSet` while it waits for the next.
async fn relay(
    listener: TcpListener,
    config: Arc<RwLock<Config>>,
    mut shutdown: watch::Receiver<bool>,
) -> Vec<usize> {
    let (chat, _) = broadcast::channel(64);
    let mut clients = JoinSet::new();
    let mut next_id = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.unwrap();
                let name = format!("guest{next_id}");
                // Subscribe before the greeting goes out: a client that has
                // read its greeting is sure to see every later message.
                let inbox = chat.subscribe();
                let task = serve_client(
                    stream, next_id, config.clone(), chat.clone(), inbox, shutdown.clone(),
                );
                clients.spawn(CLIENT.scope(name, task));
                next_id += 1;
            }
            _ = shutdown.changed() => break,
        }
    }
    let mut relayed = Vec::new();
    while let Some(res) = clients.join_next().await {
        relayed.push(res.unwrap());
    }
    relayed.sort();
    relayed
}

/// One chat client's side.
struct Client {
    name: String,
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = lines.next_line().await.unwrap().unwrap();
        let name = greeting.rsplit(' ').next().unwrap().to_string();
        Client { name, lines, write }
    }

    async fn say(&mut self, text: &str) {
        self.write
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn hear(&mut self) -> String {
        timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("no line within 10 s")
            .unwrap()
            .unwrap_or_else(|| "<closed>".to_string())
    }
}

/// Runs the chat scenario and returns what each client heard.
async fn chat_scenario(dir: &Path, out: &mut Vec<String>) {
    let config_path = dir.join("relay.conf");
    tokio::fs::write(&config_path, "greeting=welcome\nmax_line=12\n")
        .await
        .unwrap();
    let config = Arc::new(RwLock::new(load_config(&config_path).await.unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(relay(listener, config.clone(), stopped));

    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Client::connect(addr).await);
    }
    out.push(format!(
        "joined: {}",
        clients
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for speaker in 0..3 {
        let text = format!("hello from number {speaker}, a long line");
        clients[speaker].say(&text).await;
        for (i, listener) in clients.iter_mut().enumerate() {
            if i != speaker {
                let heard = listener.hear().await;
                out.push(format!("{} heard {heard:?}", listener.name));
            }
        }
    }
    // Reconfigure while running: later lines are cut shorter.
    config.write().await.max_line = 5;
    clients[0].say("truncated now").await;
    let heard = clients[1].hear().await;
    out.push(format!("{} heard {heard:?}", clients[1].name));
    let heard = clients[2].hear().await;
    out.push(format!("{} heard {heard:?}", clients[2].name));

    stop.send(true).unwrap();
    for client in &mut clients {
        let bye = client.hear().await;
        out.push(format!("{} heard {bye:?}", client.name));
    }
    out.push(format!("relayed per client: {:?}", server.await.unwrap()));
}

/// A worker pool: jobs arrive on an `mpsc` channel, at most two run at a
/// time (a `Semaphore`), each on the blocking pool, answering on a
/// `oneshot`.
async fn pool_scenario(out: &mut Vec<String>) {
    type Job = (u64, oneshot::Sender<u64>);
    let (jobs, mut queue) = mpsc::channel::<Job>(4);
    let permits = Arc::new(Semaphore::new(2));
    let busy = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let dispatcher = {
        let (busy, peak) = (busy.clone(), peak.clone());
        tokio::spawn(async move {
            let mut running = JoinSet::new();
            while let Some((n, reply)) = queue.recv().await {
                let permit = permits.clone().acquire_owned().await.unwrap();
                let (busy, peak) = (busy.clone(), peak.clone());
                running.spawn(async move {
                    let sum = tokio::task::spawn_blocking(move || {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        busy.fetch_sub(1, Ordering::SeqCst);
                        (1..=n).map(|i| i * i).sum::<u64>()
                    })
                    .await
                    .unwrap();
                    drop(permit);
                    let _ = reply.send(sum);
                });
            }
            while running.join_next().await.is_some() {}
        })
    };
    let mut answers = Vec::new();
    for n in 1..=8u64 {
        let (tx, rx) = oneshot::channel();
        jobs.send((n * 10, tx)).await.unwrap();
        answers.push(rx);
    }
    drop(jobs);
    let mut sums = Vec::new();
    for rx in answers {
        sums.push(rx.await.unwrap());
    }
    dispatcher.await.unwrap();
    out.push(format!("pool sums: {sums:?}"));
    out.push(format!(
        "pool never ran more than two at once: {}",
        peak.load(Ordering::SeqCst) <= 2
    ));
}

/// Joins, timeouts, intervals and notifications.
async fn control_scenario(out: &mut Vec<String>) {
    let (a, b) = tokio::join!(async { 6 * 7 }, async { "joined" });
    out.push(format!("join!: {a} {b}"));
    let ok: Result<(u8, u8), String> = tokio::try_join!(async { Ok(1) }, async { Ok(2) });
    out.push(format!("try_join! ok: {ok:?}"));
    let failed: Result<(u8, u8), String> =
        tokio::try_join!(async { Ok(1) }, async { Err("bad input".to_string()) });
    out.push(format!("try_join! err: {failed:?}"));

    let slow = timeout(Duration::from_millis(20), std::future::pending::<()>()).await;
    out.push(format!(
        "timeout on a stuck future: elapsed = {}",
        slow.is_err()
    ));
    let fast = timeout(Duration::from_secs(5), async { "in time" }).await;
    out.push(format!("timeout on a quick future: {fast:?}"));

    let mut ticks = interval(Duration::from_millis(5));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let start = Instant::now();
    for _ in 0..4 {
        ticks.tick().await;
    }
    out.push(format!(
        "four ticks took at least 15 ms: {}",
        start.elapsed() >= Duration::from_millis(15)
    ));

    let ready = Arc::new(Notify::new());
    let waiter = {
        let ready = ready.clone();
        tokio::spawn(async move {
            ready.notified().await;
            "notified"
        })
    };
    tokio::task::yield_now().await;
    ready.notify_one();
    out.push(format!("notify: {}", waiter.await.unwrap()));

    let mut biased = Vec::new();
    for _ in 0..3 {
        tokio::select! {
            biased;
            v = async { 1 } => biased.push(v),
            v = async { 2 } => biased.push(v),
        }
    }
    out.push(format!("biased select: {biased:?}"));
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    drop(tx);
    let closed = tokio::select! {
        Some(v) = rx.recv() => format!("got {v}"),
        else => "all branches disabled".to_string(),
    };
    out.push(format!("select else: {closed}"));

    let aborted = tokio::spawn(sleep(Duration::from_secs(3600)));
    aborted.abort();
    out.push(format!(
        "aborted: {}",
        aborted.await.unwrap_err().is_cancelled()
    ));
}

/// The whole program on a multi-thread runtime; returns its transcript.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
pub async fn run(dir: PathBuf) -> Vec<String> {
    let mut out = Vec::new();
    chat_scenario(&dir, &mut out).await;
    pool_scenario(&mut out).await;
    control_scenario(&mut out).await;
    out
}

/// A day of timers on a paused clock, in no real time; returns its
/// transcript.
#[tokio::main(flavor = "current_thread", start_paused = true)]
pub async fn paused_day() -> Vec<String> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut hourly = interval(Duration::from_secs(3600));
    let mut log = BTreeMap::new();
    for hour in 0..24u64 {
        hourly.tick().await;
        log.insert(hour, start.elapsed().as_secs() / 3600);
    }
    out.push(format!(
        "hourly ticks at hours: {:?}",
        log.values().collect::<Vec<_>>()
    ));
    let late = timeout(Duration::from_secs(60), sleep(Duration::from_secs(61))).await;
    out.push(format!(
        "a 61 s sleep misses a 60 s timeout: {}",
        late.is_err()
    ));
    out.push(format!(
        "virtual time passed: {} s",
        start.elapsed().as_secs()
    ));
    out
}
