//! tokio's I/O traits and utilities (`tether::io`) on tether's sockets, and
//! the tokio-io ecosystem on top: `tokio-util` codecs and `tokio-rustls`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tether::io::{
    AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter, copy_bidirectional,
};
use tether::net::{TcpListener, TcpStream, UnixStream};
use tokio_util::codec::{Framed, LinesCodec};

/// Watchdog for every test: a lost wake-up fails instead of hanging CI.
const WATCHDOG: Duration = Duration::from_secs(30);

fn run<F: Future<Output = ()> + Send>(f: F) {
    tether_tests::block_on_timed(WATCHDOG, f);
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[test]
fn tokio_traits_on_tcp_stream_and_every_half() {
    run(async {
        let (mut a, mut b) = pair().await;

        // The stream itself.
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        // Borrowed halves.
        {
            let (mut rd, mut wr) = b.split();
            wr.write_all(b"pong").await.unwrap();
            wr.flush().await.unwrap();
            a.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pong");
            a.write_u32(7).await.unwrap();
            assert_eq!(rd.read_u32().await.unwrap(), 7);
        }

        // Owned halves, with tokio's vectored write and shutdown.
        let (mut rd, mut wr) = a.into_split();
        let bufs = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
        let written = wr.write_vectored(&bufs[..]).await.unwrap();
        assert_eq!(written, 4, "loopback takes 4 bytes in one gathering write");
        wr.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abcd", "shutdown ends the peer's stream");

        b.write_all(b"last").await.unwrap();
        drop(b);
        let mut got = String::new();
        rd.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "last");
    });
}

#[test]
fn tokio_traits_on_unix_stream_and_halves() {
    run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (rd, mut wr) = b.into_split();
        a.write_all(b"one\ntwo\n").await.unwrap();
        a.shutdown().await.unwrap();
        let mut lines = BufReader::new(rd).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("one"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("two"));
        assert_eq!(lines.next_line().await.unwrap(), None);

        wr.write_all(b"back").await.unwrap();
        let mut buf = [0u8; 4];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"back");
    });
}

#[test]
fn buf_reader_lines_on_owned_read_half_like_a_chat_relay() {
    run(async {
        let (client, server) = pair().await;
        let (rd, wr) = server.into_split();
        let relay = tether::spawn(async move {
            let mut lines = BufReader::new(rd).lines();
            let mut wr = BufWriter::new(wr);
            while let Some(line) = lines.next_line().await.unwrap() {
                wr.write_all(line.to_uppercase().as_bytes()).await.unwrap();
                wr.write_all(b"\n").await.unwrap();
                wr.flush().await.unwrap();
            }
        });
        let (rd, mut wr) = client.into_split();
        let mut rd = BufReader::new(rd);
        for word in ["alpha", "beta", "gamma"] {
            wr.write_all(format!("{word}\n").as_bytes()).await.unwrap();
            let mut line = String::new();
            rd.read_line(&mut line).await.unwrap();
            assert_eq!(line, format!("{}\n", word.to_uppercase()));
        }
        drop(wr);
        relay.await.unwrap();
    });
}

#[test]
fn copy_bidirectional_proxies_between_sockets() {
    run(async {
        let (mut client, mut proxy_front) = pair().await;
        let (mut proxy_back, mut origin) = pair().await;
        let proxy =
            tether::spawn(
                async move { copy_bidirectional(&mut proxy_front, &mut proxy_back).await },
            );
        client.write_all(b"request").await.unwrap();
        let mut buf = [0u8; 7];
        origin.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"request");
        origin.write_all(b"response!").await.unwrap();
        origin.shutdown().await.unwrap();
        let mut resp = [0u8; 9];
        client.read_exact(&mut resp).await.unwrap();
        assert_eq!(&resp, b"response!");
        client.shutdown().await.unwrap();
        let (up, down) = proxy.await.unwrap().unwrap();
        assert_eq!((up, down), (7, 9));
    });
}

#[test]
fn tokio_split_and_in_memory_streams() {
    run(async {
        let (a, mut b) = pair().await;
        let (mut rd, mut wr) = tether::io::split(a);
        wr.write_all(b"xy").await.unwrap();
        let mut two = [0u8; 2];
        b.read_exact(&mut two).await.unwrap();
        b.write_all(&two).await.unwrap();
        rd.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"xy");
        let _a: TcpStream = rd.unsplit(wr);

        let (mut x, mut y) = tether::io::duplex(64);
        let writer = tether::spawn(async move {
            x.write_all(&[7u8; 1000]).await.unwrap();
        });
        let mut got = vec![0u8; 1000];
        y.read_exact(&mut got).await.unwrap();
        assert!(got.iter().all(|&b| b == 7));
        writer.await.unwrap();

        let (mut r, mut w) = tether::io::simplex(8);
        w.write_all(b"s").await.unwrap();
        let mut one = [0u8; 1];
        r.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"s");

        let mut sink = tether::io::sink();
        let n = tether::io::copy(&mut tether::io::repeat(1).take(100), &mut sink)
            .await
            .unwrap();
        assert_eq!(n, 100);
        let mut nothing = Vec::new();
        tether::io::empty().read_to_end(&mut nothing).await.unwrap();
        assert!(nothing.is_empty());
    });
}

