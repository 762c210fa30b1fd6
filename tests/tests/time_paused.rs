//! The paused clock: `#[tether::test(start_paused = true)]`,
//! `tether::time::{pause, advance, resume}` and auto-advance. Every test
//! here sleeps for minutes to hours of virtual time and must finish in well
//! under a second of real time; each real-time bound is loose (a minute) so
//! a loaded machine cannot make it flaky, yet a clock that really waited
//! would blow it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tether::time::{
    Instant, MissedTickBehavior, advance, interval, pause, resume, sleep, sleep_until, timeout,
};
use tether_tests::{current_thread, multi_thread, paused};

/// Bound on the real time a paused test may take.
const REAL_LIMIT: Duration = Duration::from_secs(60);

const HOUR: Duration = Duration::from_secs(3600);

#[tether::test(start_paused = true)]
async fn sleep_an_hour_completes_at_once_and_advances_instant_by_an_hour() {
    let real = std::time::Instant::now();
    let start = Instant::now();
    sleep(HOUR).await;
    // Exact: the paused clock sits on a timer tick, and auto-advance moves
    // it to the deadline's tick.
    assert_eq!(start.elapsed(), HOUR);
    assert!(real.elapsed() < REAL_LIMIT);
}

#[tether::test(start_paused = true)]
async fn timers_fire_in_deadline_order_on_the_paused_clock() {
    let start = Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for secs in [50u64, 10, 40, 20, 30] {
        let log = log.clone();
        handles.push(tether::spawn(async move {
            sleep(Duration::from_secs(secs)).await;
            log.lock().unwrap().push((secs, start.elapsed()));
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let log = log.lock().unwrap();
    let order: Vec<u64> = log.iter().map(|&(s, _)| s).collect();
    assert_eq!(order, [10, 20, 30, 40, 50]);
    for &(secs, at) in log.iter() {
        assert_eq!(at, Duration::from_secs(secs), "{secs}s timer");
    }
}

#[tether::test(start_paused = true)]
async fn timeout_elapses_without_waiting_and_a_fast_future_wins() {
    let start = Instant::now();
    let res = timeout(HOUR, std::future::pending::<()>()).await;
    assert!(res.is_err());
    assert_eq!(start.elapsed(), HOUR);

    let res = timeout(Duration::from_secs(2), sleep(Duration::from_secs(1))).await;
    assert!(res.is_ok(), "the sleep is due first");
    let res = timeout(Duration::from_secs(1), sleep(Duration::from_secs(2))).await;
    assert!(res.is_err(), "the timeout is due first");
}

#[tether::test(start_paused = true)]
async fn blocking_work_holds_off_auto_advance() {
    // Auto-advance must not fire the timeout while the blocking job runs:
    // it takes real time, but no virtual time passes for it.
    let res = timeout(
        Duration::from_secs(1),
        tether::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50))),
    )
    .await;
    assert!(res.is_ok(), "timed out while a blocking job was running");
}

#[tether::test(start_paused = true)]
async fn an_hour_of_one_second_ticks() {
    let real = std::time::Instant::now();
    let mut ticks = interval(Duration::from_secs(1));
    let first = ticks.tick().await;
    for k in 1..=3600u32 {
        assert_eq!(ticks.tick().await, first + Duration::from_secs(1) * k);
    }
    assert!(Instant::now() >= first + HOUR);
    assert!(real.elapsed() < REAL_LIMIT);
}

/// `interval` with each missed-tick behaviour: a tick handler that takes
/// 2.5 periods (of virtual time) makes the interval fall behind. Each tick
/// resolves to the instant it was scheduled for; the paused clock makes
/// every one exact.
#[tether::test(start_paused = true)]
async fn interval_missed_tick_behaviours_with_slow_handlers() {
    let p = Duration::from_secs(10);
    for (behavior, expected) in [
        // Catch up on the original schedule: every tick is delivered.
        (MissedTickBehavior::Burst, [0, 10, 20, 30, 40, 50]),
        // Ticks are taken at 25, 50, 75, ...: each next tick is due a
        // period after the previous one was taken (25 + 10, 50 + 10, ...).
        (MissedTickBehavior::Delay, [0, 10, 35, 60, 85, 110]),
        // Ticks are taken at 25, 50, 75, ...: the missed ticks are dropped
        // and the next one is the first grid point after that moment.
        (MissedTickBehavior::Skip, [0, 10, 30, 60, 80, 110]),
    ] {
        let mut ticks = interval(p);
        ticks.set_missed_tick_behavior(behavior);
        let start = ticks.tick().await;
        let mut seen = vec![0];
        for _ in 0..5 {
            sleep(p * 5 / 2).await; // the slow handler of the previous tick
            seen.push((ticks.tick().await - start).as_secs());
        }
        assert_eq!(seen, expected, "{behavior:?}");
    }
}

#[test]
fn advance_fires_due_timers_and_runs_their_tasks() {
    let rt = current_thread();
    rt.block_on(async {
        pause();
        let start = Instant::now();
        let timer = tether::spawn(sleep(Duration::from_secs(90)));
        advance(Duration::from_secs(60)).await;
        assert!(!timer.is_finished());
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        advance(Duration::from_secs(31)).await;
        assert!(timer.is_finished());
        timer.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(91));
    });
}

