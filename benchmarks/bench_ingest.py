"""``make bench-ingest``: a 1M-row service-case CSV into Gongzhi and into dlt 1.31, side by side.

Both load the same file into the same engines (the embedded default, a SQLite file, and
PostgreSQL), merged on ``case_id``. Gongzhi's timed span is one ``Runner.run`` of a ``files``
source: read, hash, parse, cast to the contract, quarantine check, de-duplicate, stage, merge and
write the run log, all in its own transaction. Results go to ``benchmarks/out/ingest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from ingest.progress import Progress
from ingest.registry import load_validated
from ingest.runner import Runner, RunResult
from metrics.rollup import observers_for
from warehouse.engine import data_version, open_warehouse
from warehouse.schema import service_cases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / "data"
OUT_DIR = HERE / "out"
DLT_VENV = HERE / ".venv-dlt"
DLT_REQUIREMENTS = HERE / "requirements-dlt.txt"
DIVISIONS_CSV = ROOT / "config" / "divisions" / "fancheng_divisions_2023.csv"
PG_ADMIN_URL = os.environ.get("GONGZHI_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

SEED = 20230630
GENERATOR_VERSION = 1
BARS = {"gongzhi_rows_per_s_min": 200_000, "ratio_min": 3.0, "reingest_s_max": 2.0,
        "reingest_changed_rows_max": 0}
CASES_SOURCE = "cases"
DIVISIONS_SOURCE = "divs"


# ---------------------------------------------------------------------------------- the data

def community_codes() -> list[str]:
    """The district's real community codes (level 5), without the 虚拟社区 placeholders."""
    divs = pl.read_csv(DIVISIONS_CSV, infer_schema=False)
    return divs.filter((pl.col("level") == "5") & (pl.col("unit_type") != "虚拟社区"))[
        "code12"].to_list()


