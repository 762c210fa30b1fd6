//! Shared helpers for the tether examples. The programs themselves live next
//! to this file and run with `cargo run --example NAME`.
