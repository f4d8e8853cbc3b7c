"""Plugin registry: every plugin, built-in or third-party, loads from the entry-point group
``gongzhi.sources``. A plugin that fails to import is recorded and reported, never fatal.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError, Problem
from core.settings import Settings, SourceSpec
from ingest.contract import PluginConfig, Source, SourceContext
from ingest.extensions import SOURCES
from warehouse.schema import data_tables

GROUP = SOURCES.group


@dataclass
class BrokenPlugin:
    """A plugin whose entry point could not be loaded, with the reason."""

    name: str
    target: str
    error: str


@dataclass
class Registry:
    """Loaded plugins by name, plus the ones that failed to load."""

    plugins: dict[str, type[Source]] = field(default_factory=dict)
    broken: dict[str, BrokenPlugin] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> type[Source]:
        if name in self.plugins:
            return self.plugins[name]
        if name in self.broken:
            raise ConfigError([Problem("", f"plugin '{name}' failed to load: "
                                           f"{self.broken[name].error}")])
        raise ConfigError([Problem("", f"no plugin named '{name}'")])


def load_registry(eps: list[EntryPoint] | None = None) -> Registry:
    """Load every plugin of the entry-point group; broken ones are kept aside with the error."""
    reg = Registry()
    for ep in eps if eps is not None else list(entry_points(group=GROUP)):
        if ep.name in reg.plugins:
            continue  # the first distribution on the path wins, as Python's import does
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Source)):
                raise TypeError(f"{ep.value} is not a subclass of ingest.contract.Source")
        except Exception as e:
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            reg.broken[ep.name] = BrokenPlugin(ep.name, ep.value, last)
            continue
        reg.plugins[ep.name] = cls
        reg.origins[ep.name] = ep.value
    return reg


_REGISTRY: Registry | None = None


def registry(refresh: bool = False) -> Registry:
    """The process-wide registry, loaded once."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        _REGISTRY = load_registry()
    return _REGISTRY


def validate_source(spec: SourceSpec, reg: Registry | None = None) -> list[Problem]:
    """Plugin-specific checks of one source; every problem is returned, none raised."""
    reg = reg or registry()
    place = spec.place
    cls = reg.plugins.get(spec.plugin)
    if cls is None:
        if spec.plugin in reg.broken:
            return [Problem(place, f"plugin '{spec.plugin}' failed to load: "
                                   f"{reg.broken[spec.plugin].error}")]
        known = ", ".join(sorted(reg.plugins)) or "none"
        return [Problem(place, f"unknown plugin '{spec.plugin}' (installed: {known})")]

    problems: list[Problem] = []
    tables = data_tables()
    if spec.table is None and cls.needs_table:
        problems.append(Problem(place, "'table' is required for this plugin"))
    if spec.table is not None:
        if spec.table not in tables:
            problems.append(Problem(place, f"unknown table '{spec.table}' "
                                           f"(tables: {', '.join(sorted(tables))})"))
        elif cls.tables is not None and spec.table not in cls.tables:
            problems.append(Problem(place, f"plugin '{spec.plugin}' cannot feed '{spec.table}' "
                                           f"(it feeds {', '.join(cls.tables)})"))
    targets = [spec.table] if spec.table in tables else []
    if targets:
        allowed = {c.name for c in tables[targets[0]].columns if not c.name.startswith("_")}
        if tables[targets[0]].info.get("personal"):
            allowed |= {"name", "id_number", "phone"}  # inputs, stored masked or hashed
        for header, canonical in spec.columns.items():
            if canonical not in allowed:
                problems.append(Problem(f"{place} columns.{header}",
                                        f"'{canonical}' is not a column of {targets[0]}"))
        for col in spec.defaults:
            if col not in allowed:
                problems.append(Problem(f"{place} defaults.{col}",
                                        f"'{col}' is not a column of {targets[0]}"))
        problems += _check_formats(spec, tables[targets[0]])
    try:
        cls.Config(**spec.options)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(settings)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown setting for this plugin"
            problems.append(Problem(f"{place} {loc}", msg))
    return problems


def _check_formats(spec: SourceSpec, table: Any) -> list[Problem]:
    """``[sources.formats]``: date or time columns of the table, each with a format polars can
    use, or ``excel_serial``."""
    import datetime as dt

    import polars as pl
    from sqlalchemy import Date, DateTime

    from ingest.normalize.values import EXCEL_SERIAL

    out = []
    for col, fmt in spec.formats.items():
        place = f"{spec.place} formats.{col}"
        if col not in table.c or not isinstance(table.c[col].type, Date | DateTime):
            out.append(Problem(place, f"'{col}' is not a date or time column of {table.name}"))
        elif fmt != EXCEL_SERIAL:
            # round trip: a format that cannot write and read back a day is not a date format
            sample = pl.Series([dt.datetime(2023, 8, 14, 21, 30, 15, tzinfo=dt.UTC)])
            try:
                back = sample.dt.strftime(fmt).str.to_datetime(fmt, strict=False)
                ok = back.dt.date().to_list() == [dt.date(2023, 8, 14)]
            except Exception:
                ok = False
            if not ok:
                out.append(Problem(place, f"{fmt!r} is not a date format (strptime syntax, "
                                          "e.g. \"%d/%m/%Y %H:%M\"), nor \"excel_serial\""))
    return out


def build_source(spec: SourceSpec, ctx: SourceContext | None = None,
                 reg: Registry | None = None) -> Source:
    """Instantiate the plugin of an already validated source."""
    reg = reg or registry()
    cls = reg.get(spec.plugin)
    config: PluginConfig = cls.Config(**spec.options)
    return cls(spec, config, ctx)


def load_validated(path: Any = None, kpi_ids: Any = None) -> Settings:
    """Load the config with the plugin checks included in the same report (and the alert
    rules' KPI ids checked against ``kpi_ids``, the catalogue's ids, when given)."""
    from core.settings import load_settings

    reg = registry()
    return load_settings(path, validate_source=lambda s: validate_source(s, reg),
                         kpi_ids=kpi_ids)
