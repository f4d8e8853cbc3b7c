"""The map's figures (metrics.geo): a KPI by area equals `gongzhi kpi --format json`, ranks
follow the values, polygons are only the viewer's own and small enough to send, and event
hexagons count exactly the events of the period (checked against the source database)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from gongzhi.cli import cli
from gongzhi.demo import write_demo
from ingest.registry import load_validated
from ingest.runner import Runner
from metrics import geo
from metrics.access import AccessDenied, Viewer, leader
from metrics.compiler import Scope
from metrics.periods import parse
from metrics.service import Metrics
from warehouse.engine import open_warehouse

END = dt.date(2025, 6, 30)
PERIOD = "2024"
DISTRICT, HANJIANG = "420606000000", "420606001000"
SOURCES = ["divisions", "grids", "geo_district", "geo_street", "geo_community", "geo_grid",
           "grid_events"]
KPI = "grid.closure_rate"  # higher is better, with a target at every level


@dataclass
class World:
    root: Path
    config: Path
    metrics: Metrics


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("geo_world")
    config = write_demo(root, scale=0.3, seed=11, end=END)
    settings = load_validated(config)
    engine = open_warehouse(settings.warehouse_url)
    results = Runner(settings, engine).run(SOURCES)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    yield World(root, config, Metrics(engine))
    engine.dispose()


def cli_rows(config: Path, *args: str) -> dict[str, dict]:
    res = CliRunner().invoke(cli, ["--config", str(config), "kpi", "--kpi", KPI, "--period",
                                   PERIOD, "--format", "json", *args])
    assert res.exit_code == 0, res.output
    return {r["key"]: r for r in json.loads(res.output)}


def expected_ranks(rows: dict[str, dict]) -> dict[str, int]:
    """Competition ranking, best (highest) first, computed here from the CLI's values."""
    values = sorted((r["value"] for r in rows.values() if r["value"] is not None), reverse=True)
    return {k: 1 + sum(v > r["value"] for v in values)
            for k, r in rows.items() if r["value"] is not None}


@pytest.mark.parametrize(("scope_args", "scope", "level"), [
    ((), Scope("district", DISTRICT), "street"),
    ((), Scope("district", DISTRICT), "grid"),
    (("--street", HANJIANG), Scope("street", HANJIANG), "community"),
])
def test_choropleth_values_equal_gongzhi_kpi(world: World, scope_args: tuple[str, ...],
                                             scope: Scope, level: str) -> None:
    want = cli_rows(world.config, *scope_args, "--by", level)
    got = geo.choropleth(world.metrics, KPI, scope, parse(PERIOD), level)
    assert set(got["key"]) == set(want)
    ranks = expected_ranks(want)
    coloured = 0
    for r in got.iter_rows(named=True):
        w = want[r["key"]]
        assert r["value"] == pytest.approx(w["value"]) if w["value"] is not None \
            else r["value"] is None
        assert (r["target"], r["status"], r["sample"]) == (w["target"], w["status"],
                                                           w["sample"])
        assert r["rank"] == ranks.get(r["key"]) and r["ranked"] == len(ranks)
        coloured += r["status"] is not None
    if level != "grid":  # a grid's year is too small a sample for a colour at this scale
        assert coloured > 0  # the test sees status colours, not only grey


def test_a_map_level_must_lie_below_the_scope(world: World) -> None:
    with pytest.raises(ValueError, match="street map colours community, grid"):
        geo.choropleth(world.metrics, KPI, Scope("street", HANJIANG), parse(PERIOD), "street")


def test_staff_get_only_their_own_polygons(world: World) -> None:
    eng = world.metrics.engine
    staff = Viewer("s1", "street_staff", HANJIANG)
    with pytest.raises(AccessDenied):
        geo.shapes(eng, Scope("district", DISTRICT), "community", viewer=staff)
    with pytest.raises(AccessDenied):
        geo.shapes(eng, Scope("street", "420606002000"), "community", viewer=staff)
    mine = geo.shapes(eng, Scope("street", HANJIANG), "grid", viewer=staff)
    divs = world.metrics.divisions()
    grids = set(divs.filter((pl.col("level") == "grid")
                            & pl.col("code").str.starts_with(HANJIANG[:9]))["code"])
    assert {s["key"] for s in mine} == grids and grids
    comm = next(iter(sorted(s for s in grids)))[:12]
    cstaff = Viewer("c1", "community_staff", comm)
    theirs = geo.shapes(eng, Scope("community", comm), "grid", viewer=cstaff)
    assert theirs and all(s["key"].startswith(comm) for s in theirs)
    with pytest.raises(AccessDenied):
        geo.choropleth(world.metrics, KPI, Scope("street", HANJIANG), parse(PERIOD),
                       "community", viewer=cstaff)


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace: positive when the ring runs anticlockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)) / 2


