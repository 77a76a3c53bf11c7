#!/usr/bin/env bash
# Installs the Debian 12 packages sfpm builds and tests against, and checks the Rust toolchain.
#
# Idempotent: when every package is already installed it changes nothing and touches no
# network (no apt-get update). Services shipped by these packages (nginx, apache2, lighttpd,
# caddy, php8.2-fpm) are kept from starting during the install by a temporary policy-rc.d:
# the tests start their own instances on free loopback ports.
set -euo pipefail

packages=(
    # build: the crate, the C shim (cc), bindgen (libclang)
    build-essential pkg-config clang libclang-dev python3
    # PHP: libphp for the SAPI, headers/php-config, the reference php-fpm for differential tests,
    # pdo_sqlite and mbstring for the example app (examples/app, `make run`)
    libphp8.2-embed php8.2-dev php8.2-cli php8.2-opcache php8.2-fpm php8.2-sqlite3 php8.2-mbstring
    # front ends for integration tests
    nginx apache2 lighttpd caddy
    # tools: cgi-fcgi client, HTTP client, syscall counting, memory checks
    libfcgi-bin curl strace valgrind
    # benchmarks: an HTTP load generator
    wrk
)

min_rust=1.85 # edition 2024

die() { echo "install-deps: $*" >&2; exit 1; }

# --- Rust toolchain (cannot be downloaded here: it must already be installed) ---
for tool in cargo rustc; do
    if ! command -v "$tool" >/dev/null; then
        cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
        if [[ -x "$cargo_bin/$tool" ]]; then
            die "$tool is in $cargo_bin but not on PATH; add it: export PATH=\"$cargo_bin:\$PATH\""
        fi
        die "$tool not found: sfpm needs a Rust toolchain >= $min_rust (edition 2024), installed with rustup"
    fi
    version=$("$tool" --version | awk '{print $2}')
    lowest=$(printf '%s\n%s\n' "$min_rust" "${version%%-*}" | sort -V | head -n1)
    [[ "$lowest" == "$min_rust" ]] ||
        die "$tool $version is too old: sfpm needs >= $min_rust (edition 2024)"
done

# --- Debian packages ---
missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "ii "* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages installed; $(cargo --version)"
    exit 0
fi

((EUID == 0)) || die "must run as root to install: ${missing[*]}"
echo "install-deps: installing ${missing[*]}"

# Keep services from starting while they are installed (invoke-rc.d honours exit 101).
# An existing policy-rc.d is put back afterwards.
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e "$policy" ]]; then
    saved=$(mktemp)
    cp -p "$policy" "$saved"
fi
restore_policy() {
    if [[ -n "$saved" ]]; then
        cp -p "$saved" "$policy"
        rm -f "$saved"
    else
        rm -f "$policy"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# sfpm install-deps: no service starts during the install\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Nothing should have started; say so loudly if a web server holds port 80 anyway.
if command -v ss >/dev/null && ss -Hltn 'sport = :80' | grep -q .; then
    echo "install-deps: warning: something listens on port 80 after the install:" >&2
    ss -ltnp 'sport = :80' >&2
fi
echo "install-deps: done"
