//! TCP and address resolution on real loopback sockets.

use std::io::{self, ErrorKind, IoSlice};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tether::net::tcp::{ReadHalf, WriteHalf};
use tether::net::{TcpListener, TcpStream};
use tether_tests::multi_thread;

/// Clients × messages for the echo test: 100 × 1000 eight-byte messages,
/// small enough to finish in seconds in a debug build.
const CLIENTS: u32 = 100;
const MESSAGES: u32 = 1000;

#[test]
fn echo_100_clients_no_byte_lost_or_reordered() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tether::spawn(async move {
            for _ in 0..CLIENTS {
                let (mut conn, _) = listener.accept().await.unwrap();
                tether::spawn(async move {
                    let (mut rd, mut wr): (ReadHalf<'_>, WriteHalf<'_>) =
                        TcpStream::split(&mut conn);
                    futures::io::copy(&mut rd, &mut wr).await.unwrap();
                    wr.close().await.unwrap();
                });
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| tether::spawn(echo_client(addr, id)))
            .collect();
        for c in clients {
            assert_eq!(c.await.unwrap(), MESSAGES);
        }
        server.await.unwrap();
    });
}

/// Writes `MESSAGES` tagged messages while reading the echo concurrently;
/// checks every message comes back intact and in order.
async fn echo_client(addr: SocketAddr, id: u32) -> u32 {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = async move {
        for seq in 0..MESSAGES {
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&id.to_le_bytes());
            msg[4..].copy_from_slice(&seq.to_le_bytes());
            wr.write_all(&msg).await.unwrap();
        }
        wr.close().await.unwrap();
    };
    let reader = async move {
        let mut seen = 0;
        let mut msg = [0u8; 8];
        loop {
            match rd.read_exact(&mut msg).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                Err(e) => panic!("client {id}: {e}"),
            }
            assert_eq!(u32::from_le_bytes(msg[..4].try_into().unwrap()), id);
            assert_eq!(
                u32::from_le_bytes(msg[4..].try_into().unwrap()),
                seen,
                "reordered"
            );
            seen += 1;
        }
        seen
    };
    futures::join!(writer, reader).1
}

#[test]
fn half_close_then_reply() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();

        client.write_all(b"question").await.unwrap();
        client.shutdown_now(Shutdown::Write).unwrap();

        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"question");
        // The half-closed peer can still be written to.
        server.write_all(b"answer").await.unwrap();
        server.close().await.unwrap();

        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"answer");
        // Writing after our own shutdown fails cleanly.
        let err = client.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn peer_reset_is_an_error_not_a_panic() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"unread data").await.unwrap();
        let mut one = [0u8; 1];
        server.read_exact(&mut one).await.unwrap();
        // Closing with unread bytes in the receive buffer sends a reset.
        drop(server);

        let mut buf = [0u8; 64];
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        let err = client.write_all(&[0u8; 1024]).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    });
}

#[test]
fn bind_to_port_in_use_is_addr_in_use() {
    multi_thread(2).block_on(async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(first.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}

#[test]
fn connect_to_closed_port_is_refused() {
    multi_thread(2).block_on(async {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener is dropped: nothing listens there any more.
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn invalid_address_strings_are_invalid_input() {
    multi_thread(2).block_on(async {
        for bad in [
            "",
            "localhost",
            "127.0.0.1",
            "127.0.0.1:http",
            "127.0.0.1:70000",
            ":80",
        ] {
            let err = TcpListener::bind(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "bind {bad:?}: {err}");
            let err = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidInput,
                "connect {bad:?}: {err}"
            );
        }
        let none: &[SocketAddr] = &[];
        let err = TcpStream::connect(none).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn host_names_resolve_and_every_address_form_works() {
    multi_thread(2).block_on(async {
        // "localhost" needs the system resolver (run off the workers).
        let listener = TcpListener::bind("localhost:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        let ip = listener.local_addr().unwrap().ip();
        let forms: Vec<TcpStream> = vec![
            TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap(),
            TcpStream::connect((ip, port)).await.unwrap(),
            TcpStream::connect(format!("{ip}:{port}")).await.unwrap(),
            TcpStream::connect(("localhost", port)).await.unwrap(),
            TcpStream::connect(&[listener.local_addr().unwrap()][..])
                .await
                .unwrap(),
        ];
        for s in &forms {
            assert_eq!(s.peer_addr().unwrap().port(), port);
        }
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        assert!(v4.local_addr().unwrap().is_ipv4());
    });
}

#[test]
fn vectored_write_gathers_slices() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let parts: [&[u8]; 3] = [b"one ", b"two ", b"three"];
        let slices = [
            IoSlice::new(parts[0]),
            IoSlice::new(parts[1]),
            IoSlice::new(parts[2]),
        ];
        let n = client.write_vectored(&slices).await.unwrap();
        // Small slices on a fresh connection go out in one gathering call.
        assert_eq!(n, 13);
        client.close().await.unwrap();
        let mut got = String::new();
        server.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "one two three");
    });
}

#[test]
fn futures_io_ecosystem_works_on_streams() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = tether::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"alpha\nbeta\ngamma\n").await.unwrap();
        });
        let (server, _) = listener.accept().await.unwrap();
        let lines: Vec<String> = BufReader::new(server)
            .lines()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(lines, ["alpha", "beta", "gamma"]);
        writer.await.unwrap();
    });
}

