"""Monthly rollups per area: what makes KPIs fast at district scale.

For every (table, time column) that KPIs aggregate over, a table
``rollup_<table>__<time>(area, month, v_*, n_*)`` keeps, per area and local month, the
additive parts of each measure: a value (rows counted, or the column summed) and a row count.
``area`` is the finest code the table files its rows by: the grid for grid-level tables
(grid events, inspections), else the community (or street); codes nest by digits, so a
community, street or district reads a prefix range of it and a grid its exact code.
Month, quarter and year periods of those measures read a few thousand rollup rows instead of
millions of facts; day and week periods go to the fact tables. Distinct counts do not add
up: their rollups (:mod:`~metrics.rollup.distinct`) keep the distinct keys per area and
month, recomputed for the months a run touches.

Rollups are maintained inside each run's transaction (:class:`RollupObserver`): delta =
contribution of the new rows − contribution of the rows they replace, so a run never rescans a
fact table. The new rows' part is summed in polars chunk by chunk as a streaming run stages
them (derived columns by their polars twins, :mod:`metrics.rollup_eval`); the replaced rows'
part is one SQL aggregate over the join with the run's scratch table (their SQL twins). They
are rebuilt from scratch with one SQL aggregate when the KPI definitions change (fingerprint),
or when the item catalogue or the holiday calendar behind 按期 deadlines changes.

One module per step, re-exported here (callers use ``rollup.families()``, ``rollup.Family``):
:mod:`~metrics.rollup.family` (families, their measures and tables),
:mod:`~metrics.rollup.build` (the SQL side: rebuild, refresh, fingerprints) and
:mod:`~metrics.rollup.observe` (:class:`RollupObserver`, maintenance inside a run).
"""

from __future__ import annotations

from metrics.rollup.build import (
    aggregate,
    ensure_rollups,
    months_of_keys,
    rebuild,
    refresh_months,
    stored_fingerprints,
)
from metrics.rollup.distinct import (
    DistinctFamily,
    distinct_families,
    eligible_distinct,
    lookup_key,
)
from metrics.rollup.family import (
    ROLLUP_VERSION,
    Family,
    RollupMeasure,
    eligible,
    families,
    measure_key,
)
from metrics.rollup.observe import RollupObserver, observers_for

__all__ = [
    "ROLLUP_VERSION",
    "DistinctFamily",
    "Family",
    "RollupMeasure",
    "RollupObserver",
    "aggregate",
    "distinct_families",
    "eligible",
    "eligible_distinct",
    "ensure_rollups",
    "families",
    "lookup_key",
    "measure_key",
    "months_of_keys",
    "observers_for",
    "rebuild",
    "refresh_months",
    "stored_fingerprints",
]
