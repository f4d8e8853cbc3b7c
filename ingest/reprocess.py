"""``gongzhi reprocess``: stored quarantined rows through validation again.

A row quarantined because a reference was missing (``unknown_community`` while the division
list had failed to load, a community added after its cases arrived) can pass later as it is;
its file, though, is marked loaded and is never read again. Reprocessing reads the stored raw
rows of the quarantine instead, per source under the source's lock, in a run of trigger
``reprocess``: rows that now pass are merged like any load (rollups and data version included)
and marked resolved by that run; the others stay where they are, with the reason they fail
with now (never a second quarantine row). The run log balances as for any run: read (rows
taken from the quarantine) = loaded + quarantined (still failing) + duplicates (the same key
twice, or a newer version of the row already loaded by a later run, which is kept).

By default only rows whose reason is retryable (a missing reference, :data:`RETRYABLE`) are
taken; ``reason`` takes the rows of any one reason (after ``[sources.columns]`` or a vocabulary
changed), except ``bad_encoding`` rows, whose stored text is a reading of undecodable bytes.
Personal inputs are masked in the stored rows: a row keeps the pseudonym computed on its first
pass (``derived``); a row stored without one (before this existed, or with an invalid ID)
cannot get one again and stays quarantined until its source row is loaded anew.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table, bindparam, select, tuple_, update

from core import reasons
from core.errors import SourceError
from core.settings import SourceSpec
from ingest.contract import ORIGIN, ROW, SHEET
from ingest.keyguard import KeyGuard
from ingest.normalize import personal
from ingest.normalize.cast import CastOptions, cast_batch
from ingest.runner import Runner, RunResult, _Collected, _known_codes
from warehouse import audit, requests
from warehouse.schema import data_tables, key_columns, quarantine

TRIGGER = "reprocess"
ACTION = "reprocess"
CHUNK = 500


@dataclass(frozen=True)
class Selection:
    """Which quarantined rows to retry: of one source, one reason, one run (None: any)."""

    source: str | None = None
    reason: str | None = None
    run_id: int | None = None

    def check(self) -> None:
        reasons.check_reprocessable(self.reason)

    def filters(self) -> dict[str, Any]:
        return {"source": self.source, "reason": self.reason or "retryable",
                "run": self.run_id}


def _where(sel: Selection, source: str | None = None) -> list[Any]:
    q = quarantine.c
    conds: list[Any] = [q.resolved_run_id.is_(None), q.table_name.in_(list(data_tables()))]
    if source or sel.source:
        conds.append(q.source == (source or sel.source))
    if sel.run_id is not None:
        conds.append(q.run_id == sel.run_id)
    if sel.reason:
        conds.append(q.reason == sel.reason)
    else:
        conds.append(q.reason.in_(sorted(reasons.RETRYABLE)))
    conds.append(q.reason.not_in(sorted(reasons.NOT_REPROCESSABLE)))
    return conds


def sources_to_reprocess(engine: Engine, sel: Selection) -> list[str]:
    """Sources with open quarantined rows matching ``sel``."""
    q = quarantine.c
    with engine.connect() as conn:
        return sorted(conn.execute(select(q.source).where(*_where(sel)).distinct()).scalars())


@dataclass
class _Pending:
    """The rows of one table being retried, and what became of each."""

    table: Table
    ids: list[int] = field(default_factory=list)
    origin_runs: dict[int, int] = field(default_factory=dict)
    resolved: list[int] = field(default_factory=list)
    still_bad: list[dict[str, Any]] = field(default_factory=list)


class Reprocessor(Runner):
    """A runner whose input is the quarantine instead of the source."""

    selection: Selection = Selection()
    _pending: dict[str, _Pending]

    def reprocess(self, sel: Selection, *, username: str, role: str) -> list[RunResult]:
        """Retry the rows ``sel`` picks, one run per source; audited as ``username``."""
        sel.check()
        if sel.source is not None and sel.source not in {s.id for s in self.settings.sources}:
            raise SourceError(f"unknown source '{sel.source}'")
        self.selection = sel
        results = []
        for sid in sources_to_reprocess(self.engine, sel):
            try:
                spec = self.settings.source(sid)
            except KeyError:
                results.append(RunResult(sid, None, "skipped", error=(
                    f"source '{sid}' is no longer configured; its quarantined rows stay")))
                continue
            results.append(self.run_source(spec, trigger=TRIGGER))
        audit.record(self.engine, username=username, role=role, action=ACTION,
                     target=f"quarantine:{sel.source or '*'}",
                     filters={**sel.filters(), "runs": [r.run_id for r in results]},
                     row_count=sum(r.loaded for r in results if r.ok))
        return results

    def _run_locked(self, spec: SourceSpec, run_id: int, *lock: Any) -> RunResult:
        # ``lock``: whatever the runner passes on to ``_load`` with the run (its fence)
        # Read under the source's lock: a reprocess running elsewhere may have resolved rows.
        self._keys = KeyGuard(self.engine, self.settings.pseudonym_key_file)
        self._pending = {}
        q = quarantine.c
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(
                select(q.id, q.run_id, q.table_name, q.origin, q.sheet, q.row_number, q.raw,
                       q.derived).where(*_where(self.selection, spec.id)).order_by(q.id)
            ).mappings()]
        known = _known_codes(self.engine)
        tables = data_tables()
        collected: dict[str, _Collected] = {}
        by_table: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_table.setdefault(row["table_name"], []).append(row)
        for name, trows in by_table.items():
            pend = self._pending[name] = _Pending(tables[name])
            c = collected[name] = _Collected(read=len(trows))
            for group in _groups(trows, bool(tables[name].info.get("personal"))):
                self._retry(spec, pend, c, group, known)
            self._drop_superseded(pend, c)
        self.progress.update("reprocess", len(rows), force=True)
        load: Any = self._load  # the run's lock (fence) goes on to it when the runner has one
        return load(spec, run_id, *lock, collected, None, None)

    def _retry(self, spec: SourceSpec, pend: _Pending, c: _Collected,
               rows: list[dict[str, Any]], known: dict[str, pl.Series]) -> None:
        """Cast one group of rows (same headers, same personal handling) like a batch."""
        raws = [json.loads(r["raw"]) for r in rows]
        headers = list(dict.fromkeys(k for raw in raws for k in raw))
        frame = pl.DataFrame({h: pl.Series(h, [raw.get(h) for raw in raws], dtype=pl.String)
                              for h in headers}).with_columns(
            pl.Series(ROW, [r["row_number"] for r in rows], dtype=pl.Int64),
            pl.Series(ORIGIN, [r["origin"] for r in rows], dtype=pl.String),
            pl.Series(SHEET, [r["sheet"] for r in rows], dtype=pl.String))
        given = None
        if rows[0]["derived"] is not None:
            derived = [json.loads(r["derived"]) for r in rows]
            given = pl.DataFrame({k: pl.Series(k, [d.get(k) for d in derived], dtype=pl.String)
                                  for k in personal.OUTPUTS})
        prepared = cast_batch(
            frame, pend.table, columns=spec.columns, defaults=spec.defaults,
            known_codes=known, location=spec.id, key_getter=self._keys.key,
            options=CastOptions(formats=spec.formats, decimal_comma=spec.decimal_comma,
                                timezone=spec.timezone),
            personal_given=given)
        ids = [r["id"] for r in rows]
        bad_pos = set(prepared.bad_index.to_list())
        good_ids = [i for n, i in enumerate(ids) if n not in bad_pos]
        if not prepared.good.is_empty():
            c.good.append(prepared.good.with_columns(pl.Series("_qid", good_ids,
                                                               dtype=pl.Int64)))
        for pos, bad in zip(prepared.bad_index.to_list(), prepared.bad.iter_rows(named=True),
                            strict=True):
            pend.still_bad.append({"qid": ids[pos], "reason": bad["reason"],
                                   "column_name": bad["column_name"],
                                   "message": bad["message"]})
        if not prepared.bad.is_empty():
            c.bad.append(prepared.bad)
        pend.ids += ids
        pend.origin_runs.update({r["id"]: r["run_id"] for r in rows})

    def _drop_superseded(self, pend: _Pending, c: _Collected) -> None:
        """A row that a run after the quarantined row's own has loaded is newer: it stays, and
        the quarantined version counts as a duplicate instead of overwriting it."""
        if not c.good:
            return
        good = pl.concat(c.good, how="vertical_relaxed")
        stored = _stored_runs(self.engine, pend.table, good)
        keys = key_columns(pend.table)
        newer = [stored.get(tuple(k), -1) > pend.origin_runs[qid]
                 for k, qid in zip(good.select(keys).iter_rows(), good["_qid"], strict=True)]
        mask = pl.Series(newer, dtype=pl.Boolean)
        c.skipped = int(mask.sum())
        pend.resolved += good["_qid"].filter(mask).to_list()
        kept = good.filter(~mask)
        pend.resolved += kept["_qid"].to_list()  # loaded or a duplicate of a loaded row
        c.good = [kept.drop("_qid")] if not kept.is_empty() else []

    def _store_quarantine(self, conn: Connection, spec: SourceSpec, run_id: int,
                          collected: dict[str, _Collected]) -> None:
        """Resolve the rows that loaded; the others keep their place, with today's reason."""
        q = quarantine.c
        for pend in self._pending.values():
            for i in range(0, len(pend.resolved), CHUNK):
                conn.execute(update(quarantine).where(q.id.in_(pend.resolved[i:i + CHUNK]))
                             .values(resolved_run_id=run_id))
            if pend.still_bad:
                conn.execute(
                    update(quarantine).where(q.id == bindparam("qid")).values(
                        reason=bindparam("reason"), column_name=bindparam("column_name"),
                        message=bindparam("message")),
                    pend.still_bad)