#[test]
fn incoming_yields_connections_and_accept_is_shareable() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        let accepted: Vec<_> = listener.incoming().take(2).collect().await;
        assert!(accepted.iter().all(Result::is_ok));

        // Several tasks awaiting `accept` on one listener all get served.
        let listener = std::sync::Arc::new(listener);
        let acceptors: Vec<_> = (0..4)
            .map(|_| {
                let l = listener.clone();
                tether::spawn(async move { l.accept().await.map(|(s, _)| s.peer_addr().unwrap()) })
            })
            .collect();
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut peers = Vec::new();
        for a in acceptors {
            peers.push(a.await.unwrap().unwrap());
        }
        let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        locals.sort();
        assert_eq!(peers, locals);
    });
}

#[test]
fn stream_options_and_addresses() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.local_addr().unwrap(), peer);
        assert_eq!(server.peer_addr().unwrap(), peer);
        assert_eq!(client.peer_addr().unwrap(), listener.local_addr().unwrap());
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
        let dbg = format!("{client:?}");
        assert!(dbg.contains("TcpStream"), "{dbg}");
    });
}

#[test]
fn owned_halves_move_to_tasks_and_reunite() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (mut srd, mut swr) = server.into_split();
        // Server echoes from one task per direction through a channel.
        let (tx, mut rx) = futures::channel::mpsc::unbounded::<Vec<u8>>();
        let reader = tether::spawn(async move {
            let mut buf = [0u8; 256];
            loop {
                let n = srd.read(&mut buf).await.unwrap();
                if n == 0 {
                    return srd;
                }
                tx.unbounded_send(buf[..n].to_vec()).unwrap();
            }
        });
        let writer = tether::spawn(async move {
            while let Some(chunk) = rx.next().await {
                swr.write_all(&chunk).await.unwrap();
            }
            swr
        });
        let (mut crd, mut cwr) = client.into_split();
        cwr.write_all(b"split and reunite").await.unwrap();
        let mut back = [0u8; 17];
        crd.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"split and reunite");
        let err = crd.reunite(writer_placeholder()).unwrap_err();
        let (crd, other) = (err.0, err.1);
        drop(other);
        let client = crd.reunite(cwr).expect("same stream");
        client.shutdown_now(Shutdown::Write).unwrap();
        let srd = reader.await.unwrap();
        let swr = writer.await.unwrap();
        let server = srd.reunite(swr).expect("same stream");
        assert!(server.peer_addr().is_ok());
    });

    // A write half of an unrelated stream.
    fn writer_placeholder() -> tether::net::tcp::OwnedWriteHalf {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        TcpStream::from_std(s).unwrap().into_split().1
    }
}

#[test]
fn dropping_owned_write_half_ends_the_peers_stream() {
    multi_thread(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (_rd, mut wr) = client.into_split();
        wr.write_all(b"last words").await.unwrap();
        drop(wr);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
    });
}

#[test]
fn sockets_outside_a_runtime_panic_with_a_clear_message() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let panic = std::panic::catch_unwind(|| TcpListener::from_std(std_listener)).unwrap_err();
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(msg.contains("runtime"), "unclear panic message: {msg:?}");
}

#[test]
fn io_after_runtime_shutdown_fails_instead_of_hanging() {
    let rt = multi_thread(2);
    let (listener, client) = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        (l, c)
    });
    drop(rt);
    let err = futures::executor::block_on(listener.accept()).unwrap_err();
    assert_ne!(err.kind(), ErrorKind::WouldBlock);
    let mut client = client;
    let mut buf = [0u8; 8];
    let res: io::Result<usize> = futures::executor::block_on(client.read(&mut buf));
    assert!(res.is_err(), "read after shutdown returned {res:?}");
}
