# nlconf: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
# Where cargo puts what it builds, as cargo itself reports it (CARGO_TARGET_DIR, .cargo/config).
TARGET_DIR = $(shell $(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
NLCONF = $(TARGET_DIR)/debug/nlconf

.PHONY: build test fuzz demo lint man bench dist clean

build:
	$(CARGO) build

test:
	$(CARGO) test

# The fuzzing harness (tests/fuzz/) for longer than `make test` runs it: FUZZ_CASES per loader, optimised.
FUZZ_CASES ?= 20000
fuzz:
	NLCONF_FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test --release --test fuzz -- --nocapture

demo: build
	NLCONF="$(NLCONF)" ./demo/demo.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

man: build
	mkdir -p "$(TARGET_DIR)/man"
	"$(NLCONF)" man > "$(TARGET_DIR)/man/nlconf.1"
	@echo "wrote $(TARGET_DIR)/man/nlconf.1 (view with: man -l $(TARGET_DIR)/man/nlconf.1)"

bench:
	./bench/run.sh
	./bench/ssh.sh

# A static Linux binary and its SHA-256, for a release: $(TARGET_DIR)/dist/ (README: Releases). musl
# by default (needs `rustup target add x86_64-unknown-linux-musl` and Debian's musl-tools, for the C
# of mimalloc); `make dist DIST_TARGET=x86_64-unknown-linux-gnu` links glibc statically instead.
# Not part of `make test` or CI: a release build takes minutes.
DIST_TARGET ?= x86_64-unknown-linux-musl
VERSION = $(shell $(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["packages"][0]["version"])')
DIST_NAME = nlconf-$(VERSION)-$(DIST_TARGET)
dist:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release --locked --target $(DIST_TARGET)
	mkdir -p "$(TARGET_DIR)/dist"
	cp "$(TARGET_DIR)/$(DIST_TARGET)/release/nlconf" "$(TARGET_DIR)/dist/$(DIST_NAME)"
	@# A release binary must run on any Linux: refuse one that loads shared libraries.
	@if ldd "$(TARGET_DIR)/dist/$(DIST_NAME)" 2>&1 | grep -q '=>'; then \
	  echo "$(DIST_NAME) is dynamically linked:"; ldd "$(TARGET_DIR)/dist/$(DIST_NAME)"; exit 1; fi
	cd "$(TARGET_DIR)/dist" && sha256sum "$(DIST_NAME)" > "$(DIST_NAME).sha256"
	@echo "wrote $(TARGET_DIR)/dist/$(DIST_NAME) and $(DIST_NAME).sha256"

clean:
	$(CARGO) clean