def generate_cases(rows: int, seed: int = SEED) -> pl.DataFrame:
    """A realistic service-case export: three years of cases, in submission order."""
    rng = np.random.default_rng(seed)
    codes = community_codes()
    size = rng.gamma(2.0, 1.0, len(codes))  # communities differ a lot in size
    community = rng.choice(np.array(codes), rows, p=size / size.sum())
    items = np.array([f"420606-{d:02d}-{j:04d}" for d in range(1, 47) for j in range(1, 21)])
    pop = 1.0 / np.arange(1, len(items) + 1) ** 1.1  # a few high-frequency items dominate
    item = items[rng.permutation(len(items))][rng.choice(len(items), rows, p=pop / pop.sum())]
    channels = np.array(["online", "window", "station", "self_service", "help_desk"])
    channel = rng.choice(channels, rows, p=[0.55, 0.25, 0.10, 0.06, 0.04])
    online = np.isin(channel, ["online", "self_service"])

    # Local time: desks work 08:30-17:30 on weekdays-ish; online cases arrive around the clock.
    day = rng.integers(0, 3 * 365 + 1, rows)
    desk_s = np.clip(rng.normal(12.5 * 3600, 2.5 * 3600, rows), 8.5 * 3600, 17.5 * 3600)
    any_s = rng.integers(0, 86400, rows)
    sec = np.where(online, any_s, desk_s).astype(np.int64)
    start = np.datetime64("2022-01-01T00:00:00", "s")
    submitted = start + day.astype("timedelta64[D]") + sec.astype("timedelta64[s]")
    order = np.argsort(submitted, kind="stable")
    community, item, channel, submitted = (a[order] for a in (community, item, channel,
                                                                submitted))
    online = online[order]

    status = rng.choice(np.array(["completed", "accepted", "rejected", "withdrawn"]), rows,
                        p=[0.92, 0.03, 0.03, 0.02])
    done = status == "completed"
    instant = rng.random(rows) < 0.35
    took = np.where(instant, rng.exponential(20 * 60, rows), rng.exponential(3 * 86400, rows))
    completed = submitted + took.astype(np.int64).astype("timedelta64[s]")
    visits = np.where(online, (rng.random(rows) < 0.1).astype(np.int64),
                      rng.choice([1, 2, 3], rows, p=[0.7, 0.25, 0.05]))
    visits = np.where(channel == "help_desk", 0, visits)
    rated = done & (rng.random(rows) < 0.65)
    rating = rng.choice([5, 4, 3, 2, 1], rows, p=[0.72, 0.17, 0.06, 0.03, 0.02])
    rectified = rng.random(rows) < 0.88

    frame = pl.DataFrame({
        "submitted_at": submitted.astype("datetime64[us]"),
        "completed_at": completed.astype("datetime64[us]"), "item_code": item,
        "community_code": community, "channel": channel, "status": status, "visits": visits,
        "rating": rating, "rectified": rectified, "_done": done, "_rated": rated,
    })
    return frame.with_row_index("_i").select(
        pl.format("FC{}{}", pl.col("submitted_at").dt.strftime("%Y%m%d"),
                  pl.col("_i").cast(pl.String).str.zfill(8)).alias("case_id"),
        "item_code", "community_code", "channel",
        pl.col("submitted_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
        pl.when("_done").then(pl.col("completed_at").dt.strftime("%Y-%m-%d %H:%M:%S"))
        .alias("completed_at"),
        "status", "visits",
        pl.when("_rated").then("rating").alias("rating"),
        pl.when(pl.col("_rated") & (pl.col("rating") <= 2))
        .then(pl.when("rectified").then(pl.lit("true")).otherwise(pl.lit("false")))
        .alias("rectified"),
    )


def cases_csv(rows: int) -> Path:
    """The benchmark CSV for ``rows`` rows, generated once and cached under benchmarks/data."""
    path = DATA_DIR / f"service_cases_{rows}_s{SEED}_v{GENERATOR_VERSION}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        generate_cases(rows).write_csv(tmp, null_value="")
        tmp.replace(path)
        print(f"generated {path.name} ({path.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
    return path


# ----------------------------------------------------------------------------- Gongzhi side

class PhaseClock(Progress):
    """Progress that records when the runner enters each phase (it reports them by name)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.marks: list[tuple[str, float]] = []

    def start(self, source: str) -> None:
        self.marks = [("start", time.perf_counter())]

    def update(self, phase: str, rows: int, *, force: bool = False) -> None:
        if not self.marks or self.marks[-1][0] != phase:
            self.marks.append((phase, time.perf_counter()))

    def done(self, summary: str) -> None:
        self.marks.append(("done", time.perf_counter()))

    def phases(self) -> dict[str, float]:
        """Seconds spent from each mark to the next, named after what the runner did."""
        names = {"start": "extract_and_cast", "read": "dedupe_and_lineage"}
        out: dict[str, float] = {}
        for (name, t), (_, t_next) in zip(self.marks, self.marks[1:], strict=False):
            key = names.get(name, name.split(" ")[0])
            out[key] = round(out.get(key, 0.0) + t_next - t, 3)
        return out


def _toml(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def write_config(folder: Path, url: str) -> Path:
    """A config with the official division list and a ``files`` source for the case drops."""
    path = folder / "gongzhi.toml"
    path.write_text("\n".join([
        "[warehouse]", f"url = {_toml(url)}", "",
        "[[sources]]", f"id = {_toml(DIVISIONS_SOURCE)}", 'plugin = "divisions"',
        f"path = {_toml(str(DIVISIONS_CSV))}", "",
        "[[sources]]", f"id = {_toml(CASES_SOURCE)}", 'plugin = "files"',
        'table = "service_cases"', 'path = "inbox/*.csv"', "",
    ]), encoding="utf-8")
    return path


@dataclass
class GongzhiRun:
    """Timings and outcomes of the Gongzhi side on one engine."""

    engine: str
    rows: int
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    reingest_s: float = 0.0
    reingest_changed_rows: int = 0
    remerge_s: float = 0.0
    remerge_changed_rows: int = 0
    remerge_phases: dict[str, float] = field(default_factory=dict)


def _one(results: list[RunResult]) -> RunResult:
    (r,) = results
    if not r.ok:
        raise SystemExit(f"gongzhi run of {r.source} {r.status}: {r.error}")
    return r


def _rewritten(engine: sqlalchemy.Engine, first_run: int) -> tuple[int, int]:
    """(rows in service_cases, rows whose lineage is not the first load's run)."""
    c = service_cases.c
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(service_cases)).scalar_one()
        other = conn.execute(select(func.count()).select_from(service_cases)
                             .where(c._run_id != first_run)).scalar_one()
    return int(total), int(other)


def run_gongzhi(label: str, url: str, csv_path: Path, rows: int, work: Path) -> GongzhiRun:
    """Load divisions (untimed), then the CSV (timed), then re-ingest it twice (timed)."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    os.link(csv_path, inbox / "service_cases.csv")  # same bytes, no copy
    settings = load_validated(write_config(work, url))
    engine = open_warehouse(settings.warehouse_url)
    out = GongzhiRun(label, rows)
    try:
        _one(Runner(settings, engine).run([DIVISIONS_SOURCE]))
        # the production path (as `gongzhi ingest`): KPI rollups kept in the same transaction
        observers = observers_for(settings)

        clock = PhaseClock()
        t0 = time.perf_counter()
        first = _one(Runner(settings, engine, progress=clock,
                                   observers=observers).run([CASES_SOURCE]))
        out.seconds = time.perf_counter() - t0
        out.phases = clock.phases()
        if (first.read, first.loaded, first.inserted, first.quarantined) != (rows, rows, rows, 0):
            raise SystemExit(f"gongzhi on {label} did not load every row: {first}")
        total, _ = _rewritten(engine, first.run_id or 0)
        if total != rows:
            raise SystemExit(f"gongzhi on {label}: {total:,} rows in service_cases, not {rows:,}")
        version = data_version(engine)

        # The same file again: recognised by its content hash, nothing is read or written.
        t0 = time.perf_counter()
        again = _one(Runner(settings, engine, observers=observers).run([CASES_SOURCE]))
        out.reingest_s = time.perf_counter() - t0
        total, other = _rewritten(engine, first.run_id or 0)
        out.reingest_changed_rows = again.inserted + again.updated + other + abs(total - rows)
        if again.read != 0 or data_version(engine) != version:
            raise SystemExit(f"gongzhi on {label}: the re-dropped file was not skipped: {again}")

        # The same rows under different bytes (Windows line ends, as a re-export would have):
        # read, cast and merged in full, and the merge finds nothing to change.
        again_bytes = csv_path.read_bytes().replace(b"\n", b"\r\n")
        (inbox / "service_cases_again.csv").write_bytes(again_bytes)
        clock = PhaseClock()
        t0 = time.perf_counter()
        merged = _one(Runner(settings, engine, progress=clock,
                                    observers=observers).run([CASES_SOURCE]))
        out.remerge_s = time.perf_counter() - t0
        out.remerge_phases = clock.phases()
        total, other = _rewritten(engine, first.run_id or 0)
        out.remerge_changed_rows = merged.inserted + merged.updated + other + abs(total - rows)
        if merged.read != rows or merged.quarantined:
            raise SystemExit(f"gongzhi on {label}: the second file did not read cleanly: {merged}")
    finally:
        engine.dispose()
    return out


def peak_rss(csv_path: Path, rows: int, work: Path) -> dict[str, Any]:
    """``gongzhi ingest`` of one ``rows``-row CSV source into a fresh SQLite warehouse, in a
    child process whose peak resident set size the kernel reports (``wait4``)."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    os.link(csv_path, inbox / "service_cases.csv")
    cfg = write_config(work, f"sqlite:///{work / 'warehouse.db'}")
    gongzhi = str(Path(sys.executable).with_name("gongzhi"))
    subprocess.run([gongzhi, "--config", str(cfg), "ingest", DIVISIONS_SOURCE, "--quiet"],
                   check=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([gongzhi, "--config", str(cfg), "ingest", CASES_SOURCE,
                             "--quiet"])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"gongzhi ingest of {rows:,} rows exited {proc.returncode}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024), "peak_rss_rows": rows,
            "peak_rss_load_s": round(seconds, 1)}


def profile_gongzhi(url: str, csv_path: Path, work: Path, out: Path) -> None:
    """One more embedded load under cProfile (its timing is not reported: the profiler slows
    Python-level code); the 40 costliest calls by cumulative time go to ``out``."""
    import cProfile
    import io
    import pstats

    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    os.link(csv_path, inbox / "service_cases.csv")
    settings = load_validated(write_config(work, url))
    engine = open_warehouse(settings.warehouse_url)
    try:
        _one(Runner(settings, engine).run([DIVISIONS_SOURCE]))
        prof = cProfile.Profile()
        prof.runcall(lambda: _one(Runner(settings, engine).run([CASES_SOURCE])))
    finally:
        engine.dispose()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
    out.write_text(buf.getvalue(), encoding="utf-8")
    print(f"profile of the embedded load written to {out}")


def pg_schema(create: bool, name: str) -> None:
    """Create or drop a scratch schema in the test database."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            if create:
                c.execute(text(f'CREATE SCHEMA "{name}"'))
            else:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


def pg_server_version() -> str | None:
    try:
        admin = create_engine(PG_ADMIN_URL)
        with admin.connect() as c:
            v = c.execute(text("SHOW server_version")).scalar_one()
        admin.dispose()
        return str(v)
    except Exception as e:  # the summary says why PostgreSQL figures are missing
        print(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(e).splitlines()[0]}")
        return None


# --------------------------------------------------------------------------------- dlt side

def dlt_python() -> Path:
    """The dlt venv's python, creating or refreshing the venv when the requirements changed."""
    py = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".requirements-sha256"
    want = hashlib.sha256(DLT_REQUIREMENTS.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    print(f"preparing the dlt venv in {DLT_VENV.relative_to(ROOT)} …")
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", "-r", str(DLT_REQUIREMENTS)],
                         capture_output=True, text=True)
    if pip.returncode != 0:  # pip's chatter only matters when it failed
        sys.stderr.write(pip.stdout[-4000:] + pip.stderr[-4000:])
        raise SystemExit(f"cannot install {DLT_REQUIREMENTS.name} into {DLT_VENV}")
    stamp.write_text(want)
    return py


def run_dlt(target: str, url: str, dataset: str, csv_path: Path, work: Path) -> dict[str, Any]:
    """Run benchmarks/dlt_load.py in the dlt venv; its own timing comes back as JSON."""
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(dlt_python()), str(HERE / "dlt_load.py"), "--csv", str(csv_path),
           "--target", target, "--url", url, "--dataset", dataset, "--workdir", str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        cause = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln),
                     lines[-1] if lines else f"exit status {proc.returncode}")
        raise RuntimeError(f"dlt into {target} failed: {cause.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ the report

def _rate(rows: int, seconds: float | None) -> float | None:
    return round(rows / seconds) if seconds else None


def machine(pg_version: str | None, dlt: dict[str, Any] | None) -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "nproc": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "polars": pl.__version__,
        "sqlalchemy": sqlalchemy.__version__, "numpy": np.__version__,
        "sqlite": sqlite3.sqlite_version, "postgresql": pg_version,
        "dlt": (dlt or {}).get("dlt_version"), "dlt_python": (dlt or {}).get("python"),
    }


