# nlconf: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
# Where cargo puts what it builds, as cargo itself reports it (CARGO_TARGET_DIR, .cargo/config).
TARGET_DIR = $(shell $(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
NLCONF = $(TARGET_DIR)/debug/nlconf

.PHONY: build test fuzz demo lint man bench clean

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

clean:
	$(CARGO) clean
