#!/usr/bin/env bash
# Runs every test of the crate (all targets, then doc tests) and closes with one line of
# totals, so the last line speaks for the whole run rather than for the last test binary.
# Exits non-zero as soon as a cargo test run fails.
set -euo pipefail

log=$(mktemp)
trap 'rm -f "$log"' EXIT

cargo test --all-targets 2>&1 | tee -a "$log"
cargo test --doc 2>&1 | tee -a "$log"

# libtest: "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ..."
awk '/^test result:/ {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^passed/) passed += $(i - 1)
            if ($i ~ /^failed/) failed += $(i - 1)
            if ($i ~ /^ignored/) ignored += $(i - 1)
        }
    }
    END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
