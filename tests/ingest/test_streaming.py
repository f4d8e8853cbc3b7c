"""Streaming runs: a source is read, cast, quarantined and staged in ``[ingest] chunk_rows``
pieces and merged once. What lands equals an independent reading of the whole file (the last
row of each key wins across pieces, read = loaded + quarantined + duplicates), and a piece
failing mid-stream, or the server restarting during a COPY, leaves the warehouse unchanged."""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.chunk_keys import ChunkKeys
from ingest.plugins.textstream import scan, stream_csv
from ingest.registry import load_validated
from ingest.runner import Runner, RunResult
from tests.conftest import divisions_source, write_config
from warehouse import bulk, runlog
from warehouse.engine import open_warehouse
from warehouse.schema import quarantine, service_cases

HEADER = ["case_id", "item_code", "community_code", "channel", "submitted_at", "status",
          "visits"]
CHUNK = 1000
GONGZHI = str(Path(sys.executable).with_name("gongzhi"))


def cases_source() -> dict:
    return {"id": "cases", "plugin": "files", "table": "service_cases", "path": "inbox/*.csv"}


def run(tmp_path: Path, url: str, ids: list[str] | None = None,
        extra: str = "") -> list[RunResult]:
    cfg = write_config(tmp_path, url, [divisions_source(), cases_source()],
                       extra=f"[ingest]\nchunk_rows = {CHUNK}\n{extra}")
    settings = load_validated(cfg)
    assert settings.ingest.chunk_rows == CHUNK
    eng = open_warehouse(settings.warehouse_url)
    try:
        return Runner(settings, eng).run(ids)
    finally:
        eng.dispose()


def drawn_rows(n: int, seed: int) -> list[list[str]]:
    """Rows in no key order; some keys come back later with another status, some rows carry
    an unknown community (quarantined)."""
    rng = random.Random(seed)
    keys = [f"C{i:06d}" for i in rng.sample(range(100_000), n)]
    rows = []
    for i, key in enumerate(keys):
        if i and rng.random() < 0.15:
            key = keys[rng.randrange(i)]  # a repeat of an earlier key, maybe chunks away
        code = "420606999999" if rng.random() < 0.03 else "420606001001"
        rows.append([key, "I1", code, rng.choice(["online", "window"]),
                     f"2024-05-{1 + rng.randrange(28):02d} 10:00:00",
                     rng.choice(["accepted", "completed"]), str(rng.randrange(4))])
    return rows


def write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def stored(url: str) -> dict[str, tuple[str, str, int]]:
    eng = open_warehouse(url)
    c = service_cases.c
    with eng.connect() as conn:
        out = {r.case_id: (r.channel, r.status, r.visits) for r in conn.execute(
            select(c.case_id, c.channel, c.status, c.visits))}
    eng.dispose()
    return out


def test_a_file_is_hashed_and_read_in_pieces(tmp_path: Path) -> None:
    rows = drawn_rows(5500, seed=1)
    rows[10][3] = '"a field with\na newline and a "" quote"'  # a record over two lines
    path = tmp_path / "a.csv"
    write(path, rows)
    digest, utf8 = scan(path, block=4096)
    import hashlib
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and utf8
    frames = list(stream_csv(path, location=str(path), known_headers=set(HEADER),
                             chunk_rows=CHUNK))
    assert len(frames) >= 4
    whole = [r for r in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))][1:]
    got = [list(r) for f in frames for r in f.select(HEADER).iter_rows()]
    assert got == whole
    # row numbers count records after the header, across pieces
    assert [n for f in frames for n in f["_row"].to_list()] == list(range(2, 2 + len(whole)))


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_a_streamed_run_equals_reading_the_file_whole(tmp_path: Path, engine_name: str,
                                                      request) -> None:
    url = (f"sqlite:///{tmp_path / 'w.db'}" if engine_name == "sqlite"
           else request.getfixturevalue("pg_schema_url"))
    rows = drawn_rows(5500, seed=7)
    write(tmp_path / "inbox" / "a.csv", rows)
    divs, r = run(tmp_path, url)
    assert divs.ok and r.ok, r.error

    # the oracle: plain Python over the whole file
    good = [row for row in rows if row[2] == "420606001001"]
    last: dict[str, list[str]] = {}
    for row in good:
        last[row[0]] = row
    assert (r.read, r.quarantined) == (len(rows), len(rows) - len(good))
    assert r.duplicates == len(good) - len(last) and r.loaded == len(last)
    assert r.read == r.loaded + r.quarantined + r.duplicates
    assert stored(url) == {k: (v[3], v[5], int(v[6])) for k, v in last.items()}
    eng = open_warehouse(url)
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == \
            len(rows) - len(good)
        hashes = conn.execute(select(func.count()).select_from(service_cases)
                              .where(service_cases.c._hash.is_(None))).scalar_one()
    assert hashes == 0  # every row keeps its content hash
    assert bulk.stage_run_ids(eng) == set()  # scratch space is gone
    eng.dispose()

    # the same rows under another name and other bytes: nothing changes, lineage included
    (tmp_path / "inbox" / "b.csv").write_bytes(
        (tmp_path / "inbox" / "a.csv").read_bytes().replace(b"\n", b"\r\n"))
    (again,) = run(tmp_path, url, ["cases"])
    assert again.ok and (again.inserted, again.updated) == (0, 0), again
    assert again.loaded == len(last)


