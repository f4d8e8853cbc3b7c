"""The semantic layer (config/semantic): the shipped layer is consistent with the warehouse
schema and the KPI catalogue (this test is what makes ``make test`` fail on a drift), and a
broken layer is refused with every problem listed at once, with file and line — by the loader,
by the KPI catalogue and by ``gongzhi kpi`` at start-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from metrics import semantic
from metrics.catalog import load_catalog
from warehouse.schema import data_tables

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "config" / "semantic"


def test_the_shipped_layer_has_no_problem_and_covers_every_table() -> None:
    assert semantic.problems() == []
    layer = semantic.load()
    assert set(layer.tables) == set(data_tables())
    cat = load_catalog()  # raises on any KPI / layer inconsistency
    for k in cat.kpis.values():  # every KPI's domain is shown on a page
        assert layer.pages[layer.domains[k.domain].page]
    # the facts the compiler used to hard-code, now read from the layer
    assert layer.derived("grid_events", "hours_to_close").inputs == ("registered_at",
                                                                      "closed_at")
    assert layer.is_month("property_fees", "period")
    assert layer.tables["grid_events"].area == semantic.Area("grid_code", "grid")
    assert layer.domain_order()[:5] == ["gov", "grid", "vol", "party", "civic"]
    # the map page draws its own script and lists no domain
    assert (layer.pages["map"].script, layer.pages["map"].domains) == ("screens/map.py", ())


def _broken(tmp_path: Path) -> Path:
    folder = tmp_path / "semantic"
    shutil.copytree(LAYER, folder)
    gov = folder / "gov.yaml"
    text = gov.read_text(encoding="utf-8")
    text = text.replace("{column: case_id, zh: 办件编号, en: Case}",
                        "{column: case_id, zh: 办件编号}")
    text = text.replace("{column: visits, zh: 跑动次数, en: Visits}",
                        "{column: visitz, zh: 跑动次数, en: Visits}")
    text = text.replace("area: {column: community_code, level: community}",
                        "area: {column: item_code, level: community}")
    text = text.replace("times: [submitted_at, completed_at]", "times: [submitted_at, status]")
    text = text.replace("inputs: [item_code, submitted_at, completed_at]",
                        "inputs: [item_code, submitted_at, finished_at]")
    gov.write_text(text, encoding="utf-8")
    grid = folder / "grid.yaml"
    grid.write_text(grid.read_text(encoding="utf-8").replace(
        "  grid: {page: grid, detail: grid_events}", "  grid: {detail: grid_events}"),
        encoding="utf-8")
    civic = folder / "civic.yaml"
    civic.write_text(civic.read_text(encoding="utf-8").replace(
        "  property_fees:", "  property_feez:"), encoding="utf-8")
    # a page drawn by screens/domain.py with nothing to draw
    (folder / "empty.yaml").write_text("pages:\n  empty: {label: {zh: 空, en: Empty}}\n",
                                       encoding="utf-8")
    return folder


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if needle in line)


def test_every_inconsistency_is_listed_at_once_with_file_and_line(tmp_path: Path) -> None:
    folder = _broken(tmp_path)
    with pytest.raises(ConfigError) as e:
        semantic.load(folder)
    msg = str(e.value)
    gov, grid, civic = folder / "gov.yaml", folder / "grid.yaml", folder / "civic.yaml"
    case_line = _line(gov, "{column: case_id, zh: 办件编号}")
    assert f"{gov}:{case_line}: service_cases.case_id: detail column without a en label" in msg
    assert "service_cases: detail column 'visitz' is not a column of the table" in msg
    assert ("service_cases: area column 'item_code' contradicts warehouse/schema.py "
            "(area='community_code')") in msg
    assert "'status' is listed as a time column but is String" in msg
    assert "time column 'completed_at' of warehouse/schema.py is not listed under times" in msg
    assert "service_cases.on_time: input 'finished_at' is not a column of the table" in msg
    assert f"{grid}:{_line(grid, 'grid: {detail: grid_events}')}: domain 'grid' without a page" \
        in msg
    assert f"{civic}:{_line(civic, 'property_feez:')}: 'property_feez' is not a warehouse " \
           "table" in msg
    assert "warehouse table 'property_fees' has no entry in the semantic layer" in msg
    assert f"{folder / 'empty.yaml'}:2: page 'empty' must list its domains" in msg
    assert "page 'map'" not in msg  # its own script, no domains: fine
    assert len(e.value.problems) >= 10


def test_the_catalogue_and_gongzhi_kpi_refuse_a_broken_layer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _broken(tmp_path)
    monkeypatch.setenv("GONGZHI_SEMANTIC", str(folder))
    with pytest.raises(ConfigError) as e:
        load_catalog()
    assert "domain 'grid' without a page" in str(e.value)
    assert "detail column 'visitz'" in str(e.value)
    config = tmp_path / "gongzhi.toml"
    config.write_text(f'[warehouse]\nurl = "sqlite:///{tmp_path / "w.db"}"\n', encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "gongzhi", "--config", str(config), "kpi",
                          "--period", "2024-05"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GONGZHI_SEMANTIC": str(folder)}, cwd=ROOT)
    assert res.returncode == 2, res.stderr
    out = res.stderr
    for needle in ("domain 'grid' without a page", "detail column 'visitz'",
                   "'property_feez' is not a warehouse table", "without a en label"):
        assert needle in out, out


def test_a_kpi_on_a_domain_without_a_page_or_a_missing_column_is_refused(
        tmp_path: Path) -> None:
    kpis = tmp_path / "kpis"
    kpis.mkdir()
    (kpis / "misc.yaml").write_text(
        "domain: misc\nlabel: {zh: 杂项, en: Misc}\nkpis:\n"
        "  - id: misc.cases\n    label: {zh: 件, en: Cases}\n    description: x\n"
        "    table: service_cases\n    time: submitted_at\n"
        "    measure: {measure: sum, column: hours_to_close}\n"
        "    unit: count\n    direction: higher\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_catalog(kpis)
    msg = str(e.value)
    assert f"{kpis / 'misc.yaml'}:4: misc.cases: domain 'misc' has no entry (and so no page)" \
        in msg
    assert "unknown column 'hours_to_close' in service_cases" in msg  # a grid_events column


def test_kpi_parameters_resolve_into_filters(tmp_path: Path) -> None:
    """A filter may name a KPI parameter (``param``); an undefined one is refused."""
    kpis = tmp_path / "kpis"
    kpis.mkdir()
    base = ("domain: grid\nlabel: {zh: 网格治理, en: Grid management}\nkpis:\n"
            "  - id: grid.fast\n    label: {zh: 快, en: Fast}\n    description: x\n"
            "    table: grid_events\n    time: registered_at\n%s"
            "    numerator: {measure: count, filter: [{column: hours_to_close, op: lte, "
            "param: %s}]}\n    denominator: {measure: count}\n"
            "    unit: ratio\n    direction: higher\n")
    (kpis / "grid.yaml").write_text(base % ("    params: {close_hours: 48}\n", "close_hours"),
                                    encoding="utf-8")
    num = load_catalog(kpis).get("grid.fast").measures()["numerator"]
    assert num.filter[0].value == 48 and num.filter[0].param is None
    (kpis / "grid.yaml").write_text(base % ("", "close_hours"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_catalog(kpis)
    assert "names the parameter 'close_hours', which 'params' does not define" in str(e.value)


def test_the_docs_show_the_layer_as_it_is() -> None:
    """docs/architecture.md's tables are generated from the layer: stale docs fail here."""
    text = semantic.DOCS.read_text(encoding="utf-8")
    assert semantic.DOCS_BEGIN in text and semantic.DOCS_END in text
    assert semantic.docs_section(text, semantic.load()) == text, (
        "docs/architecture.md is stale: run `python -m metrics.semantic`")
    for name in semantic.load().tables:
        assert f"| `{name}` |" in text


