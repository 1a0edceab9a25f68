# modelwrap: the two commands of the README are `make run` and `make test`; both work from a
# fresh clone on Debian 12 (they install what they need through scripts/install-deps.sh).
.PHONY: all deps deps-test build run test unit integration asan asan-test fuzz-build fuzz bench clean

JOBS ?= $(shell nproc)
PY := /usr/bin/python3
FUZZ_SECONDS ?= 30
RELEASE := build/release
ASAN := build/debug-asan
FUZZ := build/fuzz

all: build

deps:
	bash scripts/install-deps.sh build

deps-test:
	bash scripts/install-deps.sh test

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# Serves the bundled default model (models/iris) on 127.0.0.1:8000.
run: build
	./$(RELEASE)/modelwrap serve

unit:
	cd $(RELEASE) && ctest --output-on-failure -j $(JOBS)

integration:
	MODELWRAP_BIN=$(CURDIR)/$(RELEASE)/modelwrap MW_BUILD_DIR=$(CURDIR)/$(RELEASE) \
	  $(PY) -m pytest -q -p no:cacheprovider tests/integration

asan:
	cmake --preset debug-asan >/dev/null
	cmake --build --preset debug-asan -j $(JOBS)

# The whole suite again on the AddressSanitizer + UndefinedBehaviorSanitizer build.
asan-test: asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  MODELWRAP_BIN=$(CURDIR)/$(ASAN)/modelwrap MW_BUILD_DIR=$(CURDIR)/$(ASAN) MW_SANITIZED=1 \
	  $(PY) -m pytest -q -p no:cacheprovider tests/integration

fuzz-build:
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

# Runs every fuzzer for FUZZ_SECONDS on a scratch copy of its seed corpus.
fuzz: fuzz-build
	bash scripts/run-fuzzers.sh $(FUZZ) $(FUZZ_SECONDS)

test: deps-test build
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) asan-test
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-15}

bench: build
	bash bench/run.sh

clean:
	rm -rf build