def test_984_grid_polygons_fit_in_a_megabyte(world: World) -> None:
    shapes = geo.shapes(world.metrics.engine, Scope("district", DISTRICT), "grid",
                        viewer=leader(DISTRICT), width_px=760)
    assert len(shapes) == 984
    size = len(json.dumps(shapes, ensure_ascii=False).encode())
    assert size <= 1_000_000, size
    print(f"984 grid polygons at 760 px: {size:,} bytes")
    import shapely
    from shapely.geometry import shape

    from warehouse.tables.geometries import latest

    # simplified by under a pixel: each shape moves at most the tolerance (+ 1 m rounding),
    # so its area changes by at most perimeter × that distance
    tol = geo.tolerance(geo.bbox_of(shapes) or (0, 0, 1, 1), 760) + 1e-5
    full = {r["code"]: shape(r["geometry"]) for r in latest(world.metrics.engine, "grid")}
    for s in shapes:
        g, f = shape(s["geometry"]), full[s["key"]]
        assert not g.is_empty
        # d3-geo in the browser wants exterior rings clockwise (else it fills the globe)
        polys = s["geometry"]["coordinates"] if s["geometry"]["type"] == "MultiPolygon" \
            else [s["geometry"]["coordinates"]]
        for rings in polys:
            assert [_signed_area(r) < 0 for r in rings] == [True] + [False] * (len(rings) - 1)
        assert shapely.hausdorff_distance(g, f) <= tol * 1.01
        assert abs(g.area - f.area) <= f.length * tol
        assert s["bbox"] == pytest.approx(g.bounds)  # each shape's own box, read by bbox_of
    # the map's box from the shapes' boxes equals the box of their geometries (shapely)
    whole = shapely.total_bounds([shape(s["geometry"]) for s in shapes])
    assert geo.bbox_of(shapes) == pytest.approx(tuple(whole))
    assert geo.bbox_of([{"geometry": s["geometry"]} for s in shapes]) == pytest.approx(
        tuple(whole))


def test_hex_bins_count_the_periods_events(world: World) -> None:
    grid = geo.HexGrid(radius=0.004, lat0=32.05)
    bins = geo.hex_bins(world.metrics.engine, Scope("street", HANJIANG), parse(PERIOD), grid)
    # independent: the grid system's own table, local report times; rows the ingestion
    # quarantined (a grid not in the list, no report time) are left out; each event placed
    # by shapely in the regular hexagon (on the ground at 32.05°) around a returned centre
    import shapely
    from shapely.geometry import Point, Polygon

    with sqlite3.connect(world.root / "sources" / "grid_system.db") as c:
        rows = c.execute("SELECT WGBM, SBSJ, JD, WD FROM WG_SJXX").fetchall()
    grids = set(world.metrics.divisions().filter(pl.col("level") == "grid")["code"])
    kx = math.cos(math.radians(32.05))
    hexes = [Polygon([(lon + 0.004 * math.sin(math.radians(60 * j)) / kx,
                       lat + 0.004 * math.cos(math.radians(60 * j))) for j in range(6)])
             for lon, lat in zip(bins["lon"], bins["lat"], strict=True)]
    tree = shapely.STRtree(hexes)
    want = [0] * len(hexes)
    events = 0
    for grid_code, reported, lon, lat in rows:
        if (grid_code in grids and grid_code.startswith(HANJIANG[:9]) and reported
                and reported.startswith(PERIOD) and lon is not None):
            events += 1
            inside = tree.query(Point(lon, lat), predicate="within")
            assert len(inside) == 1, (lon, lat, inside)  # in exactly one returned hexagon
            want[int(inside[0])] += 1
    assert bins["events"].to_list() == want and events > 100
    assert all(n > 0 for n in want)  # only hexagons holding events are sent
    # neighbouring hexagons share an edge: their centres lie √3·r apart on the ground
    ground = sorted(math.hypot((a[0] - b[0]) * kx, a[1] - b[1])
                    for a in zip(bins["lon"], bins["lat"], strict=True)
                    for b in zip(bins["lon"], bins["lat"], strict=True) if a != b)
    assert ground[0] == pytest.approx(math.sqrt(3) * 0.004, rel=1e-6)
