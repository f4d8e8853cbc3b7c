"""A source that found nothing to read is ``no_input``, not ``succeeded``: a warning in the run
log, in ``gongzhi runs`` and ``sources``, and the data's freshness (数据更新于) stays where it
was; ``required = true`` makes it a failed run. A run that read nothing *new* (the same file
again, an API with nothing since the cursor) succeeds, and does not move freshness either:
freshness says when data last arrived, the run log when the source was last checked."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from ingest.registry import load_validated
from ingest.runner import Runner, RunResult
from metrics.service import Metrics
from tests.conftest import divisions_source, write_config
from tests.ingest.plugins.http_server import (  # noqa: F401 - http_server is a fixture
    LoopbackServer,
    http_server,
    json_reply,
)
from tests.ingest.test_faults import write_cases
from warehouse import runlog
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import warehouse_meta

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))


def cases(**extra: Any) -> dict[str, Any]:
    return {"id": "cases", "plugin": "files", "table": "service_cases",
            "path": "inbox/*.csv", **extra}


def run(folder: Path, url: str, sources: list[dict[str, Any]], ids: list[str]
        ) -> tuple[list[RunResult], Engine]:
    settings = load_validated(write_config(folder, url, sources))
    engine = open_warehouse(settings.warehouse_url)
    return Runner(settings, engine).run(ids), engine


def stamp(engine: Engine, table: str) -> str | None:
    with engine.connect() as c:
        return c.execute(select(warehouse_meta.c.value)
                         .where(warehouse_meta.c.key == f"loaded:{table}")).scalar_one_or_none()


def card_freshness(engine: Engine) -> Any:
    m = Metrics(engine)
    frame = m.compute(["gov.case_count"], m.district(), None, compare=False)
    return frame["fresh_at"][0]


def test_files_gone_is_no_input_and_freshness_stays(tmp_path: Path, warehouse_url: str) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 40)
    srcs = [divisions_source(), cases()]
    first, engine = run(tmp_path, warehouse_url, srcs, ["divs", "cases"])
    assert [r.status for r in first] == ["succeeded", "succeeded"]
    fresh, version, card = stamp(engine, "service_cases"), data_version(engine), \
        card_freshness(engine)
    assert fresh is not None and card is not None
    before = runlog.source_states(engine)["cases"]

    (tmp_path / "inbox" / "a.csv").rename(tmp_path / "a.csv.moved")
    [r], _ = run(tmp_path, warehouse_url, srcs, ["cases"])
    assert (r.status, r.read, r.ok) == ("no_input", 0, True)
    assert r.error is not None and "no files match" in r.error
    assert str(tmp_path / "inbox" / "*.csv") in r.error
    # nothing arrived: the freshness and the data version stay, the card says the same time
    assert stamp(engine, "service_cases") == fresh
    assert data_version(engine) == version
    assert card_freshness(engine) == card
    state = runlog.source_states(engine)["cases"]
    assert state["status"] == "no_input" and "no files match" in state["warning"]
    assert (state["checked"], state["arrived"]) == (before["checked"], before["arrived"])
    [logged] = [x for x in runlog.list_runs(engine, source="cases") if x["run_id"] == r.run_id]
    assert logged["status"] == "no_input" and logged["error"] == r.error

    write_cases(tmp_path / "inbox", "b.csv", 10, start=100)  # the next export arrives
    [again], _ = run(tmp_path, warehouse_url, srcs, ["cases"])
    assert again.status == "succeeded" and again.loaded == 10
    assert stamp(engine, "service_cases") != fresh
    assert runlog.source_states(engine)["cases"]["warning"] is None
    engine.dispose()


def test_nothing_new_succeeds_without_moving_freshness(tmp_path: Path, sqlite_url: str) -> None:
    write_cases(tmp_path / "inbox", "a.csv", 20)
    srcs = [divisions_source(), cases()]
    _, engine = run(tmp_path, sqlite_url, srcs, ["divs", "cases"])
    fresh, before = stamp(engine, "service_cases"), runlog.source_states(engine)["cases"]
    [r], _ = run(tmp_path, sqlite_url, srcs, ["cases"])  # the same file: known, read 0
    assert (r.status, r.read) == ("succeeded", 0)
    assert stamp(engine, "service_cases") == fresh
    state = runlog.source_states(engine)["cases"]
    assert state["checked"] > before["checked"]  # the source was checked …
    assert state["arrived"] == before["arrived"]  # … but no data arrived
    assert state["warning"] is None
    engine.dispose()


def test_required_source_without_input_fails(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}",
                       [divisions_source(), cases(required=True)])
    out = subprocess.run([GONGZHI, "--config", str(cfg), "ingest", "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "source cases failed" in out.stderr and "no input: no files match" in out.stderr
    assert "required" in out.stderr and "Traceback" not in out.stderr
    runs = subprocess.run([GONGZHI, "--config", str(cfg), "runs", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    statuses = {r["source"]: r["status"] for r in json.loads(runs.stdout)}
    assert statuses == {"divs": "succeeded", "cases": "failed"}


def test_the_cli_warns_in_ingest_runs_and_sources(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [divisions_source(), cases()])
    base = [GONGZHI, "--config", str(cfg)]
    out = subprocess.run([*base, "ingest", "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "warning: source cases found no input (no files match" in out.stderr
    table = subprocess.run([*base, "runs"], capture_output=True, text=True, timeout=120)
    line = next(x for x in table.stdout.splitlines() if " cases " in x)
    assert "⚠ no_input" in line and "no files match" in line
    assert "warning: cases found no input in its latest run" in table.stderr
    runs = json.loads(subprocess.run([*base, "runs", "--format", "json"], capture_output=True,
                                     text=True, timeout=120).stdout)
    assert {r["source"]: r["status"] for r in runs} == {"divs": "succeeded", "cases": "no_input"}
    srcs = json.loads(subprocess.run([*base, "sources", "--format", "json"],
                                     capture_output=True, text=True, timeout=120).stdout)
    state = {s["source"]: s for s in srcs["sources"]}
    assert "no files match" in state["cases"]["warning"] and state["divs"]["warning"] is None
    assert state["cases"]["last_data"] is None and state["divs"]["last_data"] is not None


def test_an_api_with_no_records_is_no_input_and_nothing_since_the_cursor_succeeds(
        tmp_path: Path, sqlite_url: str, http_server: LoopbackServer) -> None:  # noqa: F811
    record = {"case_id": "A1", "item_code": "I1", "community_code": "420606001001",
              "channel": "online", "submitted_at": "2024-05-01 10:00:00", "status": "accepted",
              "updated": 5}
    http_server.route("/full", json_reply([]))
    http_server.route("/inc", json_reply([record]), json_reply([]))
    full = {"id": "full", "plugin": "rest", "table": "service_cases",
            "url": f"{http_server.url}/full", "allow_private": True}
    inc = {"id": "inc", "plugin": "rest", "table": "service_cases",
           "url": f"{http_server.url}/inc", "cursor_field": "updated", "cursor_param": "since",
           "allow_private": True}  # the test server is on 127.0.0.1
    srcs = [divisions_source(), full, inc]
    results, engine = run(tmp_path, sqlite_url, srcs, ["divs", "full", "inc"])
    by = {r.source: r for r in results}
    assert by["full"].status == "no_input" and "the API returned no records" in by["full"].error
    assert f"{http_server.url}/full" in by["full"].error
    assert (by["inc"].status, by["inc"].loaded) == ("succeeded", 1)
    fresh = stamp(engine, "service_cases")
    [again], _ = run(tmp_path, sqlite_url, srcs, ["inc"])
    assert (again.status, again.read) == ("succeeded", 0)  # asked since its cursor: nothing
    assert stamp(engine, "service_cases") == fresh
    engine.dispose()


def test_a_query_with_no_rows_is_no_input(tmp_path: Path, sqlite_url: str) -> None:
    legacy = tmp_path / "legacy.db"
    with sqlite3.connect(legacy) as c:
        c.execute("CREATE TABLE certs (certificate_id TEXT, name TEXT, status TEXT, "
                  "changed_at TEXT)")
    src = {"id": "legacy", "plugin": "sql", "table": "certificates",
           "url": f"sqlite:///{legacy}", "source_table": "certs"}
    [r], engine = run(tmp_path, sqlite_url, [src], ["legacy"])
    assert r.status == "no_input" and "the query returned no rows" in r.error
    assert stamp(engine, "certificates") is None
    engine.dispose()
