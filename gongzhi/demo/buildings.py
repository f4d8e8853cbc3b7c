"""楼栋: the grid system's building register, the fifth level of 五级双线 (demo data).

The article gives the heads, not the buildings: 推选2200余名…党员、群众骨干担任楼栋长(单元长)
(:data:`BUILDING_HEADS`, written by :func:`gongzhi.demo.grid.build_staff` as grid staff with
the building each looks after). The register itself is demo data: each grid's households (the
latest population year's, shared out over the community's grids in proportion to the grid
list's 户数) are split into buildings of about :data:`URBAN_BUILDING` households in a 小区网格
(a high-rise of several units) and :data:`VILLAGE_GROUP` in a 村组网格 (a 村民小组, listed the
same way). About nine buildings in ten have a head; the largest covered ones get a second
(单元长), so that the heads add up to the article's figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from gongzhi.demo.common import DemoContext, SourceEntry, allocate, pick, write_csv
from gongzhi.demo.geography import Geography

BUILDING_HEADS = 2216  # seed: 2200余名楼栋长(单元长)
URBAN_BUILDING = 175  # households in a building of a 小区网格 (demo)
VILLAGE_GROUP = 140  # households in a 村民小组 of a 村组网格 (demo)
COVERED = {True: 0.95, False: 0.75}  # share of buildings with a head, urban / village (demo)


@dataclass(frozen=True)
class Layout:
    """The register: per building its grid (index into ``geo.grid_codes``), code, name and
    households; per head post the building it looks after (index into the register)."""

    grid: np.ndarray
    codes: np.ndarray
    names: np.ndarray
    households: np.ndarray
    heads: np.ndarray  # building index of each of the BUILDING_HEADS heads


def grid_households(geo: Geography) -> np.ndarray:
    """Each grid's households in the latest year: its community's population figure shared
    out in proportion to the grid list's 户数 (so the register adds up to the population)."""
    out = np.zeros(len(geo.grid_codes), dtype=np.int64)
    for c in range(geo.n):
        idx = np.flatnonzero(geo.grid_community == c)
        if len(idx):
            out[idx] = allocate(int(geo.households[c]), geo.grid_households[idx].astype(float))
    return out


def layout(ctx: DemoContext, geo: Geography) -> Layout:
    """The building register and the head posts (the same for every call with one seed)."""
    rng = ctx.rng("buildings")
    hh = grid_households(geo)
    urban = geo.urban[geo.grid_community]
    size = np.where(urban, URBAN_BUILDING, VILLAGE_GROUP)
    per_grid = np.maximum(1, np.round(hh / size)).astype(np.int64)
    grid = np.repeat(np.arange(len(hh)), per_grid)
    number = np.concatenate([np.arange(1, k + 1) for k in per_grid])
    households = np.concatenate([
        allocate(int(h), rng.uniform(0.6, 1.4, k)) for h, k in zip(hh, per_grid, strict=True)])
    b_urban = urban[grid]
    covered = np.flatnonzero(rng.random(len(grid)) < np.where(b_urban, COVERED[True],
                                                              COVERED[False]))
    if len(covered) > BUILDING_HEADS:
        covered = np.sort(rng.choice(covered, BUILDING_HEADS, replace=False))
    # the remaining posts are second heads (单元长) of the largest covered urban buildings
    big = covered[b_urban[covered]]
    big = big[np.argsort(-households[big], kind="stable")][:BUILDING_HEADS - len(covered)]
    heads = np.sort(np.concatenate([covered, big]))
    names = np.where(b_urban,
                     np.char.add(number.astype(str), "栋"),
                     np.char.add(np.char.add("第", number.astype(str)), "村民小组"))
    codes = np.char.add(geo.grid_codes[grid].astype(str),
                        np.char.zfill(number.astype(str), 3))
    return Layout(grid, codes, names, households, heads)


def build(ctx: DemoContext, geo: Geography, lay: Layout) -> SourceEntry:
    """Write the building register ``lay`` (:func:`layout`) as the grid system exports it."""
    frame = pl.DataFrame({
        "楼栋编码": lay.codes,
        "所属网格": pick(geo.grid_codes, lay.grid),
        "楼栋名称": lay.names,
        "户数": lay.households.astype(str),
    })
    frame = _plant(ctx, frame)
    path = write_csv(ctx.sources / "grid" / "buildings.csv", frame)
    covered = len(np.unique(lay.heads))
    ctx.log(f"buildings: {len(lay.codes):,} buildings, {int(lay.households.sum()):,} households, "
            f"{covered:,} with a head ({covered / len(lay.codes):.1%}), {len(lay.heads):,} "
            f"building heads → {ctx.rel(path)}")
    return SourceEntry("buildings", "files", "buildings", {"path": ctx.rel(path)},
                       columns={"楼栋编码": "building_code", "所属网格": "grid_code",
                                "楼栋名称": "name", "户数": "households"},
                       comment="楼栋 register of the grid system (the fifth level of 五级双线)")


def _plant(ctx: DemoContext, frame: pl.DataFrame) -> pl.DataFrame:
    """Two bad rows for the quarantine, after the good ones: a building whose grid is not in
    the grid list, and one whose code lies in another grid than the one it names."""
    first = frame.row(0, named=True)
    other = frame.filter(pl.col("所属网格") != first["所属网格"]).row(0, named=True)
    bad = pl.DataFrame({
        "楼栋编码": [f"{first['所属网格'][:12]}999001", f"{first['所属网格']}998"],
        "所属网格": [f"{first['所属网格'][:12]}999", other["所属网格"]],
        "楼栋名称": ["1栋", "998栋"],
        "户数": ["120", "80"],
    })
    where = ctx.rel(ctx.sources / "grid" / "buildings.csv")
    ctx.plant_at("buildings", where, "unknown_grid", f"所属网格 {bad['所属网格'][0]}")
    ctx.plant_at("buildings", where, "outside_area", f"楼栋编码 {bad['楼栋编码'][1]}")
    return pl.concat([frame, bad])