#[test]
fn resume_runs_the_clock_again_from_where_it_stood() {
    let rt = current_thread();
    rt.block_on(async {
        pause();
        let start = Instant::now();
        advance(HOUR).await;
        resume();
        // Running again, from one hour ahead of the real clock.
        let before = Instant::now();
        assert!(before >= start + HOUR);
        sleep(Duration::from_millis(5)).await;
        assert!(Instant::now() >= before + Duration::from_millis(5));
        // And it can be paused again.
        pause();
        let frozen = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(Instant::now(), frozen);
    });
}

#[test]
fn misuse_panics_with_a_clear_message() {
    fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(f).unwrap_err();
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap()
    }
    let msg = message(|| multi_thread(1).block_on(async { pause() }));
    assert!(msg.contains("current-thread runtime"), "{msg}");
    let msg = message(|| current_thread().block_on(async { resume() }));
    assert!(msg.contains("not paused"), "{msg}");
    let msg = message(|| {
        current_thread().block_on(async {
            pause();
            pause();
        })
    });
    assert!(msg.contains("already paused"), "{msg}");
    let msg = message(|| current_thread().block_on(advance(Duration::from_secs(1))));
    assert!(msg.contains("not paused"), "{msg}");
    let msg = message(pause);
    assert!(msg.contains("no tether runtime"), "{msg}");

    let err = tether::runtime::Builder::new_multi_thread()
        .start_paused(true)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn paused_builder_runtime_and_io_still_work() {
    let rt = paused();
    let real = std::time::Instant::now();
    rt.block_on(async {
        use futures::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tether::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tether::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            sleep(Duration::from_secs(30)).await; // a slow reply
            s.write_all(&buf).await.unwrap();
        });
        let mut c = tether::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let start = Instant::now();
        timeout(Duration::from_secs(60), c.read_exact(&mut buf))
            .await
            .expect("the reply is due before the timeout")
            .unwrap();
        assert_eq!(&buf, b"ping");
        assert!(start.elapsed() >= Duration::from_secs(30));
        server.await.unwrap();
        // A deadline in the past is ready at once, paused or not.
        assert!(sleep_until(Instant::now()).now_or_never().is_some());
    });
    assert!(real.elapsed() < REAL_LIMIT);
}

#[tether::main(flavor = "current_thread", start_paused = true)]
async fn paused_main() -> Duration {
    let start = Instant::now();
    sleep(HOUR).await;
    start.elapsed()
}

#[test]
fn main_macro_can_start_paused() {
    let real = std::time::Instant::now();
    assert_eq!(paused_main(), HOUR);
    assert!(real.elapsed() < REAL_LIMIT);
}
