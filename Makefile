# nlconf: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
NLCONF := target/debug/nlconf

.PHONY: build test demo lint man bench clean

build:
	$(CARGO) build

test:
	$(CARGO) test

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
