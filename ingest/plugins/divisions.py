"""``divisions``: the official code list (统计用区划代码) in the format of the National Bureau of
Statistics extracts: ``code12, name, level (3 district / 4 township / 5 village), unit_type,
parent_code12, …``.

Each load is a full snapshot of one district: codes missing from a newer vintage are retired
(``active`` false, ``valid_to`` set), never deleted, because old cases still name them.
虚拟社区 placeholders are kept but flagged so the dashboard can leave them out.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from core import divisions
from core.errors import DataError, MissingColumnsError, SourceError
from ingest.contract import (
    BAD_COLUMN,
    BAD_ENCODING_NOTE,
    ORIGIN,
    ROW,
    Batch,
    PluginConfig,
    Snapshot,
    Source,
)
from ingest.plugins.textfile import read_csv

REQUIRED = ("code12", "name", "level", "parent_code12")
LEVELS = {"3": "district", "4": "street", "5": "community"}
PLACEHOLDER_TYPES = {"虚拟社区"}


class DivisionsConfig(PluginConfig):
    path: str
    vintage: dt.date | None = None  # default: 30 June of the year in the file name
    encoding: str | None = None


def short_name(name: str, unit_type: str | None, parent: str | None) -> str:
    """The name people say: 高庄社区居委会 → 高庄社区, 竹条村委会 → 竹条村."""
    if unit_type in PLACEHOLDER_TYPES or name.endswith("虚拟社区"):
        return name if name != "虚拟社区" else f"虚拟社区（{parent or ''}）"
    # the list spells committees both ways: 高庄社区居委会 and 万达社区居民委员会
    for suffix, repl in (("社区居委会", "社区"), ("社区居民委员会", "社区"), ("村民委员会", "村"),
                         ("村委会", "村"), ("居委会", "社区"), ("居民委员会", "社区")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


class DivisionsSource(Source):
    """Loads an official division code list as a snapshot of the district's hierarchy."""

    name = "divisions"
    Config = DivisionsConfig
    tables = ("divisions",)
    needs_table = False

    config: DivisionsConfig

    def describe(self) -> str:
        return str(self.spec.resolve(self.config.path))

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        paths = sorted(glob.glob(str(self.spec.resolve(self.config.path))))
        if not paths:
            raise SourceError("no division list found", location=self.describe())
        loaded = dict((cursor or {}).get("files", {}))
        # Oldest vintage first, so that a newer list retires what it no longer has.
        for p in sorted(paths, key=lambda x: (self._vintage(Path(x)), x)):
            path = Path(p)
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in loaded:
                continue
            vintage = self._vintage(path)
            frame, _ = read_csv(data, location=str(path), known_headers=set(REQUIRED),
                                encoding=self.config.encoding)
            missing = [c for c in REQUIRED if c not in frame.columns]
            if missing:
                raise MissingColumnsError(missing, location=str(path))
            rows = self._rows(frame, vintage, str(path))
            district = rows.filter(pl.col("level") == "district")
            if district.height != 1:
                raise DataError(f"a division list must hold exactly one district (level 3), "
                                f"found {district.height}", location=str(path))
            prefix = divisions.prefix(str(district["code"][0]), "district")
            loaded[digest] = {"path": str(path), "vintage": vintage.isoformat()}
            yield Batch(
                table="divisions", frame=rows, mapped=True, note=str(path),
                cursor={"files": dict(loaded)},
                snapshot=Snapshot(scope={"level": ["district", "street", "community"]},
                                  prefix=("code", prefix),
                                  values={"active": False, "valid_to": vintage}),
            )

    def _vintage(self, path: Path) -> dt.date:
        if self.config.vintage:
            return self.config.vintage
        m = re.search(r"(19|20)\d{2}", path.name)
        if not m:
            raise SourceError("cannot tell the vintage from the file name; set 'vintage'",
                              location=str(path))
        return dt.date(int(m.group(0)), 6, 30)

    def _rows(self, frame: pl.DataFrame, vintage: dt.date, location: str) -> pl.DataFrame:
        unit = frame["unit_type"] if "unit_type" in frame.columns else pl.Series(
            [None] * frame.height, dtype=pl.String)
        parent_name = frame["parent_name"] if "parent_name" in frame.columns else pl.Series(
            [None] * frame.height, dtype=pl.String)
        names = frame["name"].to_list()
        shorts = [short_name(n or "", u, pn)
                  for n, u, pn in zip(names, unit.to_list(), parent_name.to_list(), strict=True)]
        level = frame["level"].str.strip_chars()
        # rows the file's encoding could not decode stay marked, so the contract quarantines them
        marks = [frame[c] for c in (BAD_ENCODING_NOTE, BAD_COLUMN) if c in frame.columns]
        return pl.DataFrame({
            ROW: frame[ROW],
            ORIGIN: frame[ORIGIN],
            "code": frame["code12"],
            "name": frame["name"],
            "short_name": pl.Series(shorts, dtype=pl.String),
            # unknown level numbers stay as written so the contract quarantines them
            "level": level.replace_strict(LEVELS, default=level, return_dtype=pl.String),
            "parent_code": frame["parent_code12"],
            "active": pl.Series(["true"] * frame.height),
            "placeholder": unit.is_in(list(PLACEHOLDER_TYPES)).fill_null(False).cast(pl.String),
            "unit_type": unit,
            "valid_from": pl.Series([vintage.isoformat()] * frame.height),
            "valid_to": pl.Series([None] * frame.height, dtype=pl.String),
        }).with_columns(marks)