def report(rows: int, gz: GongzhiRun, gz_pg: GongzhiRun | None, dlt: dict[str, Any] | None,
           dlt_pg: dict[str, Any] | None, pg_version: str | None,
           errors: dict[str, str]) -> dict[str, Any]:
    """The JSON written to benchmarks/out/ingest.json."""
    gz_rate = _rate(rows, gz.seconds)
    dlt_rate = _rate(rows, dlt["seconds"]) if dlt else None
    ratio = round(gz_rate / dlt_rate, 2) if gz_rate and dlt_rate else None
    out: dict[str, Any] = {
        "rows": rows,
        "gongzhi_s": round(gz.seconds, 3), "gongzhi_rows_per_s": gz_rate,
        "gongzhi_phases_s": gz.phases,
        "dlt_s": dlt and dlt["seconds"], "dlt_rows_per_s": dlt_rate,
        "dlt_steps_s": dlt and dlt["steps"],
        "dlt_loader_file_formats": dlt and dlt["loader_file_formats"],
        "ratio": ratio,
        "postgres_s": gz_pg and round(gz_pg.seconds, 3),
        "postgres_rows_per_s": gz_pg and _rate(rows, gz_pg.seconds),
        "postgres_phases_s": gz_pg and gz_pg.phases,
        "dlt_postgres_s": dlt_pg and dlt_pg["seconds"],
        "dlt_postgres_rows_per_s": dlt_pg and _rate(rows, dlt_pg["seconds"]),
        "dlt_postgres_steps_s": dlt_pg and dlt_pg["steps"],
        "dlt_postgres_loader_file_formats": dlt_pg and dlt_pg["loader_file_formats"],
        "postgres_ratio": (round(dlt_pg["seconds"] / gz_pg.seconds, 2)
                           if gz_pg and dlt_pg else None),
        "reingest_s": round(gz.reingest_s, 3),
        "reingest_changed_rows": gz.reingest_changed_rows,
        "remerge_s": round(gz.remerge_s, 3),
        "remerge_changed_rows": gz.remerge_changed_rows,
        "remerge_phases_s": gz.remerge_phases,
        "postgres_reingest_s": gz_pg and round(gz_pg.reingest_s, 3),
        "postgres_remerge_s": gz_pg and round(gz_pg.remerge_s, 3),
        "postgres_remerge_changed_rows": gz_pg and gz_pg.remerge_changed_rows,
        "machine": machine(pg_version, dlt or dlt_pg),
        "bars": BARS,
        "errors": errors,
    }
    meets = {
        "gongzhi_rows_per_s": bool(gz_rate and gz_rate >= BARS["gongzhi_rows_per_s_min"]),
        "ratio": bool(ratio and ratio >= BARS["ratio_min"]),
        "reingest_s": gz.reingest_s <= BARS["reingest_s_max"],
        "reingest_changed_rows": gz.reingest_changed_rows <= BARS["reingest_changed_rows_max"],
    }
    meets["all"] = all(meets.values())
    out["meets_bars"] = meets
    return out


