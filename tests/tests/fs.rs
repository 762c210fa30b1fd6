//! `tether::fs` on a temporary directory: the functions, `File`'s state
//! machine (read-ahead, deferred write errors, seeks, positions) and
//! `ReadDir`, under the multi-thread runtime.

use std::future::Future;
use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use tether::fs::{self, File, OpenOptions};
use tether::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, SeekFrom};

/// Watchdog for every test: a lost wake-up fails instead of hanging CI.
const WATCHDOG: Duration = Duration::from_secs(60);

use tether_tests::TempDir;

fn run<F: Future<Output = ()> + Send>(f: F) {
    tether_tests::block_on_timed(WATCHDOG, f);
}

#[test]
fn functions_round_trip() {
    let tmp = TempDir::new("fs");
    run(async {
        let a = tmp.join("a.txt");
        fs::write(&a, "alpha").await.unwrap();
        assert_eq!(fs::read(&a).await.unwrap(), b"alpha");
        assert_eq!(fs::read_to_string(&a).await.unwrap(), "alpha");
        assert!(fs::try_exists(&a).await.unwrap());
        assert_eq!(fs::metadata(&a).await.unwrap().len(), 5);

        fs::create_dir(tmp.join("d")).await.unwrap();
        assert_eq!(
            fs::create_dir(tmp.join("d")).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        fs::create_dir_all(tmp.join("d/e/f")).await.unwrap();
        assert!(fs::metadata(tmp.join("d/e/f")).await.unwrap().is_dir());

        assert_eq!(fs::copy(&a, tmp.join("b.txt")).await.unwrap(), 5);
        fs::rename(tmp.join("b.txt"), tmp.join("d/b.txt"))
            .await
            .unwrap();
        assert!(!fs::try_exists(tmp.join("b.txt")).await.unwrap());
        assert_eq!(
            fs::read_to_string(tmp.join("d/b.txt")).await.unwrap(),
            "alpha"
        );

        fs::hard_link(&a, tmp.join("hard")).await.unwrap();
        fs::symlink(&a, tmp.join("soft")).await.unwrap();
        assert_eq!(fs::read_link(tmp.join("soft")).await.unwrap(), a);
        assert!(
            fs::symlink_metadata(tmp.join("soft"))
                .await
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::metadata(tmp.join("soft")).await.unwrap().is_file());
        assert_eq!(
            fs::canonicalize(tmp.join("soft")).await.unwrap(),
            std::fs::canonicalize(&a).unwrap()
        );

        let mut perm = fs::metadata(&a).await.unwrap().permissions();
        perm.set_readonly(true);
        fs::set_permissions(&a, perm).await.unwrap();
        assert!(fs::metadata(&a).await.unwrap().permissions().readonly());
        let mut perm = fs::metadata(&a).await.unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        fs::set_permissions(&a, perm).await.unwrap();

        fs::remove_file(tmp.join("hard")).await.unwrap();
        fs::remove_file(tmp.join("soft")).await.unwrap();
        assert_eq!(
            fs::remove_dir(tmp.join("d")).await.unwrap_err().kind(),
            ErrorKind::DirectoryNotEmpty
        );
        fs::remove_dir(tmp.join("d/e/f")).await.unwrap();
        fs::remove_dir_all(tmp.join("d")).await.unwrap();
        assert!(!fs::try_exists(tmp.join("d")).await.unwrap());

        let missing = tmp.join("missing");
        assert_eq!(
            fs::read(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            File::open(&missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(!fs::try_exists(&missing).await.unwrap());
    });
}

#[test]
fn dir_builder_and_open_options() {
    let tmp = TempDir::new("fs");
    run(async {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(tmp.join("x/y"))
            .await
            .unwrap();
        assert!(fs::metadata(tmp.join("x/y")).await.unwrap().is_dir());

        let log = tmp.join("log");
        for line in ["1\n", "2\n", "3\n"] {
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&log)
                .await
                .unwrap();
            f.write_all(line.as_bytes()).await.unwrap();
            f.flush().await.unwrap();
        }
        assert_eq!(fs::read_to_string(&log).await.unwrap(), "1\n2\n3\n");

        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&log)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);

        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log)
            .await
            .unwrap();
        f.write_all(b"t").await.unwrap();
        f.flush().await.unwrap();
        assert_eq!(fs::read_to_string(&log).await.unwrap(), "t");
    });
}

