"""The data of ``make bench-ingest`` and where things live: a realistic service-case CSV from a
fixed seed, generated once per size and cached under ``benchmarks/data``; results go to
``benchmarks/out`` (both git-ignored)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / "data"
OUT_DIR = HERE / "out"
DIVISIONS_CSV = ROOT / "config" / "divisions" / "fancheng_divisions_2023.csv"

SEED = 20230630
GENERATOR_VERSION = 1  # part of the cached file's name: bump it when the generator changes


def community_codes() -> list[str]:
    """The district's real community codes (level 5), without the 虚拟社区 placeholders."""
    divs = pl.read_csv(DIVISIONS_CSV, infer_schema=False)
    return divs.filter((pl.col("level") == "5") & (pl.col("unit_type") != "虚拟社区"))[
        "code12"].to_list()


DAYS = 3 * 365 + 1  # the span of submission dates
SLICE_ROWS = 10_000_000  # bigger files are written a slice at a time (memory follows it)


def generate_cases(rows: int, seed: int = SEED, *, days: tuple[int, int] = (0, DAYS),
                   first: int = 0) -> pl.DataFrame:
    """A realistic service-case export: three years of cases, in submission order.
    ``days`` limits the submission dates to ``[lo, hi)`` days after the start and ``first`` is
    the row number of the first case (in its id), so that a big file can be written as
    consecutive slices whose case ids keep increasing and never repeat."""
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
    day = rng.integers(days[0], days[1], rows)
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
    return frame.with_row_index("_i", offset=first).select(
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
        if rows <= SLICE_ROWS:
            generate_cases(rows).write_csv(tmp, null_value="")
        else:
            write_sliced(tmp, rows)
        tmp.replace(path)
        print(f"generated {path.name} ({path.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
    return path


def write_sliced(path: Path, rows: int, slice_rows: int = SLICE_ROWS) -> None:
    """Write a ``rows``-row export a slice at a time: slice k covers the k-th share of the
    submission days and its own stretch of row numbers, with its own seed, so the file stays in
    submission order with unique, increasing case ids and memory stays that of one slice."""
    k = -(-rows // slice_rows)
    with path.open("wb") as out:
        done = 0
        for i in range(k):
            n = rows * (i + 1) // k - done
            days = (DAYS * i // k, DAYS * (i + 1) // k)
            generate_cases(n, SEED + i, days=days, first=done).write_csv(
                out, null_value="", include_header=i == 0)
            done += n
            print(f"  generated {done:,} of {rows:,} rows", flush=True)
