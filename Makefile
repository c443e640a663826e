# nlconf: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
NLCONF := target/debug/nlconf

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
	./demo/demo.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

man: build
	mkdir -p target/man
	$(NLCONF) man > target/man/nlconf.1
	@echo "wrote target/man/nlconf.1 (view with: man -l target/man/nlconf.1)"

bench:
	./bench/run.sh

clean:
	$(CARGO) clean
