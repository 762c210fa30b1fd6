//! Unix-domain stream sockets in a temporary directory.
#![cfg(unix)]

use std::io::ErrorKind;
use std::net::Shutdown;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use tether::net::{UnixListener, UnixStream};
use tether_tests::multi_thread;

use tether_tests::TempDir;

#[test]
fn listener_and_stream_round_trip() {
    let dir = TempDir::new("round-trip");
    let path = dir.0.join("echo.sock");
    multi_thread(2).block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let server = tether::spawn(async move {
            for _ in 0..3 {
                let (mut conn, _) = listener.accept().await.unwrap();
                let (mut rd, mut wr) = UnixStream::split(&mut conn);
                futures::io::copy(&mut rd, &mut wr).await.unwrap();
                wr.close().await.unwrap();
            }
        });
        for i in 0..3u8 {
            let mut client = UnixStream::connect(&path).await.unwrap();
            let msg = vec![i; 100_000];
            let (mut rd, mut wr) = UnixStream::split(&mut client);
            let mut back = Vec::new();
            let (w, r) = futures::join!(
                async {
                    wr.write_all(&msg).await?;
                    wr.close().await
                },
                rd.read_to_end(&mut back)
            );
            w.unwrap();
            r.unwrap();
            assert!(back == msg, "echo differs");
        }
        server.await.unwrap();
    });
}

#[test]
fn bind_existing_path_and_connect_missing_path_fail_cleanly() {
    let dir = TempDir::new("errors");
    let path = dir.0.join("taken.sock");
    multi_thread(2).block_on(async {
        let _listener = UnixListener::bind(&path).unwrap();
        let err = UnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        let err = UnixStream::connect(dir.0.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn pair_half_close_and_owned_split() {
    multi_thread(2).block_on(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (mut ard, mut awr) = a.into_split();
        let writer = tether::spawn(async move {
            awr.write_all(b"from a task").await.unwrap();
            // Dropping the owned write half shuts the direction down.
        });
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"from a task");
        writer.await.unwrap();
        // b can still write back after reading end-of-stream.
        b.write_all(b"reply").await.unwrap();
        b.shutdown_now(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        ard.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"reply");
    });
}
