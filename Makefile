# Gongzhi: every set-up step lives here, so a fresh machine needs only `make demo` / `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= var/demo
PORT ?= 8501

.PHONY: install demo test test-fast test-deep lint bench-ingest bench-ingest-big bench-kpi bench-dashboard bench-load bench-office bench-alerts bench-map bench-drill clean bench-screen bench-scale

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/gongzhi demo --dir $(DEMO_DIR)
	$(BIN)/gongzhi --config $(DEMO_DIR)/gongzhi.toml up --port $(PORT)

# Two workers (one test file each at a time; every PostgreSQL test has its own schema and its own
# advisory-lock space), then the `serial` tests alone: they restart the shared server, make a
# standby from it or measure memory and latency, which a second worker would disturb.
# --durations: each run lists its slowest tests (the suite's 20-minute budget).
TEST_WORKERS ?= 2
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not serial" --durations=25
	$(BIN)/pytest -q -p no:xdist -m serial --durations=10

test-fast: install
	$(BIN)/pytest -q -x -m "not postgres and not browser"

# The differential suite at depth: thousands of drawn KPI combinations on more data, both
# engines (GONGZHI_REQUIRE_PG=1 makes PostgreSQL mandatory). DIFF_SEED picks other data.
# GONGZHI_DEEP=1: the samples CI checks a cross-section of, in full (drill-through rows of
# every scope × period).
DIFF_DRAWS ?= 2000
DIFF_SCALE ?= 2
DIFF_SEED ?= 20240531
test-deep: install
	GONGZHI_DIFF_DRAWS=$(DIFF_DRAWS) GONGZHI_DIFF_SCALE=$(DIFF_SCALE) GONGZHI_DIFF_SEED=$(DIFF_SEED) \
		GONGZHI_DEEP=1 $(BIN)/pytest -q --timeout=7200 tests/differential tests/metrics/test_drill.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench-ingest: install
	$(BIN)/python -m benchmarks.bench_ingest

# One BIG_ROWS-row CSV source (generated once under benchmarks/data, ~11 GB at 100M) in one
# run on BIG_ENGINE (sqlite, or postgresql in a private schema): wall and CPU time, peak RSS of
# the process tree, peak disk (warehouse, WAL, scratch), read = loaded + quarantined +
# duplicates. Stops (and says how far it got) past BIG_MAX_DISK_GB of warehouse or under
# 10 GB free. Not in CI; run it under nice on a shared machine.
BIG_ROWS ?= 100000000
BIG_ENGINE ?= sqlite
BIG_MAX_DISK_GB ?= 60
bench-ingest-big: install
	$(BIN)/python -m benchmarks.bench_ingest_rss --rows $(BIG_ROWS) --engine $(BIG_ENGINE) \
		--max-disk-gb $(BIG_MAX_DISK_GB)

bench-kpi: install
	$(BIN)/python -m benchmarks.bench_kpi

# The dashboard on the benchmark-scale warehouse that bench-kpi builds (override both to try
# another warehouse: make bench-dashboard BENCH_CONFIG=var/demo/gongzhi.toml BENCH_PERIOD=…).
BENCH_CONFIG ?= benchmarks/data/kpi/scale-67/gongzhi.toml
BENCH_PERIOD ?= 2025-12
bench-dashboard: install
	$(BIN)/python -m benchmarks.bench_dashboard --config $(BENCH_CONFIG) --period $(BENCH_PERIOD)

# Alert evaluation after a run on bench-kpi's warehouse (built here when missing); ≤ 1 s.
BENCH_SCALE ?= 67
bench-alerts: install
	$(BIN)/python -m benchmarks.bench_alerts --scale $(BENCH_SCALE)
# The map page coloured by its 984 grids: first draw in Chromium and the payload's size.
bench-map: install
	$(BIN)/python -m benchmarks.bench_map --config $(BENCH_CONFIG) --period $(BENCH_PERIOD)

bench-load: install
	$(BIN)/python -m benchmarks.bench_load --config $(BENCH_CONFIG) --period $(BENCH_PERIOD)

# rank of every community (cold) and the monthly bulletin on the bench-kpi warehouse (or a
# smaller one built here when it is missing: BENCH_OFFICE_SCALE)
BENCH_OFFICE_SCALE ?= 5
bench-office: install
	$(BIN)/python -m benchmarks.bench_office --config $(BENCH_CONFIG) --period $(BENCH_PERIOD) --scale $(BENCH_OFFICE_SCALE)

# City scale on PostgreSQL with month-partitioned facts (issue 15): builds SCALE_ROWS service
# cases once under benchmarks/data/scale/ (reused), reports to benchmarks/out/scale.json.
# SCALE_PARTITION=none builds the same data unpartitioned, to compare (scale-none.json).
SCALE_ROWS ?= 100000000
SCALE_PARTITION ?= month
# sources ingested at once, in worker processes (gongzhi ingest --jobs)
SCALE_JOBS ?= 1
bench-scale: install
	$(BIN)/python -m benchmarks.bench_scale --rows $(SCALE_ROWS) --partition $(SCALE_PARTITION) --jobs $(SCALE_JOBS)

# drill-through first page on the bench-kpi warehouse (built here when missing)
BENCH_SCALE ?= 67
bench-drill: install
	$(BIN)/python -m benchmarks.bench_drill --scale $(BENCH_SCALE)

# The 首屏 big screen turning for SCREEN_MINUTES (30) on the bench warehouse: server RSS flat.
SCREEN_MINUTES ?= 30
bench-screen: install
	$(BIN)/python -m benchmarks.bench_screen --config $(BENCH_CONFIG) --period $(BENCH_PERIOD) \
		--minutes $(SCREEN_MINUTES)

clean:
	rm -rf $(VENV) var benchmarks/out benchmarks/.venv-dlt benchmarks/data
