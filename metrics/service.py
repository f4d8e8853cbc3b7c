"""Computing KPIs: the one entry point the CLI and the dashboard use.

``Metrics.compute(kpi_ids, scope, period, group)`` returns a small polars frame: value,
numerator, denominator, unit, target, status, deltas against the previous period and the same
period last year, sample size and freshness. Measures shared by several KPIs are queried
once, rollup measures of one family in one statement, and results are cached by the
warehouse's data version, so a new run invalidates them and nothing else does.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigError, NoDivisions, Problem
from metrics import breakdown, compiler, parallel, rollup
from metrics.access import Viewer
from metrics.catalog import Catalog, load_catalog
from metrics.compiler import Group, NotApplicable, Scope
from metrics.jobs import (
    MISSING,
    Job,
    JobKey,
    consecutive,
    item_key,
    memo_key,
    mkey,
    period_plan,
    rollup_columns,
)
from metrics.model import Kpi, Measure
from metrics.periods import Period
from metrics.status import Area, kpi_status, target_for
from warehouse import office
from warehouse.engine import data_version
from warehouse.schema import divisions, warehouse_meta

RESULT_COLUMNS = ["kpi", "label", "label_en", "domain", "key", "value", "numerator",
                  "denominator", "unit", "target", "warning", "direction", "status", "sample",
                  "period", "scope", "scope_name", "prev_value", "delta_prev", "ly_value",
                  "delta_yoy", "fresh_at"]


class Metrics:
    """KPI computation over one warehouse."""

    def __init__(self, engine: Engine, catalog: Catalog | None = None, cache_size: int = 512,
                 *, use_rollups: bool = True, threads: int | None = None):
        """``threads``: connections one computation's independent statements use at once
        (:mod:`metrics.parallel`; ``[warehouse] query_threads``; default by engine)."""
        self.engine = engine
        self.threads = threads or parallel.default_threads(engine)
        self.catalog = catalog or load_catalog()
        self.families = rollup.families(self.catalog) if use_rollups else {}
        # distinct counts' rollups (their keys per area and month), by rollup.lookup_key
        self.distinct = rollup.distinct_families(self.catalog) if use_rollups else {}
        self._named: dict[str, rollup.Family | rollup.DistinctFamily] = {
            f.name: f for f in self.families.values()}
        self._named |= {f.name: f for f in self.distinct.values()}
        self._cache: OrderedDict[tuple[Any, ...], pl.DataFrame] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._ready: tuple[int, set[str]] | None = None
        self._divisions: tuple[int, pl.DataFrame] | None = None
        self._jobs: dict[tuple[Any, ...], dict[Any, tuple[Any, int]] | None] = {}
        self._targets: tuple[int, dict[tuple[str, str, int], Area]] | None = None

    # -- scope ---------------------------------------------------------------------------------

    def divisions(self) -> pl.DataFrame:
        """The division list (code, name, short_name, level, parent_code, active, placeholder)."""
        version = data_version(self.engine)
        if self._divisions is None or self._divisions[0] != version:
            d = divisions.c
            with self.engine.connect() as conn:
                rows = conn.execute(select(d.code, d.name, d.short_name, d.level, d.parent_code,
                                           d.active, d.placeholder).order_by(d.code)).all()
            frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
                "code": pl.String, "name": pl.String, "short_name": pl.String,
                "level": pl.String, "parent_code": pl.String, "active": pl.Boolean,
                "placeholder": pl.Boolean})
            self._divisions = (version, frame)
        return self._divisions[1]

    def district(self) -> Scope:
        d = self.divisions().filter(pl.col("level") == "district")
        if d.is_empty():
            raise NoDivisions("no district in the warehouse: load the division list first "
                              "(gongzhi ingest)")
        return Scope("district", d["code"][0], d["short_name"][0] or d["name"][0])

    def scope(self, level: str, ref: str) -> Scope:
        """Find a street, community or grid by code, name or short name."""
        divs = self.divisions().filter(pl.col("level") == level)
        ref = ref.strip()
        hit = divs.filter((pl.col("code") == ref) | (pl.col("name") == ref)
                          | (pl.col("short_name") == ref))
        if hit.height == 0:
            hit = divs.filter(pl.col("name").str.starts_with(ref)
                              | pl.col("short_name").str.starts_with(ref))
        if hit.height != 1:
            what = "no" if hit.height == 0 else f"{hit.height} matching"
            options = ", ".join(f"{r['short_name']} ({r['code']})" for r in hit.head(5).to_dicts())
            raise ConfigError([Problem(f"--{level}", f"{what} {level} for '{ref}'"
                                                     + (f": {options}" if options else ""))])
        row = hit.row(0, named=True)
        return Scope(level, row["code"], row["short_name"] or row["name"])

    # -- computing -----------------------------------------------------------------------------

    def compute(self, kpi_ids: Sequence[str] | None, scope: Scope, period: Period | None,
                group: Group = None, *, compare: bool = True,
                viewer: Viewer | None = None) -> pl.DataFrame:
        """Every requested KPI (all when None) for ``scope`` and ``period``.

        With a ``viewer`` the scope must lie inside their area (:class:`AccessDenied`
        otherwise) and the cache is kept apart per viewer area."""
        if viewer is not None:
            viewer.check(scope.level, scope.code)
        version = data_version(self.engine)
        targets_rev = self._targets_revision()
        ids = tuple(kpi_ids) if kpi_ids else tuple(self.catalog.kpis)
        key = (version, targets_rev, ids, scope.key(), period, group, compare,
               viewer.key() if viewer else "internal")
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        kpis = [self.catalog.get(i) for i in ids]
        frame = self._compute(kpis, scope, period, group, compare, version)
        with self._lock:
            self._cache[key] = frame
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return frame

    def _compute(self, kpis: list[Kpi], scope: Scope, period: Period | None, group: Group,
                 compare: bool, version: int) -> pl.DataFrame:
        plan = period_plan(period, group, compare)
        # ``--by month`` is computed month by month (each month a period of its own, with its
        # own comparisons); other groupings are one grouped query per period.
        job_group: Group = None if group == "month" else group
        jobs: dict[JobKey, Job] = {}
        for kpi in kpis:
            if group == "month" and not kpi.periodic:
                continue  # a state has no months
            if group in breakdown.DIMENSIONS and len(
                    {m.table for m in kpi.measures().values()}) > 1:
                continue  # a ratio across two tables has no common category to split by
            for m in kpi.measures().values():
                rk = rollup.measure_key(m)
                mk = mkey(m, rk)
                for row, spans in plan:
                    for tag, p in spans.items():
                        jp = p if kpi.periodic or m.window == "latest_year" else None
                        jobs[(mk, tag, row)] = Job(m, scope, jp, job_group, rk)
        results = self._run_jobs(jobs, version)
        fresh = self._freshness()
        area = self.area_targets()
        rows: list[dict[str, Any]] = []
        for kpi in kpis:
            rows.extend(self._assemble(kpi, scope, period, group, results, plan, fresh, area))
        if not rows:
            return pl.DataFrame(schema={c: pl.Object for c in RESULT_COLUMNS})
        return pl.DataFrame(rows, infer_schema_length=None).select(RESULT_COLUMNS)

    def _run_jobs(self, jobs: dict[JobKey, Job], version: int
                  ) -> dict[JobKey, dict[Any, tuple[Any, int]] | None]:
        """Run every job: rollup measures of one family, scope and grouping in one statement
        (all periods at once, each period's sums kept apart), fact-table measures of
        consecutive months in one grouped statement, the rest one by one; memoised by data
        version."""
        ready = self._rollups_ready(version)
        out: dict[JobKey, dict[Any, tuple[Any, int]] | None] = {}
        batched: dict[tuple[Any, ...], list[tuple[JobKey, Job]]] = {}
        plain: list[tuple[JobKey, Job]] = []
        for jk, job in jobs.items():
            fam = self._family_for(job, ready)
            # a street-level table has no community: the fact path says NotApplicable (a
            # rollup, filed by area code, would answer with an empty sum)
            if fam is not None and not (
                    compiler.street_level(job.measure.table or "")
                    and "community" in (job.scope.level, job.group)):
                batched.setdefault((fam.name, job.scope, job.group), []).append((jk, job))
            else:
                plain.append((jk, job))
        units: list[parallel.Unit] = [
            partial(self._batch, self._named[fname], sc, grp, items, out)
            for (fname, sc, grp), items in batched.items()]
        units += self._month_runs(plain, version)
        # jobs of one memo key (a state's current, previous and last-year jobs ask the same)
        # are one statement
        same: dict[tuple[Any, ...], list[tuple[JobKey, Job]]] = {}
        for jk, job in plain:
            same.setdefault(memo_key(job, version), []).append((jk, job))
        with self.engine.connect() as conn:  # this thread's, for both rounds
            parallel.run_all(self.engine, units, self.threads, conn)
            # after the month runs, whose results the single months' jobs then find memoised
            parallel.run_all(self.engine, [partial(self._raw_into, group, version, out)
                                           for group in same.values()], self.threads, conn)
        return out

    def _batch(self, fam: rollup.Family | rollup.DistinctFamily, sc: Scope, grp: Group,
               items: list[tuple[JobKey, Job]],
               out: dict[JobKey, dict[Any, tuple[Any, int]] | None], conn: Any) -> None:
        """One family's rollup measures for one scope and grouping, every period in one
        statement."""
        parts = [(item_key(j), j.measure, cast(Period, j.period), *rollup_columns(fam, j))
                 for _, j in items]
        stmt, labels = compiler.rollup_query(fam.sa_table(), parts, sc, grp)
        res = conn.execute(stmt).mappings().all()
        for jk, job in items:
            v, n = labels[item_key(job)]
            # a row of the statement may belong to another period only: it is kept
            # (its sums here are 0) and the assembly shows groups with rows only
            out[jk] = {(r["key"] if grp else None): (r[v], int(r[n] or 0)) for r in res}

    def _raw_into(self, jobs: list[tuple[JobKey, Job]], version: int,
                  out: dict[JobKey, dict[Any, tuple[Any, int]] | None], conn: Any) -> None:
        result = self._raw(conn, jobs[0][1], version)
        for jk, _ in jobs:
            out[jk] = result

    def _month_runs(self, plain: list[tuple[JobKey, Job]], version: int
                    ) -> list[parallel.Unit]:
        """Fact-table measures over single months, ungrouped (``--by month``, trends): runs
        of consecutive months are answered by one query grouped by month, whose rows are
        memoised as the months' own results (a month without rows gets nothing: 0 rows)."""
        runs: dict[tuple[Any, ...], set[Period]] = {}
        for _, job in plain:
            p, m = job.period, job.measure
            if (job.group is None and p is not None and p.grain == "month"
                    and m.window == "period" and m.time
                    and memo_key(job, version) not in self._jobs):
                runs.setdefault((mkey(m), job.scope), set()).add(p)
        units: list[parallel.Unit] = []
        for (mk, sc), months in runs.items():
            if len(months) < 2:
                continue
            m = next(j.measure for _, j in plain if mkey(j.measure) == mk)
            for run in consecutive(sorted(months, key=lambda x: x.start)):
                units.append(partial(self._month_run, m, sc, run, version))
        return units

    def _month_run(self, m: Measure, sc: Scope, run: list[Period], version: int,
                   conn: Any) -> None:
        span = Period("range", run[0].start, run[-1].end)
        try:
            res = conn.execute(compiler.raw_query(m, sc, span, "month")).mappings().all()
            found = {r["key"]: (r["value"], int(r["rows"] or 0)) for r in res}
        except NotApplicable:
            found = None
        with self._lock:
            for p in run:
                # the key the month's own job finds it under
                self._jobs[memo_key(Job(m, sc, p, None), version)] = None if found is None else {
                    None: found.get(p.label, (None, 0))}

    def _raw(self, conn: Any, job: Job, version: int) -> dict[Any, tuple[Any, int]] | None:
        """One measure from its fact table (memoised; district from streets when additive)."""
        key = memo_key(job, version)
        # one lookup: another computation may clear the memo between two (a full memo is
        # emptied, below)
        hit = self._jobs.get(key, MISSING)
        if hit is not MISSING:
            return cast(dict[Any, tuple[Any, int]] | None, hit)
        m = job.measure
        # distinct people counted through their own record (volunteers via volunteer_id):
        # each has one area, so the district is the sum of its streets, one scan saved
        additive = (m.agg == "count_distinct" and m.via is not None
                    and m.via.partition(".")[2] == m.column)
        if job.scope.level == "district" and job.group is None and additive:
            by_street = self._raw(conn, Job(m, job.scope, job.period, "street", job.rkey),
                                  version)
            result = None if by_street is None else {None: (
                sum(v or 0 for v, _ in by_street.values()),
                sum(n for _, n in by_street.values()))}
        else:
            try:
                stmt = compiler.raw_query(m, job.scope, job.period, job.group)
                res = conn.execute(stmt).mappings().all()
                result = {(r["key"] if job.group else None): (r["value"], int(r["rows"] or 0))
                          for r in res}
            except NotApplicable:
                result = None
        with self._lock:
            if len(self._jobs) > 4 * self._cache_size:
                self._jobs.clear()
            self._jobs[key] = result
        return result

    def _family_for(self, job: Job, ready: set[str]
                    ) -> rollup.Family | rollup.DistinctFamily | None:
        m = job.measure
        if job.period is None or not (rollup.eligible(m) or m.agg == "count_distinct"):
            return None
        if not job.period.whole_months:
            return None  # rollups are monthly: days and weeks come from the facts
        if job.group not in (None, "street", "community", "grid"):
            return None  # rollups are kept per area and month, not per category
        fam: rollup.Family | rollup.DistinctFamily | None
        if m.agg == "count_distinct":
            fam = self.distinct.get(rollup.lookup_key(m))
        else:
            fam = self.families.get((m.table or "", m.time or ""))
            if fam is not None and job.measure_key not in fam.measures:
                return None
        if fam is None or fam.name not in ready:
            return None
        if "grid" in (job.scope.level, job.group) and not fam.gridded:
            return None  # kept per community: the fact path says the grid does not apply
        return fam

    def _rollups_ready(self, version: int) -> set[str]:
        if self._ready is None or self._ready[0] != version:
            with self.engine.connect() as conn:
                stored = rollup.stored_fingerprints(conn)
            ok = {f.name for f in self._named.values() if stored.get(f.name) == f.fingerprint}
            self._ready = (version, ok)
        return self._ready[1]

    def _targets_revision(self) -> int:
        """The area targets' revision (grows with every change); 0 where the office tables
        are not there yet (a warehouse made before them, read without writing)."""
        try:
            rev = office.revision(self.engine)
        except SQLAlchemyError:
            rev = 0
        if self._targets is None or self._targets[0] != rev:
            try:
                found = office.current(self.engine) if rev else {}
            except SQLAlchemyError:
                found = {}
            self._targets = (rev, {k: (t.target, t.warning) for k, t in found.items()})
        return rev

    def area_targets(self) -> dict[tuple[str, str, int], Area]:
        """Leaders' targets in force, by (kpi, area code, year): (target, warning)."""
        self._targets_revision()
        assert self._targets is not None
        return self._targets[1]

    def _freshness(self) -> dict[str, dt.datetime]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(warehouse_meta.c.key, warehouse_meta.c.value)
                                .where(warehouse_meta.c.key.startswith("loaded:"))).all()
        return {k.removeprefix("loaded:"): dt.datetime.fromisoformat(v) for k, v in rows}

    def _assemble(self, kpi: Kpi, scope: Scope, period: Period | None, group: Group,
                  results: dict[JobKey, Any], plan: list[tuple[Any, dict[str, Period | None]]],
                  fresh: dict[str, dt.datetime],
                  area: dict[tuple[str, str, int], Area] | None = None
                  ) -> list[dict[str, Any]]:
        """Result rows of one KPI. A grouped result has a row for each group (area, or month
        of the period) where at least one of the KPI's measures counts a row in the current
        period; its 环比 and 同比 are the same group's values in the comparison periods (0 for
        a count without rows there, no value for a ratio without a denominator)."""
        measures = kpi.measures()
        tables = {m.table for m in measures.values()}
        fresh_at = min((fresh[t] for t in tables if t in fresh), default=None)

        Values = tuple[float | None, float | None, float | None, int]

        def parts_at(tag: str, row: Any) -> dict[str, dict[Any, Any]] | None:
            found = {role: results.get((mkey(m), tag, row)) for role, m in measures.items()}
            if any(v is None for v in found.values()):
                return None
            return cast(dict[str, dict[Any, Any]], found)

        def present(parts: dict[str, dict[Any, Any]]) -> list[Any]:
            keys = {k for v in parts.values() for k, (_, n) in v.items() if n}
            return sorted(keys, key=lambda x: (x is None, x))

        def value(parts: dict[str, dict[Any, Any]] | None, k: Any) -> Values | None:
            if parts is None:
                return None
            if kpi.is_ratio:
                num, _ = parts["numerator"].get(k, (0, 0))
                den, den_rows = parts["denominator"].get(k, (0, 0))
                num = float(num or 0)
                den_f = float(den or 0)
                val = num / den_f * kpi.scale if den_f else None
                return (val, num, den_f, den_rows)
            raw, rows = parts["measure"].get(k, (None, 0))
            if raw is None and measures["measure"].agg in ("count", "sum", "count_distinct"):
                raw = 0
            v = float(raw) * kpi.scale if raw is not None else None
            return (v, v, None, rows)

        compared = kpi.periodic
        rows = []
        level = _group_level(group, scope)  # of the rows' areas: a target may not apply there
        if group in breakdown.DIMENSIONS and kpi.additive:
            level = "breakdown"  # an area's count target says nothing about one category
        target, warning = target_for(kpi, level)
        area = area or {}

        def own(k: Any, plan_row: Any) -> Area | None:
            """A leader's target for the row's area and year, if any (streets, communities)."""
            if not area or level not in ("street", "community") or period is None:
                return None
            code = k if group in ("street", "community") else scope.code
            year = int(str(plan_row)[:4]) if group == "month" else period.start.year
            return area.get((kpi.id, code, year))

        for plan_row, spans in plan:
            cur = parts_at("cur", plan_row)
            if cur is None:
                continue
            if group is None:
                keys: list[Any] = [None]
            elif group == "month":
                keys = [None] if present(cur) else []
            else:
                keys = present(cur)
            prev = parts_at("prev", plan_row) if "prev" in spans and compared else None
            ly = parts_at("ly", plan_row) if "ly" in spans and compared else None
            for k in keys:
                val, num, den, sample = cast(Values, value(cur, k))
                at = own(k, plan_row)
                tg, wn = target_for(kpi, level, at)
                pv = (value(prev, k) or (None,))[0]
                lv = (value(ly, k) or (None,))[0]
                rows.append({
                    "kpi": kpi.id, "label": kpi.label.zh, "label_en": kpi.label.en,
                    "domain": kpi.domain, "key": plan_row if group == "month" else k,
                    "value": val, "numerator": num,
                    "denominator": den, "unit": kpi.unit, "target": tg,
                    "warning": wn, "direction": kpi.direction,
                    "status": kpi_status(kpi, val, sample, level, at),
                    "sample": sample,
                    "period": period.label if period and kpi.periodic else None,
                    "scope": scope.key(), "scope_name": scope.name,
                    "prev_value": pv, "delta_prev": None if val is None or pv is None
                    else val - pv,
                    "ly_value": lv, "delta_yoy": None if val is None or lv is None else val - lv,
                    "fresh_at": fresh_at,
                })
        if not rows and group is None:
            target, warning = target_for(kpi, level, own(None, None))
            rows.append({c: None for c in RESULT_COLUMNS} | {
                "kpi": kpi.id, "label": kpi.label.zh, "label_en": kpi.label.en,
                "domain": kpi.domain, "unit": kpi.unit, "target": target,
                "warning": warning, "direction": kpi.direction, "sample": 0,
                "scope": scope.key(), "scope_name": scope.name, "fresh_at": fresh_at,
                "period": period.label if period and kpi.periodic else None})
        return rows


def _group_level(group: Group, scope: Scope) -> str:
    return {"street": "street", "community": "community", "grid": "grid"}.get(group or "",
                                                                             scope.level)
