//! Makes the tether version of every tokio program in `port/`: the same
//! source with the word `tokio` replaced by `tether` (whole words only, so
//! `tokio_util` and the like are left alone). `tests/port.rs` includes both
//! versions and checks that they print the same transcript.

use std::path::Path;
use std::{env, fs};

fn main() {
    let out_dir = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out_dir).join("port");
    fs::create_dir_all(&out).expect("create OUT_DIR/port");
    println!("cargo::rerun-if-changed=port");
    for entry in fs::read_dir("port").expect("read tests/port") {
        let path = entry.expect("list tests/port").path();
        if path.extension().is_some_and(|e| e == "rs") {
            println!("cargo::rerun-if-changed={}", path.display());
            let source = fs::read_to_string(&path).expect("read a port program");
            let renamed = rename_word(&source, "tokio", "tether");
            fs::write(out.join(path.file_name().unwrap()), renamed).expect("write");
        }
    }
}

/// `text` with every whole-word `from` replaced by `to`.
fn rename_word(text: &str, from: &str, to: &str) -> String {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}
