# modelwrap: the two commands of the README are `make run` and `make test`; both work from a
# fresh clone on Debian 12 (they install what they need through scripts/install-deps.sh).
# `make run` builds without the unit tests, so it needs no test framework; `make test` turns them on
# in the same build folder (docs/development.md). cmake's own output stays on the screen: a missing
# library is named there.
.PHONY: all deps deps-test build build-tests run test unit integration asan asan-test fuzz-build fuzz bench bench-main clean
.PHONY: web browser-deps promtool obs-test-deps ci-fresh

JOBS ?= $(shell nproc)
PY := /usr/bin/python3
FUZZ_SECONDS ?= 30
RELEASE := build/release
ASAN := build/debug-asan
FUZZ := build/fuzz
space := $(subst ,, )

all: build

deps:
	bash scripts/install-deps.sh build

deps-test:
	bash scripts/install-deps.sh test
	$(MAKE) --no-print-directory obs-test-deps
	$(MAKE) --no-print-directory oidc-deps
	$(MAKE) --no-print-directory sbom-test-deps

build: deps
	cmake --preset release -DMW_TESTS=OFF
	cmake --build --preset release -j $(JOBS)
	$(MAKE) --no-print-directory web

build-tests: deps-test
	cmake --preset release -DMW_TESTS=ON
	cmake --build --preset release -j $(JOBS)
	$(MAKE) --no-print-directory web

# Serves the bundled default models (models/) on 127.0.0.1:8000.
run: build
	./$(RELEASE)/modelwrap serve

unit:
	cd $(RELEASE) && ctest --output-on-failure -j $(JOBS)

integration:
	MODELWRAP_BIN=$(CURDIR)/$(RELEASE)/modelwrap MW_BUILD_DIR=$(CURDIR)/$(RELEASE) \
	  $(PY) -m pytest -q -p no:cacheprovider tests/integration

asan:
	cmake --preset debug-asan
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
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)

# Runs every fuzzer for FUZZ_SECONDS on a scratch copy of its seed corpus.
fuzz: fuzz-build
	bash scripts/run-fuzzers.sh $(FUZZ) $(FUZZ_SECONDS)

# The lint runs first (bash and grep only), so a banned call or marker fails in a second.
test: lint build-tests
	$(MAKE) lint-test
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) asan-test
	$(MAKE) tsan-test
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-8}

bench: build
	bash bench/suite.sh

bench-main: build
	bash bench/run.sh

clean:
	rm -rf build

# The CI run on this machine: a fresh Debian 12 root made with debootstrap, the README's two commands
# inside it (root, and debootstrap on the host, needed).
ci-fresh:
	bash .ci/run

# ---- metrics, OpenAPI, docs ----
# The /docs page's renderer (web/) and the browser test's tools (tests/browser/: playwright-core
# driving Debian's chromium, swagger-parser), at the versions their committed package-lock.json
# pin, reinstalled only when a lock file changes; promtool from Debian's prometheus package,
# cached in build/tools/.
WEB_STAMP := web/node_modules/.package-lock.json
BROWSER_STAMP := tests/browser/node_modules/.package-lock.json

web: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --ignore-scripts --no-audit --no-fund

browser-deps: $(BROWSER_STAMP)

$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund

promtool:
	bash scripts/get-promtool.sh build/tools >/dev/null

obs-test-deps: web browser-deps promtool

# ---- authentication: a real OpenID provider for the tests ----
# tests/oidc: npm oidc-provider at the version its committed package-lock.json pins, reinstalled
# only when the lock file changes; tests/integration/test_auth_oidc.py starts it on loopback.
.PHONY: oidc-deps
OIDC_STAMP := tests/oidc/node_modules/.package-lock.json

oidc-deps: $(OIDC_STAMP)

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --ignore-scripts --no-audit --no-fund

# ---- dependency inventory: the CycloneDX 1.5 schema validator of the sbom tests ----
# tests/sbom: @cyclonedx/cyclonedx-library (its schema files and ajv validator) at the versions
# its committed package-lock.json pins; optional XML dependencies (native builds) left out.
.PHONY: sbom-test-deps
SBOM_STAMP := tests/sbom/node_modules/.package-lock.json

sbom-test-deps: $(SBOM_STAMP)

$(SBOM_STAMP): tests/sbom/package.json tests/sbom/package-lock.json
	npm ci --prefix tests/sbom --ignore-scripts --no-audit --no-fund --omit=optional

# ---- Python models: the python backend against the template's FastAPI app (bench/python.sh) ----
.PHONY: bench-python
bench-python: build
	bash bench/python.sh

# ---- deployment: the container image, Kubernetes, KServe, systemd, pipelines (docs/deploy.md) ----
# What CI runs on its host after .ci/run's fresh root: builds the image from this checkout with
# podman, runs it hardened and with `podman kube play`, validates every manifest offline, scores the
# systemd unit. Needs root; installs podman, runc, debootstrap and deploy/ci/tools when missing.
.PHONY: deploy-check
deploy-check:
	bash deploy/ci/check.sh

# ---- guards: the project lint, ThreadSanitizer (docs/development.md) ----
.PHONY: lint lint-test tsan tsan-test
# Markers, TODOs, banned calls in src/ and plugins/, private headers included across modules.
lint:
	bash scripts/lint.sh

# The lint's own tests: every rule fails on a bad sample in a made-up tree.
lint-test:
	$(PY) -m pytest -q -p no:cacheprovider tests/lint

# ThreadSanitizer (clang, build/tsan) on the concurrent paths only, so that it stays cheap in CI:
# the scheduler, batching, reload and version pool, the audit writer and events, the limiter (local
# and Redis), metrics, lock-free snapshots (auth keys, registry), the buffered log and spawn; then
# the integration tests of those paths on the instrumented server. OMP_NUM_THREADS=1: libgomp is not instrumented, so TSan cannot
# see its barriers and reports XGBoost's own OpenMP threads; with one, predictions run on the
# calling (scheduler) thread and our concurrency is still all seen. No suppressions.
TSAN := build/tsan
TSAN_UNIT := model_test_sched model_test_batch model_test_reload model_test_registry \
  model_test_versions model_test_call model_test_xgboost model_test_plugin api_test_v2_repository \
  audit_test_trail audit_test_events limit_test_limiter limit_test_table limit_test_redis \
  metrics_test_metrics auth_test_auth auth_test_keys \
  auth_test_guard http_test_guard core_test_log core_test_spawn
TSAN_INTEGRATION := test_batching.py test_python_batching.py test_v2_versions.py \
  test_tls_reload.py test_auth_keys.py test_audit_load.py test_limit_local.py test_lifecycle.py
TSAN_ENV := OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

tsan:
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS) --target modelwrap textclf testkit \
	  $(addprefix unit_,$(TSAN_UNIT))

tsan-test: tsan
	cd $(TSAN) && $(TSAN_ENV) ctest --output-on-failure -j $(JOBS) \
	  -R '^unit_($(subst $(space),|,$(strip $(TSAN_UNIT))))$$'
	$(TSAN_ENV) MODELWRAP_BIN=$(CURDIR)/$(TSAN)/modelwrap MW_BUILD_DIR=$(CURDIR)/$(TSAN) MW_SANITIZED=1 \
	  $(PY) -m pytest -q -p no:cacheprovider $(addprefix tests/integration/,$(TSAN_INTEGRATION))
