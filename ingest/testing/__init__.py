"""The source-plugin contract test kit, shipped with the product so a third-party plugin runs
the same checks as the built-in ones (as the Meltano SDK ships its standard tests).

Two ways to use it:

- plain functions (this module; no test framework needed): :func:`check_registered`,
  :func:`check_config`, :func:`check_unknown_setting_refused`,
  :func:`check_batches`, :func:`check_end_to_end`, each raising
  :class:`ContractFailure` naming what broke;
- a pytest base class, :class:`ingest.testing.contract.PluginContract`, whose inherited tests
  call them. pytest is a test-time dependency: only that module imports it.

:func:`untested_plugins` is the meta-check: the registered ``gongzhi.sources`` plugins that no
contract class runs the kit against (the project's own meta-test applies it to its tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from core.settings import Settings, SourceSpec, settings_from_dict
from ingest.contract import ORIGIN, ROW, Batch, Source
from ingest.extensions import SOURCES, registered
from ingest.registry import build_source, registry, validate_source
from ingest.runner import RunResult, build_runner

__all__ = [
    "ContractFailure", "SourceRuns", "check_batches", "check_config", "check_end_to_end",
    "check_registered", "check_unknown_setting_refused", "settings_for", "untested_plugins",
]


class ContractFailure(AssertionError):
    """A plugin breaks the source contract; the message says which check and why."""


def _fail(plugin: str, check: str, why: str) -> ContractFailure:
    return ContractFailure(f"plugin {plugin!r} fails the source contract ({check}): {why}")


def settings_for(sources: Sequence[dict[str, Any]], folder: Path,
                 warehouse_url: str | None = None) -> Settings:
    """Settings for ``[[sources]]`` entries given as dicts (as they would be in gongzhi.toml
    in ``folder``), with the plugin checks, as ``gongzhi run`` validates them."""
    reg = registry()
    data: dict[str, Any] = {"sources": [dict(s) for s in sources]}
    if warehouse_url is not None:
        data["warehouse"] = {"url": warehouse_url}
    return settings_from_dict(data, path=Path(folder) / "gongzhi.toml",
                              validate_source=lambda s: validate_source(s, reg))


def _spec(config: dict[str, Any], folder: Path) -> SourceSpec:
    reg = registry()
    settings = settings_from_dict({"sources": [dict(config)]},
                                  path=Path(folder) / "gongzhi.toml")
    spec = settings.sources[0]
    if spec.plugin not in reg.plugins:
        raise _fail(spec.plugin, "registration", "no such plugin in the gongzhi.sources group")
    return spec


def check_registered(plugin: str) -> type[Source]:
    """The plugin is registered in the ``gongzhi.sources`` group as a Source subclass of
    that name; returns the class."""
    cls = registry().plugins.get(plugin)
    if cls is None:
        raise _fail(plugin, "registration", f"not in the {SOURCES.group} entry-point group")
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise _fail(plugin, "registration", f"{cls!r} is not a subclass of "
                                            "ingest.contract.Source (it may have failed to load)")
    if cls.name != plugin:
        raise _fail(plugin, "registration", f"the class says name = {cls.name!r}")
    return cls


def check_config(config: dict[str, Any], folder: Path) -> None:
    """``config`` (one ``[[sources]]`` entry) passes the plugin's checks."""
    spec = _spec(config, folder)
    problems = validate_source(spec)
    if problems:
        raise _fail(spec.plugin, "valid config", "; ".join(map(str, problems)))


def check_unknown_setting_refused(config: dict[str, Any], folder: Path) -> None:
    """``config`` with a setting the plugin does not know is refused, naming the setting (a
    misspelt option must not be ignored silently)."""
    spec = _spec(config, folder)
    spec.options = {**spec.options, "no_such_setting": 1}
    problems = validate_source(spec)
    if not any("no_such_setting" in p.place for p in problems):
        raise _fail(spec.plugin, "unknown setting", "a setting the plugin does not know was "
                    f"accepted (problems reported: {problems})")


