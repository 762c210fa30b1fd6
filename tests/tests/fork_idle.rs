//! A worker that ran fork work (a scope's helper, a `join!` job, a fork of
//! its own) keeps looking for work for a short while before it parks, so
//! that the next burst of fork/join work finds it awake. Two things must
//! hold whatever the timing:
//!
//! 1. The look ends: an idle runtime uses no CPU once the bursts are over.
//! 2. Work that arrives while a worker looks, or just as it gives up and
//!    parks, is run: a remote spawn, a wake from outside, a fork job. A
//!    lost hand-over would hang; every wait here has a deadline and the
//!    whole test a watchdog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Longest a whole test may run before the process aborts.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Longest one hand-over may take before the test fails.
const HAND_OVER_LIMIT: Duration = Duration::from_secs(10);

/// Held by each test for its whole run: the idle check measures the CPU
/// time of the process, which another test running beside it would use.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn fib(n: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        let (a, b) = tether::join!(fib(n - 1), fib(n - 2));
        a + b
    })
}

/// A fan-out of `n` small children over borrowed data.
async fn fan_out(n: u64) {
    let data: Vec<u64> = (0..n * 16).collect();
    let total = AtomicU64::new(0);
    tether::scope(|s| {
        let (data, total) = (&data, &total);
        async move {
            for c in data.chunks(16) {
                s.spawn(async move {
                    total.fetch_add(c.iter().sum::<u64>(), Ordering::Relaxed);
                });
            }
        }
    })
    .await;
    assert_eq!(total.into_inner(), (0..n * 16).sum::<u64>());
}

/// CPU time (user + system) this process has used so far.
#[cfg(target_os = "linux")]
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may contain spaces), 0-based:
    // utime is field 11 and stime field 12 of what follows ") ".
    let rest = stat.rsplit(')').next().expect("stat format");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // The kernel reports clock ticks; USER_HZ is 100 on every Linux ABI.
    Duration::from_millis(ticks * 10)
}

#[cfg(target_os = "linux")]
#[test]
fn workers_park_again_after_fork_work() {
    let _serial = one_at_a_time();
    let _watchdog = tether_tests::watchdog("workers_park_again_after_fork_work", WATCHDOG);
    for workers in [2, 4] {
        let rt = tether_tests::multi_thread(workers);
        for _ in 0..50 {
            rt.block_on(fan_out(100));
            rt.block_on(async { tether::spawn(fan_out(100)).await.unwrap() });
            assert_eq!(
                rt.block_on(async { tether::spawn(fib(15)).await.unwrap() }),
                610
            );
        }
        // Every worker ran fork work. Let any look still under way end,
        // then measure an idle stretch: a worker that kept looking would
        // use a whole core for it.
        std::thread::sleep(Duration::from_millis(20));
        let idle = Duration::from_millis(500);
        let before = process_cpu();
        std::thread::sleep(idle);
        let used = process_cpu() - before;
        assert!(
            used < idle / 4,
            "an idle {workers}-worker runtime used {used:?} of CPU in {idle:?} after fork work"
        );
    }
}

/// Waits for `rx` or fails after [`HAND_OVER_LIMIT`].
fn expect_within(rx: &std::sync::mpsc::Receiver<u64>, what: &str, i: usize) -> u64 {
    rx.recv_timeout(HAND_OVER_LIMIT)
        .unwrap_or_else(|_| panic!("{what} (iteration {i}) did not run within {HAND_OVER_LIMIT:?}"))
}

