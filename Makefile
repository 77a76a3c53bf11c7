# sfpm — the commands. `make test` is the one test command (README, .ci/run).

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fastcgi_connection fastcgi_params scgi_request
# extra cargo-fuzz flags, e.g. FUZZ_FLAGS="-s none" to run without AddressSanitizer
FUZZ_FLAGS ?=

# rustup's cargo, even where a login shell did not put it on PATH
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)

.PHONY: deps build test run bench fuzz clean

deps:
	bash scripts/install-deps.sh

build: deps
	cargo build --release

test: deps
	bash scripts/cargo-test.sh

# Until the server exists: decode a sample nginx FastCGI request and an SCGI request.
run: build
	cargo run --release --example decode

bench: deps
	cargo bench --bench parse

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS="$(FUZZ_FLAGS)" bash scripts/fuzz.sh $(FUZZ_TARGETS)

clean:
	cargo clean
	rm -rf fuzz/target
