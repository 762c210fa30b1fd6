//! `tether::io::{stdin, stdout, stderr}`: a child process (this test binary
//! re-run on one test) reads lines from its standard input and writes to
//! its standard output and error through tether, over real pipes.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tether::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Set in the child's environment: the child half runs only then.
const CHILD_ENV: &str = "TETHER_STDIO_CHILD";
/// The child gets this long before it is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(60);
/// More input than one pipe buffer, so reads and writes interleave.
const LINES: usize = 5000;

/// The child: upper-cases every input line to stdout, then reports the
/// count on stderr.
#[test]
fn stdio_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = tether::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut lines = BufReader::new(tether::io::stdin()).lines();
        let mut out = tether::io::stdout();
        let mut n = 0;
        while let Some(line) = lines.next_line().await.unwrap() {
            out.write_all(format!("OUT:{}\n", line.to_uppercase()).as_bytes())
                .await
                .unwrap();
            n += 1;
        }
        out.flush().await.unwrap();
        let mut err = tether::io::stderr();
        err.write_all(format!("lines: {n}\n").as_bytes())
            .await
            .unwrap();
        err.shutdown().await.unwrap();
    });
}

#[test]
fn stdin_to_stdout_and_stderr_through_the_blocking_pool() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stdio_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..LINES {
            writeln!(stdin, "line {i}").unwrap();
        }
        // Dropping stdin ends the child's input.
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });

    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not finish within {WATCHDOG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    feeder.join().unwrap();
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(status.success(), "child failed: {status}\n{out}\n{err}");

    // libtest's own "test stdio_child ... " may precede the first line.
    let got: Vec<&str> = out
        .lines()
        .filter_map(|l| l.find("OUT:").map(|at| &l[at..]))
        .collect();
    assert_eq!(got.len(), LINES, "{err}");
    for (i, line) in got.iter().enumerate() {
        assert_eq!(*line, format!("OUT:LINE {i}"));
    }
    assert!(err.contains(&format!("lines: {LINES}\n")), "{err}");
}
