//! A tokio program ports by renaming: `port/relay.rs` is tokio code; the
//! build script writes a copy with the word `tokio` replaced by `tether`.
//! Both versions are compiled here, and run, and must print the same
//! transcript.

#![allow(dead_code)]

mod on_tokio {
    include!("../port/relay.rs");
}

mod on_tether {
    include!(concat!(env!("OUT_DIR"), "/port/relay.rs"));
}

use std::time::Duration;

use tether_tests::watchdog;

use tether_tests::TempDir;

#[test]
fn relay_program_prints_the_same_on_tokio_and_tether() {
    let _w = watchdog("port_relay", Duration::from_secs(120));
    let tokio_dir = TempDir::new("tokio");
    let tether_dir = TempDir::new("tether");
    let expected = on_tokio::run(tokio_dir.0.clone());
    let got = on_tether::run(tether_dir.0.clone());
    for line in &got {
        println!("{line}");
    }
    assert_eq!(got, expected);
    // And the transcript says what the program did.
    assert!(
        expected
            .iter()
            .any(|l| l == "joined: guest0, guest1, guest2")
    );
    assert!(
        expected
            .iter()
            .any(|l| l == "pool never ran more than two at once: true")
    );
}

#[test]
fn paused_clock_program_prints_the_same_on_tokio_and_tether() {
    let _w = watchdog("port_paused", Duration::from_secs(120));
    let real = std::time::Instant::now();
    let expected = on_tokio::paused_day();
    let got = on_tether::paused_day();
    assert_eq!(got, expected);
    assert!(
        expected.iter().any(|l| l == "virtual time passed: 82860 s"),
        "{expected:?}"
    );
    assert!(real.elapsed() < Duration::from_secs(60));
}
