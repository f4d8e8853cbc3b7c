"""``make bench-ingest`` end to end at a tiny size (SQLite only, no dlt, no RSS child): the
command line still runs through its split modules, and ``ingest.json`` keeps the keys scripts
and the README read, with figures that agree with the generated file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks import bench_ingest, bench_ingest_data

ROWS = 300

# The keys of benchmarks/out/ingest.json (README "Output"): a public interface, not code output.
KEYS = {
    "rows", "gongzhi_s", "gongzhi_rows_per_s", "gongzhi_phases_s", "dlt_s", "dlt_rows_per_s",
    "dlt_steps_s", "dlt_loader_file_formats", "ratio", "postgres_s", "postgres_rows_per_s",
    "postgres_phases_s", "dlt_postgres_s", "dlt_postgres_rows_per_s", "dlt_postgres_steps_s",
    "dlt_postgres_loader_file_formats", "postgres_ratio", "reingest_s", "reingest_changed_rows",
    "remerge_s", "remerge_changed_rows", "remerge_phases_s", "postgres_reingest_s",
    "postgres_remerge_s", "postgres_remerge_changed_rows", "postgres_remerge_phases_s",
    "machine", "bars", "errors", "repeat", "postgres_runs_s", "dlt_postgres_runs_s",
    "meets_bars",
}


def test_a_tiny_run_writes_every_key_with_figures_that_add_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CSV cache and the work folder go to tmp, not the checkout's benchmarks/{data,out}
    monkeypatch.setattr(bench_ingest_data, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(bench_ingest, "OUT_DIR", tmp_path / "out")
    out = tmp_path / "ingest.json"
    assert bench_ingest.main(["--rows", str(ROWS), "--skip-dlt", "--skip-postgres",
                              "--rss-rows", "0", "--out", str(out)]) == 0
    r = json.loads(out.read_text(encoding="utf-8"))
    assert set(r) == KEYS

    [data] = (tmp_path / "data").glob("*.csv")
    with data.open(encoding="utf-8", newline="") as f:
        cases = list(csv.DictReader(f))
    assert len(cases) == len({c["case_id"] for c in cases}) == r["rows"] == ROWS
    # rows/s comes from the unrounded seconds; gongzhi_s is that rounded to the millisecond
    s = r["gongzhi_s"]
    assert ROWS / (s + 0.0005) - 1 <= r["gongzhi_rows_per_s"] <= ROWS / max(s - 0.0005, 1e-9) + 1
    assert (r["reingest_changed_rows"], r["remerge_changed_rows"]) == (0, 0)
    assert r["meets_bars"]["reingest_changed_rows"] and r["meets_bars"]["ratio"] is False
    assert r["dlt_s"] is r["ratio"] is r["postgres_s"] is r["postgres_ratio"] is None
    assert set(r["gongzhi_phases_s"]) >= {"extract_and_cast"}
    assert r["errors"] == {}
    assert not list((tmp_path / "out").glob("work-*"))  # the work folder is removed
