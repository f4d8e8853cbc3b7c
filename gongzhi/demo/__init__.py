"""``gongzhi demo``: a realistic 樊城区 demo source set, from the real division list and with the
proportions of the seed article, plus a ``gongzhi.toml`` that points at it.

Layout under the output folder::

    gongzhi.toml                    the config (warehouse: sqlite:///warehouse.db)
    sources/divisions/              the official division list (plugin ``divisions``)
    sources/grid/                   grids, event categories, the building register (楼栋),
                                    grid staff with the building heads' buildings (CSV)
    sources/grid_system.db          the grid system's database: events, consultation topics
    sources/population/             residents and households per community and year
    sources/gov/                    item catalogue (XLSX), certificates, cases/ (quarterly CSV)
    sources/volunteer/              register (with personal columns), services/, redemptions
    sources/party/                  party members, deeds, stations
    sources/civic/                  property fees of the old estates
    sources/geo/                    the real district outline and DEMO street, community and grid
                                    polygons synthesised inside it (plugin ``geo``, GCJ-02)
    sources/calendar/               the holiday notices behind 按期 deadlines (config/calendar/)
    sources/README.md               what is where, and the rows planted to be quarantined

People are the seed's at every scale: about a million residents, 3万余名 volunteers and 5000余名
checked-in party members on the article's date (registers grow a little after it), 1,338 grid
workers (895 party members, in 895 of the 984 grids), 2,216 building heads, 262 stations; the
building register (≈ 2,300 buildings) is demo data. ``scale`` sets the volume of cases and grid
events (1 ≈ 150k service cases and 30k grid events over three years; 67 ≈ the benchmark's 10M /
2M); volunteer service records are what the register does (≈ 350k over three years, so that
about a quarter of the volunteers serve in a month) or 30k × ``scale`` when that is more (2M at
67). Rates therefore read like a working district at any scale; at small scales the monthly
samples of cases and events are small and cards may be grey (sample too small). The same
``seed`` and ``end`` give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import shutil
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from core.errors import ConfigError, Problem
from gongzhi.demo import (
    buildings,
    cases,
    civic,
    config,
    geography,
    geometry,
    government,
    grid,
    party,
    volunteer,
)
from gongzhi.demo.common import DemoContext, Planted, SourceEntry, WorkCalendar
from metrics import semantic
from warehouse.schema import data_tables

__all__ = ["Planted", "default_end", "write_demo"]

README = "README.md"
YEARS = 3


def default_end() -> dt.date:
    """Today in Asia/Shanghai: the demo's data runs up to it."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def span(end: dt.date, years: int = YEARS) -> dt.date:
    """The first day of the ``years`` years that end on ``end``."""
    try:
        back = end.replace(year=end.year - years)
    except ValueError:  # 29 February
        back = end.replace(year=end.year - years, day=28)
    return back + dt.timedelta(days=1)


