"""The bulletin's tables hold the same numbers as ``gongzhi kpi --format json`` and
``gongzhi rank --format json``: the Word file is read back with python-docx, the PDF's text
with pypdf, and every cell is parsed back into a number here."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gongzhi.cli import cli
from metrics.scoring import DEFAULT_DIR

PERIOD = "2025-05"
WORDS = {"● 蓝": "blue", "▲ 黄": "yellow", "■ 红": "red", "—": None}


def gz(config: Path, *args: str) -> Any:
    res = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert res.exit_code == 0, res.output
    return res


def number(text: str) -> tuple[float, float]:
    """A shown figure back as (value, tolerance): '71.4%' → (0.714, 0.0005)."""
    t = text.replace(",", "").strip()
    m = re.match(r"^(-?[\d.]+)\s*(%?)", t)
    assert m, text
    digits = m.group(1)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    tol = 0.5 * 10 ** -decimals
    if m.group(2):
        return float(digits) / 100, tol / 100 + 1e-12
    return float(digits), tol + 1e-12


@pytest.fixture(scope="module")
def docx_tables(office_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    import docx

    out = tmp_path_factory.mktemp("bulletin") / "b.docx"
    gz(office_demo, "bulletin", "--period", PERIOD, "--format", "docx", "--out", str(out))
    doc = docx.Document(str(out))
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


def test_headline_table_matches_kpi_json(office_demo: Path, docx_tables: list[Any]) -> None:
    header, *rows = docx_tables[0]
    assert header == ["指标", "本期", "目标", "状态", "较上月"]
    kpis = {r["label"]: r for r in json.loads(gz(office_demo, "kpi", "--period", PERIOD,
                                                 "--format", "json").output)}
    assert len(rows) >= 10
    for label, value, target, status, _delta in rows:
        want = kpis[label]
        if want["value"] is None:
            assert value == "—"
        else:
            v, tol = number(value)
            assert abs(v - want["value"]) <= tol, (label, value, want["value"])
        if want["target"] is None:
            assert target == "—"
        else:
            v, tol = number(target)
            assert abs(v - want["target"]) <= tol
        assert WORDS[status] == want["status"], label


def test_ranking_table_matches_rank_json(office_demo: Path, docx_tables: list[Any]) -> None:
    header, *rows = docx_tables[1]
    assert header == ["排名", "街道", "得分（分）", "等次", "排名变化", "榜单"]
    ranked = json.loads(gz(office_demo, "rank", "--period", PERIOD, "--format", "json").output)
    assert len(rows) == len(ranked)
    boards = {"top": "红榜", "bottom": "黑榜", None: ""}
    for row, r in zip(rows, ranked, strict=True):
        assert row[1] == r["name"]
        assert row[0] == (str(r["rank"]) if r["rank"] is not None else "—")
        assert row[2] == (f"{r['score']:.2f}" if r["score"] is not None else "—")
        assert WORDS[row[3]] == r["status"] and row[5] == boards[r["board"]]


def test_three_colour_table_matches_kpi_json_by_community(office_demo: Path,
                                                          docx_tables: list[Any]) -> None:
    spec = yaml.safe_load((DEFAULT_DIR / "default.yaml").read_text("utf-8"))
    ids = [p["kpi"] for p in spec["levels"]["community"]["kpis"]]
    header, *rows = docx_tables[2]
    assert header[:2] == ["社区", "所属街道"] and len(header) == 2 + len(ids)
    got = json.loads(gz(office_demo, "kpi", "--period", PERIOD, "--by", "community",
                        "--format", "json", *[a for k in ids for a in ("--kpi", k)]).output)
    by = {(r["key_name"], r["kpi"]): r for r in got}
    assert len(rows) == len({r["key"] for r in got})  # every community with a figure
    checked = 0
    for row in rows:
        for kpi, cell in zip(ids, row[2:], strict=True):
            want = by.get((row[0], kpi))
            if want is None or want["value"] is None:
                assert cell == "—"
                continue
            v, tol = number(cell)
            assert abs(v - want["value"]) <= tol, (row[0], kpi, cell, want["value"])
            word = next((s for w, s in WORDS.items() if w != "—" and cell.endswith(w)), None)
            assert word == want["status"], (row[0], kpi, cell)
            checked += 1
    assert checked > 100


def test_pdf_has_the_same_figures_and_embedded_chinese_fonts(
        office_demo: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "b.pdf"
    gz(office_demo, "bulletin", "--period", PERIOD, "--format", "pdf", "--out", str(out))
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = "".join(p.extract_text() for p in reader.pages)
    flat = re.sub(r"\s+", "", text)
    assert "关于2025年5月基层治理重点指标情况的通报" in flat
    ranked = json.loads(gz(office_demo, "rank", "--period", PERIOD, "--format", "json").output)
    for r in ranked:
        if r["score"] is not None:
            assert f"{r['rank']}{r['name']}{r['score']:.2f}" in flat, r["name"]
    from metrics import format as fmt

    for r in json.loads(gz(office_demo, "kpi", "--period", PERIOD, "--format", "json",
                           "--kpi", "gov.online_case_rate", "--kpi",
                           "vol.registered_per_1000").output):
        assert f"{r['label']}{fmt.value(r['value'], r['unit']).replace(' ', '')}" in flat
    fonts = set()
    for page in reader.pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            font = f.get_object()
            for d in font.get("/DescendantFonts") or [font]:
                desc = d.get_object().get("/FontDescriptor")
                if desc is not None and any(k in desc.get_object() for k in
                                            ("/FontFile", "/FontFile2", "/FontFile3")):
                    fonts.add(str(d.get_object()["/BaseFont"]))
    assert any("NotoSerifCJK" in f for f in fonts) and any("NotoSansCJK" in f for f in fonts)