def test_breakdowns_drill_columns_and_the_drill_page_are_declared_and_checked(
        tmp_path: Path) -> None:
    """The breakdown dimensions, the drill-through's columns and derived labels are the layer's
    (no table of them in code); a wrong declaration is refused with its file and line."""
    layer = semantic.load()
    assert layer.dimensions_of("service_cases") == ["department", "channel", "item"]
    assert layer.breakdown("service_cases", "department") == semantic.Breakdown(
        "department", "department", "部门", "Department", via="service_items", key="item_code")
    assert layer.dimensions_of("hotline_requests") == ["category", "channel"]
    assert layer.dimensions_of("volunteers") == []
    assert layer.derived("hotline_requests", "hours_to_respond").zh == "响应时长(小时)"
    for k in load_catalog().kpis.values():  # every table a KPI counts has drill columns
        for m in k.measures().values():
            assert m.table is None or layer.tables[m.table].detail is not None, (k.id, m.table)
    drill = layer.pages["drill"]
    assert (drill.domains, drill.script, drill.zh) == ((), "screens/drill.py", "明细核查")
    assert [p.name for p in layer.ordered_pages()][-1] == "drill"

    folder = tmp_path / "semantic"
    shutil.copytree(LAYER, folder)
    gov, hot, dr = folder / "gov.yaml", folder / "hotline.yaml", folder / "drill.yaml"
    gov.write_text(gov.read_text(encoding="utf-8").replace(
        "{by: channel, column: channel, zh: 办理渠道, en: Channel}",
        "{by: channel, column: chanel, zh: 办理渠道, en: Channel}").replace(
        "via: service_items, key: item_code", "via: service_itemz, key: item_code"),
        encoding="utf-8")
    hot.write_text(hot.read_text(encoding="utf-8").replace(
        "{by: channel, column: channel, zh: 渠道, en: Channel}",
        "{by: source, column: channel, zh: 渠道}").replace(
        "{by: category, column: category, zh: 诉求类别, en: Category}",
        "{by: category, column: category, zh: 诉求类别}"), encoding="utf-8")
    dr.write_text(dr.read_text(encoding="utf-8").replace(", script: screens/drill.py", ""),
                  encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        semantic.load(folder)
    msg = str(e.value)
    assert "service_cases: breakdown by channel: 'chanel' is not a column of the table" in msg
    assert "service_cases: breakdown by department: via 'service_itemz' is not a " \
           "warehouse table" in msg
    line = _line(hot, "{by: source, column: channel")
    assert (f"{hot}:{line}: hotline_requests.channel: breakdown 'by' must be one of category, "
            "department, channel, item") in msg
    line = _line(hot, "{by: category, column: category, zh: 诉求类别}")
    assert f"{hot}:{line}: hotline_requests.category: breakdown without a en label" in msg
    assert f"{dr}:" in msg and "page 'drill' must list its domains (or name its own script)" \
        in msg


def test_page_sections_are_read_and_a_kpi_of_another_page_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's ``sections`` group its KPIs (五级 on the grid page); a section naming a KPI
    the page does not show, or without a label, is refused with its file and line."""
    grid = semantic.load().pages["grid"]
    assert [(s.label_zh, s.kpis) for s in grid.sections] == [
        ("五级网格：楼栋长与党员网格员", ("grid.building_head_coverage",
                                          "grid.households_per_building_head",
                                          "grid.party_member_worker_rate",
                                          "grid.party_member_grids"))]
    folder = tmp_path / "semantic"
    shutil.copytree(LAYER, folder)
    path = folder / "grid.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "grid.party_member_grids]", "grid.party_member_grids, gov.online_case_rate]"),
        encoding="utf-8")
    monkeypatch.setenv("GONGZHI_SEMANTIC", str(folder))
    with pytest.raises(ConfigError) as e:
        load_catalog()
    line = _line(path, "sections:")
    assert (f"{path}:{line}: page 'grid': section '五级网格：楼栋长与党员网格员' names "
            "gov.online_case_rate of domain 'gov', not one of the page's") in str(e.value)
    other = tmp_path / "semantic2"  # layers are cached per folder
    shutil.copytree(LAYER, other)
    path = other / "grid.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "label: {zh: 五级网格：楼栋长与党员网格员, ", "label: {"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        semantic.load(other)
    assert "page 'grid': a section needs label {zh, en} and a list of kpis" in str(e.value)