#[test]
fn file_write_seek_read_and_lines() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("f");
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        f.write_all(b"first\nsecond\nthird\n").await.unwrap();
        assert_eq!(f.stream_position().await.unwrap(), 19);
        assert_eq!(f.seek(SeekFrom::Start(0)).await.unwrap(), 0);
        let mut lines = BufReader::new(f).lines();
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            got.push(line);
        }
        assert_eq!(got, ["first", "second", "third"]);

        let mut f = File::open(&path).await.unwrap();
        assert_eq!(f.seek(SeekFrom::End(-6)).await.unwrap(), 13);
        let mut s = String::new();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "third\n");
        assert_eq!(f.metadata().await.unwrap().len(), 19);
    });
}

#[test]
fn write_after_partial_read_lands_at_the_readers_position() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("f");
        fs::write(&path, "abcdefgh").await.unwrap();
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        let mut two = [0u8; 2];
        // With a big buffer the first read reads ahead past "ab".
        f.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        f.write_all(b"XY").await.unwrap();
        f.flush().await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "abXYefgh");

        // A relative seek after a partial read counts from the reader.
        f.seek(SeekFrom::Start(0)).await.unwrap();
        f.read_exact(&mut two).await.unwrap();
        assert_eq!(f.seek(SeekFrom::Current(1)).await.unwrap(), 3);
        let mut one = [0u8; 1];
        f.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"Y");

        // set_len keeps the reader's position; into_std too.
        f.set_len(6).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 6);
        f.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"e");
        let mut std_file = f.into_std().await;
        use std::io::{Read, Seek};
        assert_eq!(std_file.stream_position().unwrap(), 5);
        let mut rest = String::new();
        std_file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "f");
    });
}

#[test]
fn large_transfers_cross_many_jobs() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("big");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut f = File::create(&path).await.unwrap();
        f.set_max_buf_size(4096);
        f.write_all(&data).await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), data);

        let mut f = File::open(&path).await.unwrap();
        f.set_max_buf_size(1000);
        let mut back = Vec::new();
        f.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, data);
        let mut nothing = [0u8; 8];
        assert_eq!(f.read(&mut nothing).await.unwrap(), 0, "end of file");
    });
}

#[test]
fn failed_write_is_reported_by_the_next_write_or_flush() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("ro");
        fs::write(&path, "x").await.unwrap();
        // Open read-only: every write fails with EBADF in its job.
        let mut f = File::open(&path).await.unwrap();
        let first = f.write(b"data").await;
        let err = match first {
            // Handed to the pool; the failure comes with the flush.
            Ok(4) => f.flush().await.unwrap_err(),
            other => panic!("unexpected {other:?}"),
        };
        assert_ne!(err.kind(), ErrorKind::Interrupted);
        // Reported once; the file still works for reading.
        f.flush().await.unwrap();
        let mut s = String::new();
        f.seek(SeekFrom::Start(0)).await.unwrap();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "x");

        let f = File::open(&path).await.unwrap();
        let mut f2 = f.try_clone().await.unwrap();
        assert!(f2.write_all(b"y").await.is_ok());
        assert!(
            f2.sync_all().await.is_err(),
            "sync_all reports the failed write"
        );
    });
}

#[test]
fn try_into_std_and_from_std() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("s");
        let f = File::from_std(std::fs::File::create(&path).unwrap());
        let std_file = f.try_into_std().expect("idle file");
        let mut f = File::from(std_file);
        f.write_all(b"abc").await.unwrap();
        // A write may still be in flight: the File comes back.
        let mut f = match f.try_into_std() {
            Ok(std_file) => File::from_std(std_file),
            Err(f) => f,
        };
        f.flush().await.unwrap();
        assert!(f.try_into_std().is_ok(), "idle after flush");
        assert_eq!(fs::read(&path).await.unwrap(), b"abc");
    });
}

