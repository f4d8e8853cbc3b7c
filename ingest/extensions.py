"""The extension points of ingestion, declared in one place (as datasette declares its
hookspecs): each is an entry-point group that built-in and third-party code register with in
the same way, so the built-in ones prove the path a third party takes.

- ``gongzhi.sources``: a :class:`ingest.contract.Source` subclass reading one kind of input
  (files, rest, sql, open311, divisions are registered so; see :mod:`ingest.registry`).
- ``gongzhi.observers``: a callable ``(settings) -> list[RunObserver]``, called once per
  runner; its observers (:class:`RunObserver`) follow every merge and delete of every run
  inside the run's transaction. The KPI rollups register here
  (``metrics.rollup:observers_for``): ingestion may not import metrics, and a runner without
  them would leave rollups stale silently, so every runner gets the observers of every
  installed extension (:func:`build_runner <ingest.runner.build_runner>`), and one that
  fails to load stops the run.

  An observer may also have the hooks of :data:`HOOKS`: ``after_run`` (once runs are over:
  the 预警 alerts of ``metrics.alerts:observers_for``) and ``schedule`` + ``on_schedule`` (a
  job of its own in ``gongzhi schedule``). Each hook is declared as ``<group>.<hook>``.

A test marked ``@pytest.mark.extension_point("<group>")`` (``"<group>.<hook>"`` for a hook)
exercises each group and hook through a registered entry point; a meta-test fails for one
declared here without such a test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import ConfigError, Problem

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

    from warehouse.bulk import MergeCounts


class RunObserver(Protocol):
    """What a ``gongzhi.observers`` extension returns: something that follows merges inside
    the run's transaction (e.g. the KPI rollups).

    A run streams its source in chunks and never holds it whole, so no frame of the run's rows
    is passed to the merge hooks: the rows merged are in ``stage`` (a scratch table, one row
    per key), and after the merge the stored rows it inserted or changed carry
    ``counts.run_id`` in ``_run_id``.

    Optional hooks (looked up with ``hasattr``):

    - ``staged(conn, table, frame, first=...)``: after each chunk is staged (``first`` for a
      run's first chunk of ``table``), before the merge; ``staged(None, table, None)`` says
      staged rows left the scratch table afterwards (repeats across chunks), so sums kept from
      the chunks no longer hold.
    - ``before_delete(conn, table, stage)`` / ``after_delete(conn, table, stage, removed)``
      around the removal of rows a source flagged deleted (see :mod:`ingest.deletes`).
    - ``coupled_tables()``: table → the other tables whose load makes the observer recompute
      what it keeps for that table (rollups of cases from the item catalogue); runs of
      coupled tables never commit at once under ``gongzhi ingest --jobs``
      (:mod:`ingest.parallel`).
    - the hooks of :data:`HOOKS` (``after_run``, ``schedule`` + ``on_schedule``).
    """

    def before_merge(self, conn: Connection, table: Table, stage: Table) -> None: ...

    def after_merge(self, conn: Connection, table: Table, stage: Table,
                    counts: MergeCounts) -> None: ...


@dataclass(frozen=True)
class ExtensionPoint:
    """An entry-point group and what an object registered under it must be."""

    group: str
    contract: str


SOURCES = ExtensionPoint(
    "gongzhi.sources", "a subclass of ingest.contract.Source; the entry point's name is the "
                       "plugin name a source's `plugin =` picks")
OBSERVERS = ExtensionPoint(
    "gongzhi.observers", "a callable (settings) -> list of RunObserver (ingest.extensions), "
                         "called once per runner; every runner gets its observers")
EXTENSION_POINTS: tuple[ExtensionPoint, ...] = (SOURCES, OBSERVERS)


@dataclass(frozen=True)
class Hook:
    """An optional method of the objects registered under an extension point."""

    point: ExtensionPoint
    name: str
    contract: str

    @property
    def id(self) -> str:
        """``<group>.<hook>``: the name a test's ``extension_point`` mark uses."""
        return f"{self.point.group}.{self.name}"


AFTER_RUN = Hook(
    OBSERVERS, "after_run", "after_run(engine, results): once the runs are over, committed "
                            "or failed; the results of a batch together (never a half-loaded "
                            "state), of one source when it runs on its own; what it raises "
                            "is a warning, never a failed run")
ON_SCHEDULE = Hook(
    OBSERVERS, "on_schedule", "an observer with `schedule` (cron, the scheduler's time zone) "
                              "and on_schedule(engine): gongzhi schedule calls it on that "
                              "schedule; a bad schedule is a warning, the sources still run")
HOOKS: tuple[Hook, ...] = (AFTER_RUN, ON_SCHEDULE)


def registered(point: ExtensionPoint) -> list[EntryPoint]:
    """The entry points of ``point``, the first of each name only (as Python's import picks
    the first distribution on the path)."""
    seen: dict[str, EntryPoint] = {}
    for ep in entry_points(group=point.group):
        seen.setdefault(ep.name, ep)
    return list(seen.values())


def load_observers(settings: Any, eps: Sequence[EntryPoint] | None = None
                   ) -> list[RunObserver]:
    """The observers of every ``gongzhi.observers`` extension for a runner on ``settings``.

    An extension that cannot be loaded is a :class:`ConfigError` naming it: unlike a broken
    source plugin (which costs only the sources using it), a missing observer would leave what
    it keeps (the KPI rollups) silently stale after every run. What a loaded extension raises
    while preparing (a read-only warehouse, say) passes through as it is, for the caller's
    usual report."""
    factories: list[Callable[[Any], Sequence[RunObserver]]] = []
    problems: list[Problem] = []
    for ep in eps if eps is not None else registered(OBSERVERS):
        try:
            factory = ep.load()
            if not callable(factory):
                raise TypeError(f"{ep.value} is not callable")
        except Exception as e:
            problems.append(Problem(f"{OBSERVERS.group} {ep.name} ({ep.value})",
                                    f"failed to load: {type(e).__name__}: {e}"))
            continue
        factories.append(factory)
    if problems:
        raise ConfigError(problems, header="a run observer extension is broken; runs would "
                                           "leave what it keeps stale")
    return [ob for factory in factories for ob in factory(settings)]
