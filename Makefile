# sfpm — the commands. `make test` is the one test command (README, .ci/run).

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fastcgi_connection fastcgi_params scgi_request
# extra cargo-fuzz flags, e.g. FUZZ_FLAGS="-s none" to run without AddressSanitizer
FUZZ_FLAGS ?=

# rustup's cargo, even where a login shell did not put it on PATH
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)

.PHONY: deps build test run bench fuzz clean lib install c-examples

# `make install`: libsfpm (shared, soname libsfpm.so.0, and static), sfpm.h, sfpm.pc.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Which build `make install` copies: release (default), or debug (the tests' build).
PROFILE ?= release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The C examples: strict C99, against the debug libsfpm, shared and static.
CFLAGS_C99 := -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude
STATIC_LIBS := $(shell sed -n 's/^Libs.private: //p' sfpm.pc.in)

deps:
	bash scripts/install-deps.sh

build: deps
	cargo build --release

# The FFI tests compile examples/c against libsfpm.so/.a and run examples/python with it,
# and SFPM_TEST_ECHO=rust runs target/debug/examples/echo: build those first. Then the
# installed library is checked: headers, pkg-config, and a C program built against them.
test: deps
	cargo build --lib --examples
	cargo check --lib --no-default-features  # libsfpm for php-src builds (sapi/config.m4)
	bash scripts/check-install.sh
	bash scripts/cargo-test.sh

# The example guestbook (examples/app) on http://127.0.0.1:8080/ (or the next free port; PORT=
# picks the first to try): sfpm (release build) behind nginx, both started from generated configs
# in target/run/ and stopped by Ctrl-C. scripts/run.sh installs deps and builds first.
run:
	bash scripts/run.sh

bench: deps
	cargo bench --bench parse
	cargo bench --bench echo_server
	bash bench/nginx_hello.sh

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS="$(FUZZ_FLAGS)" bash scripts/fuzz.sh $(FUZZ_TARGETS)

# The library (build.rs links libsfpm.so.0, the soname, to it in the build tree).
lib:
	cargo build --lib $(if $(filter release,$(PROFILE)),--release)

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(TARGET_DIR)/$(PROFILE)/libsfpm.so $(DESTDIR)$(LIBDIR)/libsfpm.so.0
	ln -sf libsfpm.so.0 $(DESTDIR)$(LIBDIR)/libsfpm.so
	install -m 0644 $(TARGET_DIR)/$(PROFILE)/libsfpm.a $(DESTDIR)$(LIBDIR)/libsfpm.a
	install -m 0644 include/sfpm.h $(DESTDIR)$(INCLUDEDIR)/sfpm.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' sfpm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sfpm.pc

# examples/c built against the debug library, into $(TARGET_DIR)/debug/c/:
# echo and abi_check (shared, run-path to the build tree) and their -static twins.
c-examples:
	cargo build --lib
	mkdir -p $(TARGET_DIR)/debug/c
	for prog in echo abi_check; do \
		cc $(CFLAGS_C99) examples/c/$$prog.c -L$(TARGET_DIR)/debug -lsfpm \
			-Wl,-rpath,$(abspath $(TARGET_DIR))/debug -o $(TARGET_DIR)/debug/c/$$prog && \
		cc $(CFLAGS_C99) examples/c/$$prog.c $(TARGET_DIR)/debug/libsfpm.a $(STATIC_LIBS) \
			-o $(TARGET_DIR)/debug/c/$$prog-static || exit 1; \
	done

clean:
	cargo clean
	rm -rf fuzz/target