def summary(r: dict[str, Any]) -> str:
    """A readable table of the figures that have bars, and the ones that explain them."""
    def f(v: Any, unit: str = "") -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:,.2f}{unit}"
        return f"{v:,}{unit}"

    ok = r["meets_bars"]
    mark = {True: "ok", False: "BELOW BAR"}
    lines = [
        f"ingest benchmark: {r['rows']:,} service cases "
        f"({r['machine']['nproc']} cores, Python {r['machine']['python']})",
        f"{'':28}{'seconds':>10}{'rows/s':>14}",
        f"{'Gongzhi → SQLite':28}{f(r['gongzhi_s']):>10}{f(r['gongzhi_rows_per_s']):>14}"
        f"   bar ≥ {BARS['gongzhi_rows_per_s_min']:,}: {mark[ok['gongzhi_rows_per_s']]}",
        f"{'dlt → SQLite (SQLAlchemy)':28}{f(r['dlt_s']):>10}{f(r['dlt_rows_per_s']):>14}",
        f"{'Gongzhi → PostgreSQL':28}{f(r['postgres_s']):>10}{f(r['postgres_rows_per_s']):>14}",
        f"{'dlt → PostgreSQL':28}{f(r['dlt_postgres_s']):>10}"
        f"{f(r['dlt_postgres_rows_per_s']):>14}",
        f"ratio on SQLite: {f(r['ratio'], '×')}   bar ≥ {BARS['ratio_min']}×: "
        f"{mark[ok['ratio']]};   on PostgreSQL: {f(r['postgres_ratio'], '×')}",
        f"re-ingest same file: {f(r['reingest_s'], ' s')}, {r['reingest_changed_rows']} rows "
        f"changed   bar ≤ {BARS['reingest_s_max']} s, no change: "
        f"{mark[ok['reingest_s'] and ok['reingest_changed_rows']]}",
        f"re-merge same rows, new bytes: {f(r['remerge_s'], ' s')}, "
        f"{r['remerge_changed_rows']} rows changed",
        f"re-merge on PostgreSQL: {f(r['postgres_remerge_s'], ' s')}, first load there: "
        f"{f(r['postgres_s'], ' s')}",
        f"peak RSS, one {f(r.get('peak_rss_rows'))}-row source: {f(r.get('peak_rss_mb'))} MB",
        f"Gongzhi phases (s): {r['gongzhi_phases_s']}",
    ]
    if r["dlt_steps_s"]:
        lines.append(f"dlt steps (s): {r['dlt_steps_s']}")
    for what, err in r["errors"].items():
        lines.append(f"{what}: {err.splitlines()[0]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make bench-ingest``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV")
    p.add_argument("--skip-dlt", action="store_true", help="leave out the dlt baseline")
    p.add_argument("--skip-postgres", action="store_true", help="leave out PostgreSQL")
    p.add_argument("--profile", action="store_true",
                   help="also profile one embedded load (benchmarks/out/ingest_profile.txt)")
    p.add_argument("--out", type=Path, default=OUT_DIR / "ingest.json")
    p.add_argument("--rss-rows", type=int, default=10_000_000,
                   help="rows of the source whose peak RSS is measured (0: skip)")
    a = p.parse_args(argv)

    csv_path = cases_csv(a.rows)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=OUT_DIR))
    errors: dict[str, str] = {}
    gz_pg = dlt = dlt_pg = None
    rss: dict[str, Any] = {}
    pg_version = None if a.skip_postgres else pg_server_version()
    try:
        print("Gongzhi → SQLite …", flush=True)
        gz = run_gongzhi("sqlite", f"sqlite:///{work / 'gz' / 'warehouse.db'}", csv_path,
                         a.rows, work / "gz")
        if not a.skip_dlt:
            print("dlt → SQLite …", flush=True)
            try:
                dlt = run_dlt("sqlite", f"sqlite:///{work / 'dlt' / 'warehouse.db'}", "main",
                              csv_path, work / "dlt")
            except RuntimeError as e:
                errors["dlt_sqlite"] = str(e)
        if pg_version is not None:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            pg_schema(True, schema)
            try:
                print("Gongzhi → PostgreSQL …", flush=True)
                gz_pg = run_gongzhi("postgresql",
                                    f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}",
                                    csv_path, a.rows, work / "gz_pg")
            finally:
                pg_schema(False, schema)
            if not a.skip_dlt:
                print("dlt → PostgreSQL …", flush=True)
                dataset = f"bench_dlt_{uuid.uuid4().hex[:10]}"
                # dlt insists on a password; the test server trusts local connections.
                pg = make_url(PG_ADMIN_URL)
                dsn = pg.set(drivername="postgresql", password=pg.password or "trust"
                             ).render_as_string(hide_password=False)
                try:
                    dlt_pg = run_dlt("postgres", dsn, dataset, csv_path, work / "dlt_pg")
                except RuntimeError as e:
                    errors["dlt_postgres"] = str(e)
                finally:  # dlt makes the dataset and a _staging one beside it
                    pg_schema(False, dataset)
                    pg_schema(False, f"{dataset}_staging")
        if a.rss_rows:
            print(f"peak RSS of gongzhi ingest, {a.rss_rows:,} rows …", flush=True)
            rss = peak_rss(cases_csv(a.rss_rows), a.rss_rows, work / "rss")
        if a.profile:
            profile_gongzhi(f"sqlite:///{work / 'prof' / 'warehouse.db'}", csv_path,
                            work / "prof", a.out.with_name("ingest_profile.txt"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for name, r in (("dlt_sqlite", dlt), ("dlt_postgres", dlt_pg)):
        if r is not None and r["rows"] != a.rows:
            errors[name] = f"dlt loaded {r['rows']:,} rows, not {a.rows:,}"
    result = report(a.rows, gz, gz_pg, dlt, dlt_pg, pg_version, errors)
    result.update(rss)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary(result))
    print(f"written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
