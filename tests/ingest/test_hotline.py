"""12345 work orders through the real runner: Chinese headers mapped by ``[sources.columns]``,
the platform's words for channels, verdicts and satisfaction (满意 3 / 基本满意 2 / 不满意 1), and
free text whose ID and mobile numbers are masked before storage — in the warehouse and in the
quarantine alike (the file's bytes are searched, not only the rows)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ingest.registry import load_validated
from ingest.runner import Runner
from tests.conftest import divisions_source, write_config
from warehouse.engine import open_warehouse
from warehouse.schema import data_tables, quarantine

MOBILE = "13812348000"
ID18 = "42060619900101123X"
HEADER = ("工单编号,所属社区,诉求类别,来源渠道,受理时间,首次响应时间,办结时间,是否解决,满意度,"
          "是否重办,诉求标题,诉求内容")
ROWS = [
    f"GD1,420606001001,物业管理,12345热线,2024-05-02 09:00,2024-05-02 10:00,2024-05-05 09:00,"
    f"已解决,满意,否,电梯故障 {MOBILE},诉求人反映电梯坏了，联系电话{MOBILE}，身份证{ID18}",
    "GD2,420606001001,环境保护,微信公众号,2024-05-03 09:00,,2024-05-06 09:00,未解决,基本满意,是,"
    "噪音,夜间施工",
    "GD3,,城乡建设,政府网站,2024-05-04 09:00,,,,不满意,,道路,路面破损",  # no community
    "GD4,420606001002,其他,手机APP,2024-05-05 09:00,,,,2,,咨询,咨询政策",
    # quarantined: a satisfaction outside 满意 / 基本满意 / 不满意; its text is kept masked
    f"GD5,420606001001,其他,其他,2024-05-06 09:00,,,,很好,,回访,联系电话 {MOBILE}",
]
COLUMNS = {"工单编号": "request_id", "所属社区": "community_code", "诉求类别": "category",
           "来源渠道": "channel", "受理时间": "received_at", "首次响应时间": "responded_at",
           "办结时间": "closed_at", "是否解决": "resolved", "满意度": "satisfaction",
           "是否重办": "reopened", "诉求标题": "title", "诉求内容": "content"}


def test_work_orders_load_with_their_words_and_personal_numbers_masked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "orders.csv").write_text("\n".join([HEADER, *ROWS]) + "\n",
                                                encoding="utf-8")
    cfg = write_config(tmp_path, url, [
        divisions_source(),
        {"id": "hotline", "plugin": "files", "table": "hotline_requests", "path": "in/*.csv",
         "columns": COLUMNS}])
    settings = load_validated(cfg)
    engine = open_warehouse(url)
    results = {r.source: r for r in Runner(settings, engine).run()}
    r = results["hotline"]
    assert r.ok and (r.read, r.loaded, r.quarantined) == (5, 4, 1)
    table = data_tables()["hotline_requests"]
    with engine.connect() as c:
        rows = {x.request_id: x for x in c.execute(select(table))}
        q = c.execute(select(quarantine)).one()
    assert [rows[k].satisfaction for k in ("GD1", "GD2", "GD3", "GD4")] == [3, 2, 1, 2]
    assert [rows[k].channel for k in ("GD1", "GD2", "GD3", "GD4")] == [
        "phone", "wechat", "web", "app"]
    assert [rows[k].resolved for k in ("GD1", "GD2", "GD3", "GD4")] == [True, False, None, None]
    assert [rows[k].reopened for k in ("GD1", "GD2", "GD3", "GD4")] == [False, True, False, False]
    assert rows["GD3"].community_code is None and rows["GD3"].closed_at is None
    assert rows["GD1"].title == "电梯故障 138****8000"
    assert rows["GD1"].content == ("诉求人反映电梯坏了，联系电话138****8000，"
                                   "身份证420***********123X")
    assert (q.column_name, q.reason) == ("satisfaction", "bad_number")
    assert "满意度 (satisfaction): '很好'" in q.message
    assert "138****8000" in q.raw and MOBILE not in q.raw
    engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("w*.db*"))
    assert MOBILE.encode() not in stored and ID18.encode() not in stored


# grids of the grid list below: two of 高庄社区 (汉江街道), one of 施营社区 (王寨街道)
GRIDS = {"420606001001001": "420606001001", "420606001001002": "420606001001",
         "420606002001001": "420606002001"}
GRID_HEADER = "工单编号,所属社区,所属网格,来源渠道,受理时间"
GRID_ROWS = [  # (request, community, grid): the row of the file is its index + 2
    ("G1", "", "420606001001001"),               # grid only: filed in 高庄社区
    ("G2", "420606001002", ""),                  # community only
    ("G3", "420606001001", "420606001001002"),   # both, the grid in the community
    ("G4", "420606001002", "420606001001001"),   # both, the grid in another community
    ("G5", "", "420606001001999"),               # a grid the grid list does not have
    ("G6", "", "420606002001001"),               # grid only, another street
    ("G7", "", ""),                              # neither: the district's only
    ("G8", "420606002001", "420606002001001"),   # both, consistent
]


def _grid_sources(folder: Path, rows: list[tuple[str, str, str]]) -> list[dict[str, object]]:
    (folder / "grids").mkdir(exist_ok=True)
    (folder / "grids" / "grids.csv").write_text(
        "code,name,parent_code\n" + "".join(f"{g},网格{i},{c}\n" for i, (g, c)
                                            in enumerate(GRIDS.items())), encoding="utf-8")
    (folder / "orders").mkdir(exist_ok=True)
    (folder / "orders" / "orders.csv").write_text("\n".join(
        [GRID_HEADER, *(f"{r},{c},{g},电话,2024-05-0{i % 9 + 1} 09:00"
                        for i, (r, c, g) in enumerate(rows))]) + "\n", encoding="utf-8")
    return [divisions_source(),
            {"id": "grids", "plugin": "files", "table": "divisions", "path": "grids/*.csv",
             "defaults": {"level": "grid"}},
            {"id": "orders", "plugin": "files", "table": "hotline_requests",
             "path": "orders/*.csv", "columns": {"所属社区": "community_code",
                                                 "所属网格": "grid_code"} | COLUMNS}]


def test_requests_may_name_their_grid_and_count_in_its_community(
        tmp_path: Path, warehouse_url: str, run_sources) -> None:
    """A request names its grid, its community or both: with a grid only it is filed in the
    grid's community; a grid outside the community the row names, or not in the grid list, is
    quarantined naming the column. Figures by community count every loaded row in its
    community, counted here from the input rows."""
    from metrics import periods
    from metrics.catalog import load_catalog
    from metrics.service import Metrics
    from warehouse import runlog

    results = run_sources(warehouse_url, _grid_sources(tmp_path, GRID_ROWS))
    r = results[2]
    assert r.ok and (r.read, r.loaded, r.quarantined) == (8, 6, 2)
    table = data_tables()["hotline_requests"]
    engine = open_warehouse(warehouse_url)
    with engine.connect() as c:
        stored = {x.request_id: (x.community_code, x.grid_code) for x in c.execute(select(table))}
    assert stored == {
        "G1": ("420606001001", "420606001001001"), "G2": ("420606001002", None),
        "G3": ("420606001001", "420606001001002"), "G6": ("420606002001", "420606002001001"),
        "G7": (None, None), "G8": ("420606002001", "420606002001001")}
    q = sorted((x["row_number"], x["column_name"], x["reason"], x["message"])
               for x in runlog.list_quarantine(engine, source="orders"))
    assert [(row, col, reason) for row, col, reason, _m in q] == [
        (5, "grid_code", "outside_area"), (6, "grid_code", "unknown_grid")]
    assert "420606001001001" in q[0][3] and "community_code" in q[0][3]
    assert "所属网格 (grid_code)" in q[1][3] and "420606001001999" in q[1][3]

    # independent count: the community the row names, else its grid's first 12 digits; rows
    # whose grid is unknown or lies elsewhere are not counted anywhere
    expected: dict[str, int] = {}
    for rid, community, grid in GRID_ROWS:
        if rid in ("G4", "G5") or not (community or grid):
            continue
        key = community or grid[:12]
        expected[key] = expected.get(key, 0) + 1
    m = Metrics(engine, load_catalog())
    may = periods.parse("2024-05")
    got = m.compute(["hotline.requests"], m.district(), may, "community")
    assert {k: int(v) for k, v in zip(got["key"], got["value"], strict=True)} == expected
    district = m.compute(["hotline.requests"], m.district(), may).row(0, named=True)
    assert district["value"] == sum(expected.values()) + 1  # G7 counts for the district only
    street = m.compute(["hotline.requests"], m.scope("street", "420606002000"), may)
    assert street.row(0, named=True)["value"] == sum(
        v for k, v in expected.items() if k.startswith("420606002"))
    engine.dispose()

    # the grid list gains G5's grid: `gongzhi reprocess` loads it (a missing reference is
    # retryable) and files it in that grid's community; G4 stays quarantined
    from ingest.reprocess import Reprocessor, Selection

    sources = _grid_sources(tmp_path, GRID_ROWS)
    with (tmp_path / "grids" / "grids.csv").open("a", encoding="utf-8") as f:
        f.write("420606001001999,网格9,420606001001\n")
    assert run_sources(warehouse_url, sources, ids=["grids"])[0].ok
    settings = load_validated(write_config(tmp_path, warehouse_url, sources))
    engine = open_warehouse(settings.warehouse_url)
    again = {x.source: x for x in Reprocessor(settings, engine).reprocess(
        Selection(), username="cli:test", role="cli")}
    assert again["orders"].loaded == 1
    with engine.connect() as c:
        g5 = c.execute(select(table.c.community_code, table.c.grid_code).where(
            table.c.request_id == "G5")).one()
    still = [x["reason"] for x in runlog.list_quarantine(engine, source="orders")
             if x["resolved_run_id"] is None]
    engine.dispose()
    assert tuple(g5) == ("420606001001", "420606001001999") and still == ["outside_area"]