@pytest.mark.parametrize("memory_mb", [0, 1])
def test_key_memory_decides_the_path_not_the_result(tmp_path: Path, pg_schema_url: str,
                                                    memory_mb: int, monkeypatch) -> None:
    """``[ingest] key_memory_mb``: the hashes a run may keep to tell an unordered export's
    chunks new. With none (0) every chunk out of key order takes the de-duplicating path; with
    room for the file's keys, chunks found new go straight. Both store the whole read's rows."""
    from ingest import runner as runner_module

    made: list[ChunkKeys] = []
    told: list[bool] = []  # per case chunk: may it repeat earlier keys (the slower path)

    class Spy(ChunkKeys):
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, **k)
            made.append(self)

        def add(self, frame):  # type: ignore[no-untyped-def]
            repeat = super().add(frame)
            if self.keys == ["case_id"]:
                told.append(repeat)
            return repeat

    monkeypatch.setattr(runner_module, "ChunkKeys", Spy)
    rows = [r for r in drawn_rows(5500, seed=11) if r[2] == "420606001001"]
    unique = list({r[0]: r for r in rows}.values())  # no repeats: chunks are new, unordered
    write(tmp_path / "inbox" / "a.csv", unique)
    divs, r = run(tmp_path, pg_schema_url, extra=f"key_memory_mb = {memory_mb}\n")
    assert divs.ok and r.ok, r.error
    cases = [k for k in made if k.keys == ["case_id"]]
    assert [k.max_hashes for k in cases] == [memory_mb * 125_000]
    assert cases[0].chunks > 3 and len(told) == cases[0].chunks  # ~4.7k rows, ~1k a chunk
    # what was kept: nothing without memory; with it, every chunk's keys, each told new
    assert cases[0].hashed == (0 if memory_mb == 0 else len(unique))
    assert any(told) if memory_mb == 0 else not any(told)
    assert r.loaded == len(unique) and r.duplicates == 0
    assert stored(pg_schema_url) == {k: (v[3], v[5], int(v[6])) for k, v in
                                     ((row[0], row) for row in unique)}


def test_the_scratch_file_goes_before_the_wal_is_copied(tmp_path: Path, monkeypatch) -> None:
    """SQLite: the merge's WAL is copied into the warehouse file only once the run's scratch
    file is gone, so the disk never holds all three at once (a big run's peak); then the WAL
    is copied and every row is there."""
    db = tmp_path / "w.db"
    url = f"sqlite:///{db}"
    n = 50_000  # ~3,000 pages: past the 1,000 at which a commit copies the WAL itself
    write(tmp_path / "inbox" / "a.csv", [
        [f"C{i:06d}", "I1", "420606001001", "online", "2024-05-01 10:00:00", "completed", "1"]
        for i in range(n)])
    assert [r.ok for r in run(tmp_path, url, ["divs"])] == [True]
    seen: list[tuple[int, int]] = []  # warehouse file and WAL when the scratch file went
    real = os.remove

    def remove(path: str | os.PathLike[str]) -> None:
        if str(path).endswith(tuple(f"-stage-{i}" for i in range(100))):
            seen.append((db.stat().st_size, Path(f"{db}-wal").stat().st_size))
        real(path)

    monkeypatch.setattr(bulk.os, "remove", remove)
    (res,) = run(tmp_path, url, ["cases"])
    assert res.ok and res.read == res.loaded == n, res.error
    assert seen, "the run staged no scratch file"
    db_then, wal_then = seen[0]
    assert wal_then > n * 100  # the merged rows were in the WAL, not yet in the file
    assert db.stat().st_size - db_then > n * 100  # and were copied after the scratch went
    assert len(stored(url)) == n


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_a_piece_failing_mid_stream_leaves_the_warehouse_unchanged(tmp_path: Path,
                                                                   engine_name: str,
                                                                   request) -> None:
    url = (f"sqlite:///{tmp_path / 'w.db'}" if engine_name == "sqlite"
           else request.getfixturevalue("pg_schema_url"))
    write(tmp_path / "inbox" / "a.csv", drawn_rows(800, seed=3))
    assert all(r.ok for r in run(tmp_path, url))
    before = stored(url)
    eng = open_warehouse(url)
    cursor = runlog.get_cursor(eng, "cases")
    with eng.connect() as conn:
        q_before = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()

    # 4,500 good rows (changes and new keys), then a line the CSV reader refuses: the pieces
    # before it are already staged when it is met
    rows = [[f"N{i:06d}", "I1", "420606001001", "window", "2024-05-02 10:00:00", "accepted",
             "1"] for i in range(4500)]
    rows += [[k, "I1", "420606001001", "window", "2024-05-02 10:00:00", "completed", "3"]
             for k in list(before)[:100]]
    path = tmp_path / "inbox" / "b.csv"
    write(path, rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("X1,I1,420606001001,online,2024-05-01 10:00:00,accepted,0,extra,fields\n")
        f.write("X2,I1,420606001001,online,2024-05-01 10:00:00,accepted,0\n")
    (r,) = run(tmp_path, url, ["cases"])
    assert not r.ok and "b.csv" in (r.error or ""), r
    assert stored(url) == before
    assert runlog.get_cursor(eng, "cases") == cursor
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(quarantine)).scalar_one() == \
            q_before
    assert bulk.stage_run_ids(eng) == set()
    eng.dispose()