#[test]
fn tokio_util_framed_lines_codec_on_tcp() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tether::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut framed = Framed::new(conn, LinesCodec::new());
            let mut served = 0;
            while let Some(line) = framed.next().await {
                let line = line.unwrap();
                framed.send(format!("echo: {line}")).await.unwrap();
                served += 1;
            }
            served
        });
        let conn = TcpStream::connect(addr).await.unwrap();
        let mut framed = Framed::new(conn, LinesCodec::new());
        for i in 0..50 {
            framed.send(format!("line {i}")).await.unwrap();
            let back = framed.next().await.unwrap().unwrap();
            assert_eq!(back, format!("echo: line {i}"));
        }
        drop(framed);
        assert_eq!(server.await.unwrap(), 50);
    });
}

#[test]
fn tokio_rustls_echo_over_tether_tcp() {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let connector = TlsConnector::from(Arc::new(client_config));

    run(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tether::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            let (mut rd, mut wr) = tether::io::split(tls);
            let n = tether::io::copy(&mut rd, &mut wr).await.unwrap();
            wr.shutdown().await.unwrap();
            n
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (mut rd, mut wr) = tether::io::split(&mut tls);
        let (sent, echoed) = futures::join!(
            async {
                wr.write_all(&payload).await.unwrap();
                wr.shutdown().await.unwrap();
            },
            async {
                let mut back = Vec::new();
                rd.read_to_end(&mut back).await.unwrap();
                back
            }
        );
        let () = sent;
        assert_eq!(echoed, payload);
        assert_eq!(server.await.unwrap(), payload.len() as u64);
    });
}

/// The shape of a tokio chat relay, written with tether's names only:
/// `select!` over a socket's lines and a `broadcast` receiver, `watch` for
/// shutdown, `into_split` + `BufReader::lines`, `write_all` on an owned
/// write half.
#[test]
fn chat_relay_with_select_broadcast_watch_and_lines() {
    use tether::sync::{broadcast, watch};

    const CLIENTS: usize = 3;

    async fn serve_client(
        conn: TcpStream,
        id: usize,
        tx: broadcast::Sender<(usize, String)>,
        mut rx: broadcast::Receiver<(usize, String)>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (rd, mut wr) = conn.into_split();
        wr.write_all(b"welcome\n").await.unwrap();
        let mut lines = BufReader::new(rd).lines();
        loop {
            tether::select! {
                line = lines.next_line() => match line.unwrap() {
                    Some(line) => { tx.send((id, line)).unwrap(); }
                    None => break,
                },
                msg = rx.recv() => {
                    let (from, text) = msg.unwrap();
                    if from != id {
                        wr.write_all(format!("{from}: {text}\n").as_bytes()).await.unwrap();
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }

    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, _) = broadcast::channel(64);
        let (stop, stop_rx) = watch::channel(false);
        let server = tether::spawn(async move {
            // Everyone is subscribed before anyone is welcomed, so no
            // message can go out before a receiver exists.
            let mut accepted = Vec::new();
            for _ in 0..CLIENTS {
                let (conn, _) = listener.accept().await.unwrap();
                accepted.push((conn, tx.subscribe()));
            }
            let mut handlers = Vec::new();
            for (id, (conn, rx)) in accepted.into_iter().enumerate() {
                handlers.push(tether::spawn(serve_client(
                    conn,
                    id,
                    tx.clone(),
                    rx,
                    stop_rx.clone(),
                )));
            }
            for h in handlers {
                h.await.unwrap();
            }
        });

        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let (rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
            clients.push((BufReader::new(rd).lines(), wr));
        }
        for (lines, _) in &mut clients {
            assert_eq!(lines.next_line().await.unwrap().unwrap(), "welcome");
        }
        // Each client speaks after the previous one's message went round;
        // the others each receive it once, the speaker not at all.
        for speaker in 0..CLIENTS {
            clients[speaker]
                .1
                .write_all(format!("hello from {speaker}\n").as_bytes())
                .await
                .unwrap();
            for (listener_idx, (lines, _)) in clients.iter_mut().enumerate() {
                if listener_idx == speaker {
                    continue;
                }
                let line = lines.next_line().await.unwrap().unwrap();
                assert!(line.ends_with(&format!(": hello from {speaker}")), "{line}");
            }
        }
        stop.send(true).unwrap();
        server.await.unwrap();
    });
}
