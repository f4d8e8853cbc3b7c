"""The demo's geography: the official division list, 984 grids over the real communities, and
residents and households per community and year.

Grids come "from the grid system" as their own list, since the official code list stops at the
community level; their codes follow the glossary: the community's 12 digits plus 3.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from gongzhi.demo.common import DemoContext, SourceEntry, allocate, write_csv
from ingest.plugins.divisions import short_name

DIVISIONS_CSV = (Path(__file__).resolve().parents[2] / "config" / "divisions"
                 / "fancheng_divisions_2023.csv")
GRIDS = 984  # seed: 优化设置984个小区网格
RESIDENTS = 1_050_000
URBAN_TYPES = ("社区居委会", "居委会")
PLACEHOLDER_TYPES = ("虚拟社区",)


@dataclass
class Geography:
    """Real communities (placeholders left out), their grids and their people.

    Community arrays are aligned by position; ``grid_community`` gives each grid's community
    position, so facts can pick a grid and know its community without a join.
    """

    codes: np.ndarray  # community codes (str)
    names: np.ndarray  # short names: 高庄社区, 竹条村
    street: np.ndarray  # street code of each community
    urban: np.ndarray  # bool: 社区 (urban) rather than 村
    residents: np.ndarray  # latest year
    households: np.ndarray  # latest year
    grid_codes: np.ndarray
    grid_community: np.ndarray
    grid_households: np.ndarray
    # WGS84 positions inside each grid (grids × k × 2), set once the demo geometry is drawn
    grid_points: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.codes)

    def index_of(self, name: str) -> int:
        return int(np.flatnonzero(self.names == name)[0])


def build(ctx: DemoContext) -> tuple[Geography, list[SourceEntry]]:
    """Copy the division list, write the grid list and the population table."""
    src = DIVISIONS_CSV
    if not src.exists():
        raise FileNotFoundError(f"the official division list is missing: {src}")
    dest = ctx.sources / "divisions" / src.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)

    divs = pl.read_csv(src, infer_schema=False)
    comm = divs.filter(pl.col("level") == "5")
    real = comm.filter(~pl.col("unit_type").is_in(list(PLACEHOLDER_TYPES)))
    streets = divs.filter(pl.col("level") == "4").height
    ctx.log(f"divisions: 1 district, {streets} streets/towns, {comm.height} village-level units "
            f"({comm.height - real.height} 虚拟社区 placeholders left out of the facts)")

    codes = real["code12"].to_numpy().astype(str)
    names = np.array([short_name(n, u, p) for n, u, p in real.select(
        "name", "unit_type", "parent_name").iter_rows()])
    urban = real["unit_type"].is_in(list(URBAN_TYPES)).to_numpy()
    street = real["parent_code12"].to_numpy().astype(str)

    rng = ctx.rng("geography")
    # Urban communities hold several residential compounds each; villages one or two grids.
    size = np.where(urban, rng.lognormal(np.log(6.0), 0.35, len(codes)),
                    rng.lognormal(np.log(2.0), 0.3, len(codes)))
    per_comm = allocate(GRIDS, size, minimum=1)
    grid_comm = np.repeat(np.arange(len(codes)), per_comm)
    grid_no = np.concatenate([np.arange(1, k + 1) for k in per_comm])
    grid_codes = np.array([f"{codes[c]}{k:03d}" for c, k in zip(grid_comm, grid_no, strict=True)])
    grid_hh = np.where(urban[grid_comm], rng.integers(300, 501, GRIDS),
                       rng.integers(180, 360, GRIDS))
    households = np.bincount(grid_comm, weights=grid_hh, minlength=len(codes))
    per_head = rng.uniform(2.45, 2.85, len(codes))
    residents = households * per_head
    residents = np.round(residents * RESIDENTS / residents.sum()).astype(np.int64)
    households = np.round(residents / per_head).astype(np.int64)
    geo = Geography(codes, names, street, urban, residents, households, grid_codes, grid_comm,
                    grid_hh)

    entries = [
        SourceEntry("divisions", "divisions", None, {"path": ctx.rel(dest)},
                    comment="official 统计用区划代码 list (NBS 2023 vintage)"),
        _write_grids(ctx, geo, grid_no),
        _write_population(ctx, geo),
    ]
    return geo, entries


def _write_grids(ctx: DemoContext, geo: Geography, grid_no: np.ndarray) -> SourceEntry:
    comm = geo.grid_community
    frame = pl.DataFrame({
        "网格编码": geo.grid_codes,
        "网格名称": [f"{geo.names[c]}第{k}网格" for c, k in zip(comm, grid_no, strict=True)],
        "所属社区编码": geo.codes[comm],
        "所属社区": geo.names[comm],
        "网格类型": np.where(geo.urban[comm], "小区网格", "村组网格"),
        "户数": geo.grid_households.astype(str),
    })
    path = write_csv(ctx.sources / "grid" / "grids.csv", frame)
    ctx.log(f"grids: {len(geo.grid_codes)} over {geo.n} communities "
            f"({int(geo.urban.sum())} urban 社区, {int((~geo.urban).sum())} 村) → {ctx.rel(path)}")
    return SourceEntry(
        "grids", "files", "divisions", {"path": ctx.rel(path)},
        columns={"网格编码": "code", "网格名称": "name", "所属社区编码": "parent_code",
                 "网格类型": "unit_type"},
        defaults={"level": "grid"},
        comment="the grid system's own grid list (the official list stops at communities)")


def _write_population(ctx: DemoContext, geo: Geography) -> SourceEntry:
    rng = ctx.rng("population")
    years = list(range(ctx.start.year, ctx.end.year + 1))
    rows: dict[str, list[np.ndarray]] = {"社区编码": [], "年份": [], "常住人口": [], "户数": []}
    for y in years:
        back = ctx.end.year - y  # about 0.8 % growth a year up to the latest figures
        factor = (1 - 0.008) ** back * rng.normal(1.0, 0.004, geo.n)
        res = np.round(geo.residents * factor).astype(np.int64)
        hh = np.round(geo.households * factor * rng.normal(1.0, 0.003, geo.n)).astype(np.int64)
        rows["社区编码"].append(geo.codes)
        rows["年份"].append(np.full(geo.n, str(y)))
        rows["常住人口"].append(res.astype(str))
        rows["户数"].append(hh.astype(str))
    frame = pl.DataFrame({k: np.concatenate(v) for k, v in rows.items()})
    path = write_csv(ctx.sources / "population" / "population.csv", frame)
    ctx.log(f"population: {geo.n} communities × {len(years)} years, latest "
            f"{int(geo.residents.sum()):,} residents / {int(geo.households.sum()):,} households "
            f"→ {ctx.rel(path)}")
    return SourceEntry("population", "files", "population", {"path": ctx.rel(path)},
                       columns={"社区编码": "community_code", "年份": "year",
                                "常住人口": "residents", "户数": "households"},
                       comment="常住人口 and 户数 per community and year")
