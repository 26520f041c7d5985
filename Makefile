# One place for the project's commands. `make run` and `make test` set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8080
export PORT HOST
# Kernels compile once into this cache (Lambda points it at /tmp).
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: setup run test bench peers bench-debs loadtest soak clean models browser lint lock

setup: $(STAMP) models

# Installs exactly the pinned, hashed versions of requirements.lock (`make lock` refreshes it),
# then the project itself; `pip check` fails when pyproject.toml needs what the lock lacks.
$(STAMP): pyproject.toml requirements.lock
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-* && touch $@

models: $(STAMP)
	$(BIN)/python models/build.py

# $(call debs,PACKAGES,WHO NEEDS THEM): install the missing Debian packages when root (CI),
# otherwise print the one command to run (the tests that need them then skip).
debs = @missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || echo "could not install:$$missing"; \
	  else echo "$(2) need Debian packages:$$missing (sudo apt-get install$$missing)"; fi; fi

# Tesseract 5 (chi_sim+eng), the CLI peer of bench.peers.
BENCH_DEBS := tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng
# What the tests use: chromium (browser tests), shellcheck (edge install script),
# fonts-wqy-microhei (Chinese glyphs in page screenshots), Tesseract (bench.peers adapter test).
TEST_DEBS := chromium shellcheck fonts-wqy-microhei fonts-dejavu-core fonts-dejavu-extra fonts-liberation poppler-utils $(BENCH_DEBS)
browser:
	$(call debs,$(TEST_DEBS),some tests)

bench-debs:
	$(call debs,$(BENCH_DEBS),the benchmarks)

run: setup
	$(BIN)/python -m ocrservice.serve

test: setup browser lint
	$(BIN)/python -m pytest -q

bench: setup bench-debs
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python -m bench.peers --stages --profile --cold-fresh
	$(BIN)/python -m bench.kernels
	$(BIN)/python -m bench.scroll

# One table: ours (every profile/precision) vs RapidOCR and Tesseract, speed, memory, accuracy.
peers: setup bench-debs
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python -m bench.peers

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# Refresh requirements.lock from pyproject.toml (every extra but bench, hashed, all platforms),
# keeping the pinned versions that still fit; `make lock LOCK_FLAGS=--upgrade` takes the newest.
LOCK_FLAGS ?=
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra build --extra test --generate-hashes --universal \
	  --python-version 3.11 $(LOCK_FLAGS) -q -o requirements.lock

clean:
	rm -rf $(VENV) models/build .cache

loadtest: setup
	$(BIN)/python -m loadtest.run --max-peak-rss 450

soak: setup
	$(BIN)/python -m loadtest.run --soak --requests 10000
