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
