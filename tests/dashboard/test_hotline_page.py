"""The 12345 page, drawn by the generic domain page from the semantic layer alone: its title,
KPI cards, the period's top categories in the viewer's area and the detail rows (free text
masked), on the hotline metrics case. Expected figures are counted from the case's rows here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, HANJIANG, PERIOD
from tests.metrics.harness import CASES, load_case, materialize

CASE = load_case(CASES / "hotline.yaml")


@pytest.fixture(scope="module")
def hotline_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hotline_page")
    m = materialize(CASE, folder, f"sqlite:///{folder / 'warehouse.db'}")
    m.engine.dispose()
    cfg = folder / "gongzhi.toml"
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[dashboard]\nsign_in = "open"\n')
    return cfg


@pytest.fixture
def page(hotline_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("GONGZHI_CONFIG", str(hotline_config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    yield at


def _may(rows: list[dict[str, Any]], street: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if str(r["received_at"]).startswith(PERIOD) and (
        street is None or str(r.get("community_code") or "").startswith(street[:9]))]


def _top(frame: Any) -> dict[str, int]:
    df = frame.value
    return dict(zip(df.iloc[:, 0].tolist(), df.iloc[:, 1].tolist(), strict=True))


def test_the_12345_page_shows_cards_top_categories_and_masked_rows(page: AppTest) -> None:
    page.run()
    page.switch_page("screens/domain.py").run()
    assert not page.exception, [e.value for e in page.exception]
    assert not page.error, [e.value for e in page.error]
    assert page.title[0].value == "12345热线"
    cards = {m.label.split(" ", 1)[1]: m.value for m in page.metric}
    requests = CASE["tables"]["hotline_requests"]
    assert cards["诉求件数"] == str(len(_may(requests)))
    assert {"响应率", "解决率", "满意率", "按期办结率", "重办率", "万人诉求量"} <= set(cards)
    top = next(f for f in page.dataframe if "类别" in list(f.value.columns))
    assert _top(top) == dict(Counter(r["category"] for r in _may(requests)))
    assert "本期诉求类别前十" in [s.value for s in page.subheader]
    detail = page.dataframe[-1].value
    content = dict(zip(detail["工单编号"], detail["诉求内容"], strict=True))
    assert content["R1"] == "电梯坏了，联系电话138****8000"


def test_top_categories_follow_the_street_filter(page: AppTest) -> None:
    page.query_params["street"] = HANJIANG
    page.run()
    page.switch_page("screens/domain.py").run()
    assert not page.exception
    top = next(f for f in page.dataframe if "类别" in list(f.value.columns))
    requests = CASE["tables"]["hotline_requests"]
    assert _top(top) == dict(Counter(r["category"] for r in _may(requests, HANJIANG)))