#[test]
fn read_dir_lists_more_than_one_chunk() {
    let tmp = TempDir::new("fs");
    run(async {
        for i in 0..100 {
            fs::write(tmp.join(&format!("f{i:03}")), [i as u8])
                .await
                .unwrap();
        }
        fs::create_dir(tmp.join("sub")).await.unwrap();
        let mut entries = fs::read_dir(&tmp.0).await.unwrap();
        let mut files = Vec::new();
        let mut dirs = 0;
        while let Some(entry) = entries.next_entry().await.unwrap() {
            assert_eq!(entry.path(), tmp.0.join(entry.file_name()));
            if entry.file_type().await.unwrap().is_dir() {
                dirs += 1;
            } else {
                assert_eq!(entry.metadata().await.unwrap().len(), 1);
                files.push(entry.file_name().into_string().unwrap());
            }
        }
        assert!(entries.next_entry().await.unwrap().is_none(), "stays done");
        files.sort();
        let want: Vec<String> = (0..100).map(|i| format!("f{i:03}")).collect();
        assert_eq!(files, want);
        assert_eq!(dirs, 1);

        let missing = fs::read_dir(tmp.join("missing")).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn many_files_in_parallel_from_scoped_children() {
    let tmp = TempDir::new("fs");
    let dir: &Path = &tmp.0;
    run(async move {
        tether::scope(|s| async move {
            for i in 0..32 {
                s.spawn(async move {
                    let path = dir.join(format!("p{i}"));
                    let mut f = File::create(&path).await.unwrap();
                    for _ in 0..10 {
                        f.write_all(format!("{i};").as_bytes()).await.unwrap();
                    }
                    f.flush().await.unwrap();
                    let text = fs::read_to_string(&path).await.unwrap();
                    assert_eq!(text, format!("{i};").repeat(10));
                });
            }
        })
        .await;
        let mut n = 0;
        let mut entries = fs::read_dir(dir).await.unwrap();
        while entries.next_entry().await.unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 32);
    });
}

#[test]
fn a_read_cancelled_mid_flight_loses_no_byte() {
    let tmp = TempDir::new("fs");
    run(async {
        let path = tmp.join("c");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(&path, &data).await.unwrap();
        let mut f = File::open(&path).await.unwrap();
        f.set_max_buf_size(1024);
        let mut all = Vec::new();
        // Poll a read once (its job is then usually in flight) and drop the
        // future; the next read collects that job's bytes first.
        for _ in 0..20 {
            let mut buf = [0u8; 100];
            let n = {
                let read = f.read(&mut buf);
                futures::pin_mut!(read);
                match futures::poll!(read) {
                    std::task::Poll::Ready(n) => n.unwrap(),
                    std::task::Poll::Pending => 0,
                }
            };
            all.extend_from_slice(&buf[..n]);
        }
        f.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
    });
}

#[test]
fn file_on_the_current_thread_runtime() {
    let tmp = TempDir::new("fs");
    let rt = tether::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        tether::time::timeout(WATCHDOG, async {
            let path = tmp.join("ct");
            let mut f = File::create(&path).await.unwrap();
            for i in 0..100 {
                f.write_all(format!("{i}\n").as_bytes()).await.unwrap();
            }
            f.flush().await.unwrap();
            let mut lines = BufReader::new(File::open(&path).await.unwrap()).lines();
            let mut n = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                assert_eq!(line, n.to_string());
                n += 1;
            }
            assert_eq!(n, 100);
        })
        .await
        .expect("test timed out");
    });
}

#[test]
fn outside_a_runtime_the_panic_names_the_fs_call() {
    let err = std::panic::catch_unwind(|| {
        futures::executor::block_on(fs::read("/dev/null")).unwrap();
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(
        msg.contains("tether::fs needs a tether runtime"),
        "unexpected panic message: {msg:?}"
    );
}
