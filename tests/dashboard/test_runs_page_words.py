"""Words a leader reads on 数据与运行 and above the cards: schedules as 每天 02:20 (the cron
expression beside it), and when the data was last updated instead of a version number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from tests.conftest import divisions_source, write_config
from tests.dashboard.conftest import APP, shown

SCHEDULES = {"daily": "20 2 * * *", "weekly": "0 3 * * 1", "monthly": "0 4 1 * *",
             "odd": "0 3 1 * 1"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    sources = [divisions_source() | {"schedule": "0 1 * * *"}]
    sources += [{"id": sid, "plugin": "files", "table": "certificates",
                 "path": f"inbox/{sid}/*.csv", "schedule": cron}
                for sid, cron in SCHEDULES.items()]
    sources.append({"id": "by_hand", "plugin": "files", "table": "certificates",
                    "path": "inbox/hand/*.csv"})
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", sources,
                       '[dashboard]\nsign_in = "open"\n')
    from ingest.registry import load_validated
    from ingest.runner import Runner
    from warehouse.engine import open_warehouse

    settings = load_validated(cfg)
    engine = open_warehouse(settings.warehouse_url)
    Runner(settings, engine).run(["divs"])
    engine.dispose()
    return cfg


def _stamp(cfg: Path) -> dt.datetime:
    """The latest load stamp, read straight from the warehouse, in Asia/Shanghai."""
    eng = create_engine(f"sqlite:///{cfg.parent / 'w.db'}")
    with eng.connect() as c:
        value = c.execute(text("SELECT max(value) FROM warehouse_meta "
                               "WHERE key LIKE 'loaded:%'")).scalar_one()
    eng.dispose()
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).astimezone(
        ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_schedules_in_words_and_the_last_update_time(config: Path, lang: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGZHI_CONFIG", str(config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("screens/runs.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    zh = lang == "zh"
    plan = dict(zip(table["数据源" if zh else "Source"], table["计划" if zh else "Schedule"],
                    strict=True))
    cron = dict(zip(table["数据源" if zh else "Source"], table["cron 表达式" if zh else "cron"],
                    strict=True))
    assert plan == ({"divs": "每天 01:00", "daily": "每天 02:20", "weekly": "每周一 03:00",
                     "monthly": "每月1日 04:00", "odd": "0 3 1 * 1", "by_hand": "仅手动"}
                    if zh else
                    {"divs": "daily at 01:00", "daily": "daily at 02:20",
                     "weekly": "every Monday at 03:00", "monthly": "monthly on day 1 at 04:00",
                     "odd": "0 3 1 * 1", "by_hand": "manual only"})
    assert cron == {sid: c for sid, c in SCHEDULES.items()} | {"divs": "0 1 * * *",
                                                                "by_hand": ""}
    when = f"{_stamp(config):%Y-%m-%d %H:%M}"
    captions = [shown(c.value) for c in at.caption]
    assert (f"数据最近更新于 {when}（刚刚）" if zh else f"Data last updated {when} (just now)") \
        in captions or any(when in c and ("前" in c or "ago" in c) for c in captions)
    assert not any("数据版本" in c or "Data version" in c for c in captions)
    # the KPI pages say the same above their cards
    at.switch_page("screens/overview.py").run()
    assert any(when in shown(c.value) for c in at.caption)
    assert not any("数据版本" in c.value or "Data version" in c.value for c in at.caption)
