//! TCP echo throughput: a tether echo server against a tokio echo server,
//! both loaded by the same client, in the same criterion run.
//!
//! Each iteration opens nothing new: [`CONNECTIONS`] persistent connections
//! each send [`MESSAGES`] messages of [`MESSAGE_SIZE`] bytes and wait for
//! every echo (one message in flight per connection). The servers run on
//! runtimes with [`SERVER_WORKERS`] workers; the client runs on its own
//! single-worker tokio runtime, identical for both servers.
//!
//! Run: `cargo bench -p tether-benches --bench echo`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Concurrent client connections.
const CONNECTIONS: usize = 64;
/// Bytes per message.
const MESSAGE_SIZE: usize = 1024;
/// Messages each connection sends per iteration.
const MESSAGES: usize = 50;
/// Worker threads of each server runtime: the machine's two cores.
const SERVER_WORKERS: usize = 2;

/// Starts a tether echo server on its own runtime; returns its address and
/// the runtime (kept alive by the caller).
fn tether_server() -> (SocketAddr, tether::Runtime) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tether::runtime::Builder::new_multi_thread()
        .worker_threads(SERVER_WORKERS)
        .thread_name("tether-echo")
        .build()
        .expect("tether runtime");
    let listener = rt
        .block_on(tether::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            conn.set_nodelay(true).expect("nodelay");
            tether::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, rt)
}

/// Starts a tokio echo server, the same loop as [`tether_server`].
fn tokio_server() -> (SocketAddr, tokio::runtime::Runtime) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SERVER_WORKERS)
        .thread_name("tokio-echo")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            conn.set_nodelay(true).expect("nodelay");
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, rt)
}

/// The load generator: [`CONNECTIONS`] open connections to one server.
struct Client {
    /// The client's own runtime.
    rt: tokio::runtime::Runtime,
    /// The open connections.
    conns: Vec<tokio::net::TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("echo-client")
            .enable_all()
            .build()
            .expect("client runtime");
        let conns = rt.block_on(async {
            let mut conns = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let c = tokio::net::TcpStream::connect(addr).await.expect("connect");
                c.set_nodelay(true).expect("nodelay");
                conns.push(c);
            }
            conns
        });
        Client { rt, conns }
    }

    /// Runs `iters` rounds of the workload; returns the time taken.
    fn run(&mut self, iters: u64) -> Duration {
        let conns = std::mem::take(&mut self.conns);
        let start = Instant::now();
        let conns = self.rt.block_on(async move {
            let tasks: Vec<_> = conns
                .into_iter()
                .map(|mut c| {
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let msg = [0x5Au8; MESSAGE_SIZE];
                        let mut back = [0u8; MESSAGE_SIZE];
                        for _ in 0..iters * MESSAGES as u64 {
                            c.write_all(&msg).await.expect("write");
                            c.read_exact(&mut back).await.expect("read");
                        }
                        assert_eq!(back, msg);
                        c
                    })
                })
                .collect();
            let mut conns = Vec::with_capacity(CONNECTIONS);
            for t in tasks {
                conns.push(t.await.expect("client task"));
            }
            conns
        });
        let elapsed = start.elapsed();
        self.conns = conns;
        elapsed
    }
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo_64x1KiB");
    group.throughput(Throughput::Bytes(
        (CONNECTIONS * MESSAGES * MESSAGE_SIZE) as u64,
    ));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));

    let (addr, _tether_rt) = tether_server();
    let mut client = Client::connect(addr);
    group.bench_function("tether", |b| b.iter_custom(|iters| client.run(iters)));
    drop(client);

    let (addr, _tokio_rt) = tokio_server();
    let mut client = Client::connect(addr);
    group.bench_function("tokio", |b| b.iter_custom(|iters| client.run(iters)));
    drop(client);

    group.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