#[test]
fn work_arriving_around_the_idle_look_is_run() {
    let _serial = one_at_a_time();
    let _watchdog = tether_tests::watchdog("work_arriving_around_the_idle_look_is_run", WATCHDOG);
    for workers in [2, 3] {
        let rt = tether_tests::multi_thread(workers);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut i = 0;
        while i < 1_500 && Instant::now() < deadline {
            // A task parked on a oneshot, woken from outside below.
            let (wake_tx, wake_rx) = futures::channel::oneshot::channel::<u64>();
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let waiter = {
                let done_tx = done_tx.clone();
                rt.spawn(async move {
                    let v = wake_rx.await.expect("sender dropped");
                    done_tx.send(v).unwrap();
                })
            };
            // A burst of fork work, so the workers look before parking.
            if i % 2 == 0 {
                rt.block_on(fan_out(8));
            } else {
                rt.block_on(async { tether::spawn(fan_out(8)).await.unwrap() });
            }
            // Gaps from none to past the length of the look, so the new
            // work lands before, during and after the moment the workers
            // give up and park.
            let gap = Duration::from_micros((i as u64 * 7) % 120);
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
            match i % 3 {
                0 => {
                    let done_tx = done_tx.clone();
                    drop(rt.spawn(async move { done_tx.send(1).unwrap() }));
                    assert_eq!(expect_within(&done_rx, "a remote spawn", i), 1);
                    wake_tx.send(2).unwrap();
                    assert_eq!(expect_within(&done_rx, "a wake from outside", i), 2);
                }
                1 => {
                    wake_tx.send(2).unwrap();
                    assert_eq!(expect_within(&done_rx, "a wake from outside", i), 2);
                }
                _ => {
                    // Fork work again, from a task: its helper must be
                    // taken up whether a worker looks or sleeps.
                    let done_tx = done_tx.clone();
                    drop(rt.spawn(async move {
                        fan_out(32).await;
                        done_tx.send(3).unwrap();
                    }));
                    assert_eq!(expect_within(&done_rx, "a fan-out in a task", i), 3);
                    wake_tx.send(2).unwrap();
                    assert_eq!(expect_within(&done_rx, "a wake from outside", i), 2);
                }
            }
            rt.block_on(waiter).unwrap();
            i += 1;
        }
        assert!(i >= 100, "only {i} iterations ran on {workers} workers");
    }
}

/// A worker that looks for work is not parked in the I/O driver, and fork
/// bursts closer together than the look keep every worker looking. The
/// look must serve the driver itself, or sockets and timers wait for the
/// busy loop's driver poll every `event_interval` ticks, each tick now
/// including a look: a UDP echo through a task took 2.3–4.1 ms instead of
/// 30–70 µs beside fork bursts 40 µs apart.
///
/// Counted in bursts, not time: how many fork bursts an outside thread
/// completes while one datagram goes through the echo task and back.
/// Served at once, that is a burst or two (p90 1 measured); served every
/// `event_interval` ticks, p90 34–47 (4 runs out of 4).
#[test]
fn io_is_served_while_fork_bursts_keep_workers_looking() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let _serial = one_at_a_time();
    let _watchdog = tether_tests::watchdog(
        "io_is_served_while_fork_bursts_keep_workers_looking",
        WATCHDOG,
    );
    let rt = tether_tests::multi_thread(2);
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(server.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(HAND_OVER_LIMIT)).unwrap();
    server.set_nonblocking(true).unwrap();
    let server = rt.block_on(async { tether::net::UdpSocket::from_std(server).unwrap() });
    let echo = rt.spawn(async move {
        let mut buf = [0u8; 16];
        loop {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let bursts = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (stop, bursts) = (stop.clone(), bursts.clone());
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Enough children that both workers take some.
                handle.block_on(async { tether::spawn(fan_out(64)).await.unwrap() });
                bursts.fetch_add(1, Ordering::Relaxed);
                // A gap shorter than the look, so workers never park.
                let gap = Instant::now();
                while gap.elapsed() < Duration::from_micros(40) {
                    std::hint::spin_loop();
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut during = Vec::new();
    let mut buf = [0u8; 16];
    for _ in 0..400 {
        std::thread::sleep(Duration::from_micros(700));
        let before = bursts.load(Ordering::Relaxed);
        client.send(b"ping").unwrap();
        let n = client
            .recv(&mut buf)
            .expect("the echo did not come back in time");
        assert_eq!(&buf[..n], b"ping");
        during.push(bursts.load(Ordering::Relaxed) - before);
    }
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
    echo.abort();
    during.sort_unstable();
    let p90 = during[during.len() * 9 / 10];
    let total = bursts.load(Ordering::Relaxed);
    assert!(
        total > 200,
        "only {total} fork bursts ran: the test did not load the workers"
    );
    assert!(
        p90 <= 6,
        "a datagram waited for {p90} fork bursts (p90) to be echoed: the driver is not \
         served while workers look for fork work"
    );
}
