"""The dlt side of ``make bench-ingest``: load the benchmark CSV with dlt 1.31, merged by key.

Runs with the python of ``benchmarks/.venv-dlt`` (dlt pins its own dependencies), never with the
project's. It imports nothing from Gongzhi. The reader is what the dlt docs recommend for speed:
a resource that yields Arrow record batches read with ``pyarrow.csv`` (dlt then writes parquet
load files without touching rows in Python), with the code columns read as text so that they
stay exactly as written. The timed span is the whole
``pipeline.run`` (extract, normalize, load and the merge), plus opening the CSV. Prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

TEXT_COLUMNS = ("case_id", "item_code", "community_code", "channel", "status")
TABLE = "service_cases"


def csv_batches(path: str, block_mb: int = 16) -> Iterator[Any]:
    """Record batches of the CSV, typed by pyarrow's inference except the code columns."""
    import pyarrow as pa
    from pyarrow import csv

    reader = csv.open_csv(
        path,
        read_options=csv.ReadOptions(block_size=block_mb * 2**20),
        convert_options=csv.ConvertOptions(
            column_types={c: pa.string() for c in TEXT_COLUMNS},
            timestamp_parsers=["%Y-%m-%d %H:%M:%S"],
        ),
    )
    yield from reader


def destination(target: str, url: str) -> Any:
    """The dlt destination for ``target``: SQLite through SQLAlchemy, or PostgreSQL."""
    from dlt.destinations import postgres, sqlalchemy

    if target == "sqlite":
        return sqlalchemy(credentials=url)
    if target == "postgres":
        return postgres(credentials=url)
    raise SystemExit(f"unknown target {target!r}")


def load(csv_path: str, target: str, url: str, dataset: str, workdir: str) -> dict[str, Any]:
    """Run one dlt pipeline and return its timing and what it loaded."""
    import dlt

    @dlt.resource(name=TABLE, write_disposition="merge", primary_key="case_id")
    def service_cases() -> Iterator[Any]:
        yield from csv_batches(csv_path)

    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{target}",
        pipelines_dir=workdir,
        destination=destination(target, url),
        dataset_name=dataset,
    )
    # dlt's documented fast path into PostgreSQL: Arrow data as parquet, copied by the ADBC
    # driver (without it dlt converts Arrow to CSV rows, 3-4x slower here). SQLite gets parquet
    # by default for Arrow data (dlt does not use ADBC on SQLite, see its sqlalchemy client).
    fmt = "parquet" if target == "postgres" else None
    t0 = time.perf_counter()
    info = pipeline.run(service_cases(), loader_file_format=fmt)
    seconds = time.perf_counter() - t0
    info.raise_on_failed_jobs()

    trace = pipeline.last_trace
    steps = {s.step: round((s.finished_at - s.started_at).total_seconds(), 3)
             for s in trace.steps if s.finished_at is not None}
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(TABLE)
        rows = client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
    formats = sorted({
        job.job_file_info.file_format
        for package in info.load_packages for job in package.jobs.get("completed_jobs", [])
    })
    return {
        "target": target,
        "seconds": round(seconds, 3),
        "rows": int(rows),
        "steps": steps,
        "loader_file_formats": formats,
        "dlt_version": dlt.__version__,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``dlt_load.py --csv F --target sqlite|postgres --url U --dataset D``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--target", choices=("sqlite", "postgres"), required=True)
    p.add_argument("--url", required=True, help="SQLAlchemy URL (sqlite) or PostgreSQL DSN")
    p.add_argument("--dataset", required=True, help="dataset (schema) name")
    p.add_argument("--workdir", required=True, help="folder for dlt's pipeline state")
    a = p.parse_args(argv)
    # Nothing may leave the machine, and dlt's local state stays in the scratch folder.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", a.workdir)
    print(json.dumps(load(a.csv, a.target, a.url, a.dataset, a.workdir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