def write_demo(out_dir: Path, *, scale: float = 1.0, seed: int = 2023,
               log: Callable[[str], None] = lambda message: None,
               end: dt.date | None = None) -> Path:
    """Write the demo sources and their config into ``out_dir``; return the config's path.

    A previous demo in the same folder (recognised by its config's header) is replaced,
    warehouse included, so that the runs that follow start clean. A folder holding some other
    config is refused rather than overwritten.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    end = end or default_end()
    start = span(end)
    root = Path(out_dir)
    _reset(root, log)
    cal = WorkCalendar(min(dt.date(2018, 1, 1), dt.date(start.year - 4, 1, 1)),
                       end + dt.timedelta(days=240))
    ctx = DemoContext(root=root, scale=scale, seed=seed, start=start, end=end, cal=cal, log=log)
    log(f"writing the 樊城区 demo into {root} (scale {scale:g}, seed {seed}, "
        f"{start.isoformat()} … {end.isoformat()})")
    if not cal.official:
        log("note: the holiday calendar has no data for part of the span; weekends are used "
            "as rest days there")

    geo, entries = geography.build(ctx)
    entries += geometry.build(ctx, geo)  # before the events: they get a place in their grid
    catalogue, items = government.build_items(ctx)
    entries += [government.build_calendar(ctx), items, cases.build(ctx, geo, catalogue),
                government.build_certificates(ctx)]
    # the building register before the roster: a head's building is checked against it
    lay = buildings.layout(ctx, geo)
    entries += [grid.build_categories(ctx), grid.build_events(ctx, geo),
                buildings.build(ctx, geo, lay), grid.build_staff(ctx, geo, lay)]
    entries += volunteer.build(ctx, geo)
    entries += party.build(ctx, geo)
    entries += civic.build(ctx, geo)
    entries += _declared(ctx, geo)
    _check_shapes(entries)
    _write_readme(ctx, entries)
    _write_key(ctx)
    path = config.write_config(ctx, entries)
    log(f"planted {len(ctx.planted)} bad rows for the quarantine: "
        + ", ".join(sorted({p.reason for p in ctx.planted})))
    log(f"config with {len(entries)} sources → {path}")
    return path


def _declared(ctx: DemoContext, geo: geography.Geography) -> list[SourceEntry]:
    """Sources of the tables whose semantic-layer entry names a demo writer
    (``demo: "module:function"``, called with the context and the geography): a new domain
    brings its demo data without an edit here."""
    out: list[SourceEntry] = []
    for spec in semantic.load().tables.values():
        if spec.demo:
            module, _, func = spec.demo.partition(":")
            out += getattr(importlib.import_module(module), func)(ctx, geo)
    return out


def _check_shapes(entries: list[SourceEntry]) -> None:
    """Every demo source feeds a table of the semantic layer, and the headers it maps name
    columns of that table (or the personal inputs of a people table): a demo writer that
    drifts from the warehouse fails here, not in the first ingest."""
    tables = data_tables()
    problems: list[Problem] = []
    for e in entries:
        if e.table is None:
            continue
        if e.table not in tables or semantic.load().table(e.table) is None:
            problems.append(Problem(f"demo source {e.id}", f"table '{e.table}' is not in the "
                                                           "warehouse's semantic layer"))
            continue
        t = tables[e.table]
        allowed = {c.name for c in t.columns} | (
            {"name", "id_number", "phone"} if t.info.get("personal") else set())
        for header, col in {**e.columns, **{k: k for k in e.defaults}}.items():
            if col not in allowed:
                problems.append(Problem(f"demo source {e.id}", f"'{header}' maps to '{col}', "
                                                               f"not a column of {e.table}"))
    if problems:
        raise ConfigError(problems, header="the demo does not fit the warehouse")


KEY_FILE = ".pseudonym_key"


def _write_key(ctx: DemoContext) -> None:
    """The demo's pseudonym key, in a file beside the config (the config names the file, never
    the key). Derived from the seed: demo data has nothing to hide, and re-runs must give the
    same pseudonyms."""
    key = hashlib.sha256(f"gongzhi-demo-pseudonym-key-{ctx.seed}".encode()).hexdigest()
    path = ctx.root / KEY_FILE
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)


def _reset(root: Path, log: Callable[[str], None]) -> None:
    cfg = root / "gongzhi.toml"
    sources = root / "sources"
    ours = config.is_demo_config(cfg)
    if cfg.exists() and not ours:
        raise ConfigError([Problem(str(cfg), "exists and was not written by `gongzhi demo`; "
                                             "choose another --dir")])
    if sources.exists() and any(sources.iterdir()) and not (sources / README).exists():
        raise ConfigError([Problem(str(sources), "holds files that `gongzhi demo` did not "
                                                 "write; choose another --dir")])
    if sources.exists():
        shutil.rmtree(sources)
    if ours:
        old = sorted(root.glob("warehouse.db*"))
        for p in old:
            p.unlink()
        if old:
            log(f"replaced the previous demo in {root} (sources and warehouse)")
    root.mkdir(parents=True, exist_ok=True)


def _write_readme(ctx: DemoContext, entries: list[SourceEntry]) -> None:
    lines = [
        "# 樊城区 demo sources",
        "",
        f"Written by `gongzhi demo` (seed {ctx.seed}, scale {ctx.scale:g}, data "
        f"{ctx.start.isoformat()} … {ctx.end.isoformat()}). Everything here is made up with the",
        "proportions of the seed article over the official division list; `gongzhi.toml` next",
        "to this folder says how each source is read.",
        "",
        "## Sources",
        "",
    ]
    for e in entries:
        where = e.options.get("path") or e.options.get("url")
        lines.append(f"- `{e.id}` ({e.plugin} → {e.table or 'divisions'}): {where}"
                     + (f" — {e.comment}" if e.comment else ""))
    lines += ["", "## Rows planted for the quarantine", ""]
    for p in ctx.planted:
        lines.append(f"- `{p.source}` {p.file}: {p.reason} ({p.what})")
    lines += ["", "The volunteer register's 姓名, 身份证号 and 手机号 are mapped: ingestion masks",
              "names and phones and pseudonymises ID numbers (keyed hash) before anything is",
              "stored. Its two ID numbers with a wrong check digit are quarantined",
              "(invalid_id_number, listed above), shown masked, never stored in clear.",
              "", "The grid staff roster's 姓名 and 联系电话 (grid workers and building heads) are",
              "mapped too and stored masked only."]
    (ctx.sources / README).write_text("\n".join(lines) + "\n", encoding="utf-8")
