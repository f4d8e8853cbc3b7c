"""Each community's latest 三色研判 (committee assessment): the party page's table and the
colour the three-colour board shows beside the KPI colours.

The KPIs (``party.committees_red`` …) count assessments in a period; a leader reading the
board wants the standing of each committee, i.e. its most recent assessment made by the end of
the period. One grouped query in the database; a community without any assessment has no row.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, and_, func, select

from core import privacy
from metrics.access import Viewer
from metrics.compiler import Scope, scope_condition
from metrics.periods import Period
from warehouse.tables.committees import committee_assessments as T

SCHEMA = {"community_code": pl.String, "period": pl.String, "score": pl.Float64,
          "colour": pl.String, "escalated": pl.Boolean, "rectification": pl.String,
          "reasons": pl.String}


def latest(engine: Engine, scope: Scope, period: Period, *,
           viewer: Viewer | None = None) -> pl.DataFrame:
    """The latest assessment up to ``period``'s last month of every community in ``scope``
    (columns of :data:`SCHEMA`, by community code); staff see only their own area."""
    if viewer is not None:
        viewer.check(scope.level, scope.code)
    if scope.level == "grid":  # assessments are of a community's committees
        return pl.DataFrame(schema=SCHEMA)
    last_month = period.months[1]
    conds = [T.c.period <= last_month]
    inside = scope_condition(T.c.community_code, scope, gridded=False)
    if inside is not None:
        conds.append(inside)
    newest = (select(T.c.community_code, func.max(T.c.period).label("period"))
              .where(and_(*conds)).group_by(T.c.community_code).subquery("newest"))
    stmt = (select(*(T.c[c] for c in SCHEMA))
            .join(newest, and_(T.c.community_code == newest.c.community_code,
                               T.c.period == newest.c.period))
            .order_by(T.c.community_code, T.c.assessment_id))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt)]
    frame = pl.DataFrame(rows, orient="row", schema=SCHEMA)
    # two assessments of one community in the same month: the last id stands
    frame = frame.unique("community_code", keep="last", maintain_order=True)
    # stored masked; masked again so a row stored before a rule existed is never shown in clear
    return frame.with_columns(pl.col("reasons").map_elements(
        privacy.redact, return_dtype=pl.String))