def _groups(rows: list[dict[str, Any]], personal_table: bool) -> list[list[dict[str, Any]]]:
    """Rows cast together: the same headers (files of one source may name columns
    differently) and, in people tables, the same kind of personal handling."""
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        derived = personal_table and r["derived"] is not None
        key = (tuple(json.loads(r["raw"])), derived)
        if not derived:
            r = {**r, "derived": None}
        out.setdefault(key, []).append(r)
    return list(out.values())


def _stored_runs(engine: Engine, table: Table, frame: pl.DataFrame) -> dict[tuple[Any, ...], int]:
    """The run that last wrote each key of ``frame`` that the warehouse holds."""
    keys = key_columns(table)
    cols = [table.c[k] for k in keys]
    values = list(frame.select(keys).unique().iter_rows())
    found: dict[tuple[Any, ...], int] = {}
    with engine.connect() as conn:
        for i in range(0, len(values), CHUNK):
            chunk = values[i:i + CHUNK]
            cond = (cols[0].in_([v[0] for v in chunk]) if len(cols) == 1
                    else tuple_(*cols).in_(chunk))
            for row in conn.execute(select(*cols, table.c._run_id).where(cond)):
                found[tuple(row[:-1])] = int(row[-1])
    return found


# -- requests from the dashboard (done by the scheduler process) ------------------------------

take_requests = requests.take_reprocess
release_request = requests.release_reprocess


def serve_request(runner: Reprocessor, req: dict[str, Any]) -> list[RunResult]:
    """Do one claimed request and record its outcome (the scheduler calls this)."""
    sel = Selection(req["source"], req["reason"], req["run_id"])
    try:
        results = runner.reprocess(sel, username=req["requested_by"] or "dashboard",
                                   role="leader")
    except Exception as e:  # an unknown source, a refused reason: said in the outcome
        requests.finish_reprocess(runner.engine, req["id"], f"failed: {e}")
        raise
    requests.finish_reprocess(runner.engine, req["id"], summary(results))
    return results


def summary(results: Sequence[RunResult]) -> str:
    """One line per source: what a reprocess did."""
    if not results:
        return "nothing to reprocess"
    return "; ".join(
        f"{r.source}: run {r.run_id}, read {r.read:,}, loaded {r.loaded:,}, still quarantined "
        f"{r.quarantined:,}, duplicates {r.duplicates:,}" if r.ok
        else f"{r.source}: {r.status}: {r.error}" for r in results)