@pytest.mark.serial  # restarts the shared PostgreSQL server
@pytest.mark.postgres
def test_a_server_restart_during_a_copy_is_a_clear_failed_run(tmp_path: Path,
                                                              pg_schema_url: str) -> None:
    """The server restarts while a piece is being copied: the run fails naming the lost
    connection, keeps nothing, and the next run loads everything."""
    assert shutil.which("pg_ctlcluster"), "pg_ctlcluster is needed to restart the server"
    write(tmp_path / "inbox" / "a.csv", drawn_rows(3000, seed=5))
    cfg = write_config(tmp_path, pg_schema_url, [divisions_source(), cases_source()],
                       extra=f"[ingest]\nchunk_rows = {CHUNK}\n")
    settings = load_validated(cfg)
    eng = open_warehouse(settings.warehouse_url)
    assert Runner(settings, eng).run(["divs"])[0].ok
    go_on = tmp_path / "continue"
    env = {**os.environ, "GONGZHI_FAULTPOINT": "copying",
           "GONGZHI_FAULTPOINT_CONTINUE": str(go_on)}
    proc = subprocess.Popen([GONGZHI, "--config", str(cfg), "ingest", "cases", "--quiet"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "FAULTPOINT copying" in line, line
        version = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "restart"], check=True, timeout=120)
        go_on.touch()
        assert proc.wait(120) == 1
        err = proc.stderr.read()
        assert "connection to the warehouse server was lost" in err, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
    eng.dispose()
    eng = open_warehouse(settings.warehouse_url)
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(service_cases)).scalar_one() == 0
    (r,) = Runner(settings, eng).run(["cases"])
    assert r.ok and r.read == 3000, r
    eng.dispose()


@pytest.mark.serial  # restarts the shared PostgreSQL server
@pytest.mark.postgres
def test_a_run_failed_by_a_server_restart_is_retried_by_the_scheduler(
        tmp_path: Path, pg_schema_url: str) -> None:
    """The scheduler's run loses the server during a COPY: it is logged failed (the lost
    connection named) and the scheduler runs it again by itself, which loads everything."""
    import signal
    import time

    assert shutil.which("pg_ctlcluster"), "pg_ctlcluster is needed to restart the server"
    write(tmp_path / "inbox" / "a.csv", drawn_rows(3000, seed=11))
    cfg = write_config(tmp_path, pg_schema_url,
                       [divisions_source(), {**cases_source(), "schedule": "0 2 * * *"}],
                       extra=f"[ingest]\nchunk_rows = {CHUNK}\n[scheduler]\nretry_seconds = 1\n"
                             "poll_seconds = 1\n")
    settings = load_validated(cfg)
    eng = open_warehouse(settings.warehouse_url)
    assert Runner(settings, eng).run(["divs"])[0].ok
    eng.dispose()
    go_on = tmp_path / "continue"
    env = {**os.environ, "GONGZHI_FAULTPOINT": "copying",
           "GONGZHI_FAULTPOINT_CONTINUE": str(go_on)}
    out = (tmp_path / "scheduler.log").open("w")
    proc = subprocess.Popen([GONGZHI, "--config", str(cfg), "schedule"], stdout=out,
                            stderr=subprocess.PIPE, text=True, env=env)
    runs: list[tuple[str, str | None, int]] = []
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "FAULTPOINT copying" in line, line
        version = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "restart"], check=True, timeout=120)
        go_on.touch()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                eng = open_warehouse(settings.warehouse_url)
                runs = [(r["status"], r["error"], r["read"])
                        for r in reversed(runlog.list_runs(eng, source="cases"))]
                eng.dispose()
            except Exception:  # the server is still coming back
                runs = []
            if runs and runs[-1][0] == "succeeded":
                break
            time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
    log = (tmp_path / "scheduler.log").read_text(encoding="utf-8")
    assert runs and runs[0][0] == "failed", (runs, log)
    assert "connection to the warehouse server was lost" in (runs[0][1] or ""), runs
    assert runs[-1][0] == "succeeded" and runs[-1][2] == 3000, (runs, log)
    assert "failed in the warehouse" in log, log
    rows = drawn_rows(3000, seed=11)
    want = {row[0] for row in rows if row[2] == "420606001001"}
    assert set(stored(pg_schema_url)) == want