def check_batches(config: dict[str, Any], folder: Path, expected_rows: int) -> list[Batch]:
    """Extracting from scratch yields batches of ``expected_rows`` rows in total, each with the
    row-number and origin columns and a cursor storable as JSON; returns them."""
    spec = _spec(config, folder)
    src = build_source(spec)
    batches = list(src.extract(None))
    if not batches:
        raise _fail(spec.plugin, "batches", "the prepared data yields no batch")
    total = sum(b.frame.height for b in batches)
    if total != expected_rows:
        raise _fail(spec.plugin, "batches", f"{total} rows extracted, {expected_rows} expected")
    for i, b in enumerate(batches, 1):
        missing = [c for c in (ROW, ORIGIN) if c not in b.frame.columns]
        if missing:
            raise _fail(spec.plugin, "batches", f"batch {i} lacks the column(s) {missing}")
        if not b.table:
            raise _fail(spec.plugin, "batches", f"batch {i} names no table")
        try:
            json.dumps(b.cursor, default=str)
        except (TypeError, ValueError) as e:
            raise _fail(spec.plugin, "batches",
                        f"batch {i}'s cursor cannot be stored as JSON: {e}") from None
    return batches


@dataclass
class SourceRuns:
    """What :func:`check_end_to_end` saw: the first run of the plugin's source and the re-run."""

    first: RunResult
    again: RunResult


def _run(url: str, sources: Sequence[dict[str, Any]], folder: Path,
         ids: list[str] | None = None, observers: bool = False) -> list[RunResult]:
    from warehouse.engine import open_warehouse

    settings = settings_for(sources, folder, url)
    engine = open_warehouse(settings.warehouse_url)
    try:
        # the contract is the plugin's: the installed run observers (KPI rollups) only when
        # asked, as they cost seconds per run on a warehouse thrown away after the test
        runner = build_runner(settings, engine, observers=None if observers else [])
        return runner.run(ids, trigger="manual")
    finally:
        engine.dispose()


def check_end_to_end(config: dict[str, Any], folder: Path, warehouse_url: str,
                     expected_rows: int, prerequisites: Sequence[dict[str, Any]] = (),
                     *, observers: bool = False) -> SourceRuns:
    """Runs ``prerequisites`` (e.g. the division list) and ``config`` into the warehouse at
    ``warehouse_url``: the run succeeds, reads ``expected_rows`` rows, accounts for each
    (loaded, quarantined or duplicate); a re-run of the source inserts and updates nothing.
    ``observers``: attach the installed run observers (``gongzhi.observers``) as the product
    does, to check the plugin's rows pass them too."""
    plugin = str(config.get("plugin", ""))
    sources = [*prerequisites, config]
    results = _run(warehouse_url, sources, folder, observers=observers)
    for r in results:
        if not r.ok:
            raise _fail(plugin, "end to end", f"source {r.source} failed: {r.error}")
    first = next(r for r in results if r.source == config["id"])
    if first.read != expected_rows:
        raise _fail(plugin, "end to end", f"{first.read} rows read, {expected_rows} expected")
    if first.read != first.loaded + first.quarantined + first.duplicates:
        raise _fail(plugin, "end to end", f"rows lost: {first.read} read but {first.loaded} "
                    f"loaded + {first.quarantined} quarantined + {first.duplicates} duplicates")
    [again] = _run(warehouse_url, sources, folder, ids=[config["id"]], observers=observers)
    if not again.ok:
        raise _fail(plugin, "re-run", f"the re-run failed: {again.error}")
    if again.inserted or again.updated:
        raise _fail(plugin, "re-run", f"re-running the same input changed the warehouse "
                    f"({again.inserted} inserted, {again.updated} updated)")
    return SourceRuns(first, again)


def untested_plugins(contracts: Iterable[type], eps: Sequence[EntryPoint] | None = None
                     ) -> list[str]:
    """The names of the ``gongzhi.sources`` entry points (``eps``; default: the installed
    ones) that no class in ``contracts`` runs the kit against (by its ``plugin``)."""
    covered = {getattr(c, "plugin", "") for c in contracts}
    names = [ep.name for ep in (eps if eps is not None else registered(SOURCES))]
    return sorted(n for n in names if n not in covered)
