#!/usr/bin/env bash
# Bounded libFuzzer runs of the fuzz targets named as arguments, FUZZ_SECONDS each
# (default 60), on the stable toolchain. Prints one "Done N runs in S second(s)" line per
# target; exits non-zero if any target found a crash, a leak or a hang.
#
# libFuzzer's instrumentation needs unstable rustc flags (-Zsanitizer, sancov);
# RUSTC_BOOTSTRAP=1 lets stable rustc accept them. AddressSanitizer (cargo-fuzz's default)
# works this way; FUZZ_FLAGS="-s none" runs without a sanitizer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds=${FUZZ_SECONDS:-60}
read -r -a flags <<<"${FUZZ_FLAGS:-}"
(($# > 0)) || { echo "usage: $0 TARGET..." >&2; exit 2; }
export RUSTC_BOOTSTRAP=1

cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build "${flags[@]}"

mkdir -p target/logs
failed=()
for target in "$@"; do
    # New inputs go to target/corpus/ (first directory); the committed seeds stay as they are.
    mkdir -p "target/corpus/$target"
    log="target/logs/$target.log"
    if cargo fuzz run "${flags[@]}" "$target" "target/corpus/$target" "corpus/$target" \
        -- -max_total_time="$seconds" -timeout=5 >"$log" 2>&1; then
        echo "fuzz: $target: $(grep -a '^Done [0-9]* runs' "$log")"
    else
        # the head of the sanitizer's or libFuzzer's report, its summary, cargo-fuzz's
        # "Failing input / Reproduce with" box
        awk '/==[0-9]+== ?ERROR|panicked at|ERROR: libFuzzer/ && !seen++ { head = 20 }
             head > 0 { print; head--; next }
             /^SUMMARY:/ { print }
             /^───/ { box = !box; print; next }
             box { print }' "$log"
        echo "fuzz: $target: FAILED (log fuzz/$log, input in fuzz/artifacts/$target/)"
        failed+=("$target")
    fi
done
((${#failed[@]} == 0)) || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
