"""帮办团 on 政务服务, 商圈党建 on 党建与队伍 and the 街道职权 page (drawn by the generic domain
page from the semantic layer): their cards on the metrics cases of the three domains, May 2024.
Expected figures are counted from the cases' rows here, not taken from metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, HANJIANG, PERIOD
from tests.metrics.harness import CASES, load_case, materialize

TABLES: dict[str, list[dict[str, Any]]] = {}
for _name in ("help_teams", "merchants", "street_powers"):
    TABLES.update(load_case(CASES / f"{_name}.yaml")["tables"])
MAY_END = "2024-05-31"


@pytest.fixture(scope="module")
def services_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("services_pages")
    m = materialize({"tables": TABLES}, folder, f"sqlite:///{folder / 'warehouse.db'}")
    m.engine.dispose()
    cfg = folder / "gongzhi.toml"
    with cfg.open("a", encoding="utf-8") as f:
        f.write('\n[dashboard]\nsign_in = "open"\n')
    return cfg


@pytest.fixture
def page(services_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("GONGZHI_CONFIG", str(services_config))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["period"] = PERIOD
    yield at


def _open(at: AppTest, url_path: str) -> AppTest:
    """Run the page registered under ``url_path``. Several pages share screens/domain.py, and
    AppTest.switch_page picks the first page of a script, so the page is chosen by its
    registered url path (the hash a browser session would use)."""
    at.run()
    found = [h for h, info in at._registered_pages.items()
             if info.get("url_pathname") == url_path]
    assert found, f"no page {url_path}"
    at._page_hash = found[0]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _cards(at: AppTest) -> dict[str, str]:
    return {m.label.split(" ", 1)[1]: m.value for m in at.metric}


def _in_may(rows: list[dict[str, Any]], col: str, street: str | None = None
            ) -> list[dict[str, Any]]:
    """Rows whose local time falls in May 2024 (the cases give Asia/Shanghai wall time)."""
    return [r for r in rows if str(r.get(col) or "").startswith(PERIOD) and (
        street is None or str(r.get("community_code") or r.get("street_code"))[:9]
        == street[:9])]


def _by_may_end(rows: list[dict[str, Any]], col: str) -> list[dict[str, Any]]:
    return [r for r in rows if str(r[col]) <= MAY_END]


def test_the_gov_page_shows_the_help_desk_team_cards(page: AppTest) -> None:
    page.run()
    page.switch_page("screens/gov.py").run()
    assert not page.exception, [e.value for e in page.exception]
    cards = _cards(page)
    teams = len(_by_may_end(TABLES["help_teams"], "formed_on"))
    services = len(_in_may(TABLES["help_team_services"], "served_at"))
    assert cards["红色帮办团数"] == str(teams)
    assert cards["帮办团服务次数"] == str(services)
    assert cards["帮办团平均服务次数"] == f"{services / teams:.2f} 次/支"


def test_the_party_page_shows_the_model_merchant_cards(page: AppTest) -> None:
    page.run()
    page.switch_page("screens/party.py").run()
    assert not page.exception, [e.value for e in page.exception]
    cards = _cards(page)
    problems = _in_may(TABLES["merchant_problems"], "raised_at")
    solved = [p for p in problems if p.get("resolved_at")]
    assert cards["党员示范商户数"] == str(len(_by_may_end(TABLES["model_merchants"],
                                                      "designated_on")))
    assert cards["示范商户帮解问题数"] == str(len(problems))
    assert cards["商户问题解决率"] == f"{len(solved) / len(problems) * 100:.1f}%"


def test_the_street_powers_page_shows_its_cards_and_most_used_items(page: AppTest) -> None:
    at = _open(page, "street")
    assert at.title[0].value == "街道职权"
    cards = _cards(at)
    items = {r["item_code"] for r in _by_may_end(TABLES["delegated_items"], "delegated_on")}
    cases = _in_may(TABLES["enforcement_cases"], "opened_at")
    used = {r["item_code"] for r in cases}
    assert cards["街道承接事项数"] == f"{len(items)} 项"
    assert cards["持证执法人员数"] == str(len(_by_may_end(TABLES["enforcers"], "certified_on")))
    assert cards["街道执法案件数"] == str(len(cases))
    assert cards["承接事项行权率"] == f"{len(used) / len(items) * 100:.1f}%"
    assert "本期执法案件最多的事项" in [s.value for s in at.subheader]
    df = at.dataframe[0].value  # the page's "top values" table comes first
    assert list(df.columns) == ["类别", "件数"]
    assert dict(zip(df.iloc[:, 0], df.iloc[:, 1], strict=True)) == dict(
        Counter(r["item_code"] for r in cases))


def test_the_street_powers_page_follows_the_street_filter(page: AppTest) -> None:
    page.query_params["street"] = HANJIANG
    at = _open(page, "street")
    cards = _cards(at)
    items = {r["item_code"] for r in _by_may_end(TABLES["delegated_items"], "delegated_on")
             if r["street_code"] == HANJIANG}
    cases = _in_may(TABLES["enforcement_cases"], "opened_at", HANJIANG)
    assert cards["街道承接事项数"] == f"{len(items)} 项"
    assert cards["街道执法案件数"] == str(len(cases))
    assert cards["承接事项行权率"] == (
        f"{len({r['item_code'] for r in cases}) / len(items) * 100:.1f}%")
