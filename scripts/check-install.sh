#!/usr/bin/env bash
# Installs libsfpm (the tests' debug build) into a temporary PREFIX and builds
# examples/c/abi_check.c against it through pkg-config, shared and static, then runs both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make -s install PROFILE=debug PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
for f in lib/libsfpm.so.0 lib/libsfpm.so lib/libsfpm.a include/sfpm.h lib/pkgconfig/sfpm.pc; do
    [ -e "$prefix/$f" ] || { echo "install: $f is missing"; exit 1; }
done
flags="-std=c99 -Wall -Wextra -Werror -pedantic"
# shellcheck disable=SC2046,SC2086
cc $flags examples/c/abi_check.c $(pkg-config --cflags --libs sfpm) -Wl,-rpath,"$prefix/lib" -o "$prefix/abi_check"
# shellcheck disable=SC2046,SC2086
cc $flags examples/c/abi_check.c $(pkg-config --cflags sfpm) "$prefix/lib/libsfpm.a" \
    $(pkg-config --libs-only-l --static sfpm | sed 's/-lsfpm//') -o "$prefix/abi_check_static"
for prog in abi_check abi_check_static; do
    "$prefix/$prog" >"$prefix/$prog.log" 2>&1 || { cat "$prefix/$prog.log"; echo "install check: $prog failed"; exit 1; }
done
echo "install check: libsfpm, sfpm.h and sfpm.pc install and link (shared and static)"
