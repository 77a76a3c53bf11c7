//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same entry
//! points the fuzzers run, so every seed and every past crash stays a regression test
//! on stable Rust. The bounded random part of fuzzing lives in the property tests.

use std::fs;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        // A panic here names the input that broke an invariant.
        eprintln!("replaying {}", path.display());
        run(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "corpus {} is empty", dir.display());
}

#[test]
fn fastcgi_connection_corpus() {
    replay("fastcgi_connection", sfpm::fuzzing::fastcgi_connection);
}

#[test]
fn fastcgi_params_corpus() {
    replay("fastcgi_params", sfpm::fuzzing::fastcgi_params);
}

#[test]
fn scgi_request_corpus() {
    replay("scgi_request", sfpm::fuzzing::scgi_request);
}
