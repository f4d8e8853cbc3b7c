"""Rows a source marks as deleted (soft delete): split off, cast like any row, then removed.

Government exports rarely drop a deleted record; they keep it with a flag column (SCBZ,
删除标志, is_deleted, DEL_FLAG …) set. A source names that column in
``[sources.delete_flag]``; its flagged rows are cast and validated like the others (a
flagged row that breaks the contract is quarantined with its reason, nothing is lost
silently), their keys are removed from the table in the run's own transaction, observers
(the KPI rollups) subtract what the removed rows contributed, and the run log counts them:
``read = loaded + quarantined + duplicates + deleted``. Within one run a key that is both
flagged and unflagged is deleted (its unflagged rows count as duplicates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from core.errors import SourceError
from core.settings import DeleteFlag
from ingest.contract import ROW
from ingest.normalize.cast import Prepared, clean_header


@dataclass
class Split:
    """One batch cast in two: the rows to load and the rows the source deleted."""

    live: Prepared
    deleted: Prepared


def flagged(frame: pl.DataFrame, flag: DeleteFlag, location: str) -> pl.Series:
    """Which rows of ``frame`` carry the delete flag (a boolean mask)."""
    want = clean_header(flag.column)
    hit = [h for h in frame.columns if h == flag.column or clean_header(h) == want]
    if not hit:
        raise SourceError(f"{location}: the delete-flag column '{flag.column}' "
                          "([sources.delete_flag]) is missing")
    col = frame[hit[0]].cast(pl.String).str.strip_chars().str.to_lowercase()
    return col.is_in(list(flag.values)).fill_null(False)


def split_and_cast(frame: pl.DataFrame, flag: DeleteFlag, location: str,
                   cast: Callable[[pl.DataFrame], Prepared]) -> Split:
    """Cast the unflagged and the flagged rows of one batch separately, keeping each row's
    number in the source (so quarantine records still point at the right line)."""
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    mask = flagged(frame, flag, location)
    return Split(cast(frame.filter(~mask)), cast(frame.filter(mask)))


def settle(live: pl.DataFrame | None, deleted: pl.DataFrame, keys: list[str]
           ) -> tuple[pl.DataFrame | None, pl.DataFrame, int]:
    """One row per deleted key; unflagged rows of a deleted key are dropped. Returns the
    rows to load, the keys to delete and how many rows were dropped as duplicates."""
    before = deleted.height
    deleted = deleted.unique(subset=keys, keep="last", maintain_order=True)
    dropped = before - deleted.height
    if live is not None and live.height and deleted.height:
        n = live.height
        live = live.join(deleted.select(keys), on=keys, how="anti")
        dropped += n - live.height
    return live, deleted, dropped
