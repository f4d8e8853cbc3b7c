"""The runner's helpers along its stages: fault points for the crash tests, stale scratch of
killed runs, the plugin's batches (extract), known division codes (cast), de-duplication and
increasing keys (stage)."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any

import polars as pl
from sqlalchemy import Engine, select

from core.errors import GongzhiError, SourceError
from core.settings import SourceSpec
from ingest.contract import Batch
from warehouse import bulk, runlog
from warehouse.locks import HOST, pid_alive
from warehouse.schema import data_tables, divisions, ingest_runs, key_columns

FAULTPOINT_ENV = "GONGZHI_FAULTPOINT"


def faultpoint(name: str) -> None:
    """Fault injection for the crash tests: with GONGZHI_FAULTPOINT=name the process announces
    the point on stderr and waits there to be killed. Does nothing otherwise."""
    if os.environ.get(FAULTPOINT_ENV) == name:
        sys.stderr.write(f"FAULTPOINT {name}\n")
        sys.stderr.flush()
        # with GONGZHI_FAULTPOINT_CONTINUE=file the run resumes once that file exists
        go_on = os.environ.get("GONGZHI_FAULTPOINT_CONTINUE")
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline and not (go_on and os.path.exists(go_on)):
            time.sleep(0.05)


def _cleanup_stale_stages(engine: Engine) -> None:
    """Scratch left by killed runs goes; scratch of runs still going elsewhere stays."""
    ids = bulk.stage_run_ids(engine)
    if not ids:
        return
    r = ingest_runs.c
    with engine.connect() as conn:
        rows = {row.run_id: row for row in conn.execute(
            select(r.run_id, r.status, r.host, r.pid).where(r.run_id.in_(ids)))}
    for run_id in ids:
        row = rows.get(run_id)
        alive = (row is not None and row.status == runlog.RUNNING
                 and (row.host != HOST or pid_alive(row.pid)))
        if not alive:
            bulk.drop_stage(engine, run_id)


def dedupe(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One row per key, the latest occurrence winning. Exports usually come sorted by their
    id: a strictly increasing single key cannot repeat, so the hashing pass is skipped."""
    if len(keys) == 1 and frame.height > 1:
        k = frame[keys[0]]
        if k.null_count() == 0 and (k.slice(1) > k.slice(0, frame.height - 1)).all():
            return frame
    return frame.unique(subset=keys, keep="last", maintain_order=True)


def _feeds_divisions(spec: SourceSpec) -> bool:
    return spec.plugin == "divisions" or spec.table == divisions.name


def _known_codes(engine: Engine) -> dict[str, pl.Series]:
    """Division codes by level, active or retired: old rows may name a retired community.
    Levels below the grid come from their registers: a table declaring ``registry`` (the
    building register: level ``building``) lists the codes of that level in its key."""
    with engine.connect() as conn:
        rows: list[tuple[str, str]] = [
            (lv, code) for lv, code in conn.execute(select(divisions.c.level, divisions.c.code))]
        for t in data_tables().values():
            level = t.info.get("registry")
            if level:
                key = key_columns(t)[0]
                rows += [(level, code) for (code,) in conn.execute(select(t.c[key]))]
    by_level: dict[str, list[str]] = {}
    for level, code in rows:
        by_level.setdefault(level, []).append(code)
    return {lvl: pl.Series(codes, dtype=pl.String) for lvl, codes in by_level.items()}


def _extracted(source: Any, cursor: Any) -> Iterator[Batch]:
    """The plugin's batches. Whatever a plugin raises is that source's error, named by its
    place (URL, file, database): errors are told apart by where they came from, so a source
    that refuses connections is never reported as the warehouse."""
    batches = iter(source.extract(cursor))
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except GongzhiError:
            raise
        except Exception as e:
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            raise SourceError(f"the {source.name} plugin failed: {last}",
                              location=source.describe() or source.id) from e
        yield batch
