"""议事协商 by mechanism: the semantic layer's vocabulary folds the words offices write into one
name per mechanism, words it does not know keep their own name (or go to ``other`` when a
district sets one), and the drill-through finds the rows of each group. Each figure is
compared with a fold written here in plain Python. Also: each community's latest 三色研判
(metrics.committees) and its access rule."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from metrics import breakdown, committees, drill, semantic
from metrics.access import AccessDenied, Viewer
from metrics.periods import parse
from metrics.service import Metrics
from tests.metrics.harness import CASES, load_case, materialize

ROWS = [  # (topic, community, mechanism as written, resolved)
    ("T1", "420606001001", "幸福夜话", True), ("T2", "420606001001", " 夜话 ", False),
    ("T3", "420606001002", "居民议事会", True), ("T4", "420606002001", "群英议事会", True),
    ("T5", "420606002001", "板凳会", True), ("T6", "420606002001", "板凳会", False),
    ("T7", "420606001001", None, True), ("T8", "420606001002", "书记唠嗑会", False),
]
LAYER = Path(__file__).resolve().parents[2] / "config" / "semantic"


def fold(word: str | None, other: str | None = None) -> str | None:
    """The expected group of a mechanism word, from the vocabulary in civic.yaml read here."""
    if word is None:
        return None
    import yaml
    raw = yaml.safe_load((LAYER / "civic.yaml").read_text(encoding="utf-8"))
    spec = next(b for b in raw["tables"]["consultations"]["breakdowns"]
                if b["by"] == "mechanism")
    for name, words in spec["vocabulary"].items():
        if word.strip().lower() in {w.lower() for w in [name, *(words or [])]}:
            return name
    return other if other is not None else word.strip()


@pytest.fixture
def m(tmp_path: Path, warehouse_url: str) -> Any:
    """The rows below on each engine (the vocabulary is SQL: lower, trim, CASE)."""
    case: dict[str, Any] = {"tables": {
        "consultations": [
            {"topic_id": t, "community_code": c, "mechanism": w,
             "raised_at": "2024-05-10 19:30",
             "resolved_at": "2024-05-20 10:00" if done else None,
             "status": "resolved" if done else "raised"} for t, c, w, done in ROWS],
        "committee_assessments": load_case(CASES / "committees.yaml")["tables"][
            "committee_assessments"]}}
    return materialize(case, tmp_path, warehouse_url)


def by_mechanism(m: Any, kpi: str) -> dict[Any, tuple[float, float | None]]:
    frame = m.compute([kpi], m.district(), parse("2024-05"), "mechanism", compare=False)
    return {r["key"]: (r["numerator"], r["denominator"]) for r in frame.iter_rows(named=True)}


def test_topics_and_resolution_split_by_the_vocabulary(m: Any) -> None:
    topics = Counter(fold(w) for _, _, w, _ in ROWS)
    resolved = Counter(fold(w) for _, _, w, done in ROWS if done)
    assert {k: v[0] for k, v in by_mechanism(m, "civic.consultation_topics").items()} == {
        k: float(n) for k, n in topics.items()}
    rate = by_mechanism(m, "civic.consultation_resolution_rate")
    assert rate == {k: (float(resolved[k]), float(n)) for k, n in topics.items()}
    # nothing is lost: the groups add up to every topic, the unknown 板凳会 under its own name
    assert sum(topics.values()) == len(ROWS) and topics["板凳会"] == 2


def test_an_other_bucket_gathers_unknown_words_when_set(m: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = breakdown.spec

    def with_other(table: str, dim: str) -> semantic.Breakdown | None:
        b = real(table, dim)
        return dataclasses.replace(b, other="其他") if b and table == "consultations" else b

    monkeypatch.setattr(breakdown, "spec", with_other)
    fresh = Metrics(m.engine, m.catalog)  # results are cached per instance
    frame = fresh.compute(["civic.consultation_topics"], fresh.district(), parse("2024-05"),
                      "mechanism", compare=False)
    got = {r["key"]: r["value"] for r in frame.iter_rows(named=True)}
    want = Counter(fold(w, "其他") for _, _, w, _ in ROWS)
    assert got == {k: float(n) for k, n in want.items()}


def test_the_rows_of_one_mechanism_are_those_its_words_name(m: Any) -> None:
    kpi = m.catalog.get("civic.consultation_topics")
    fig = drill.Figure("civic.consultation_topics", "measure", m.district(), parse("2024-05"),
                       dim="mechanism", key="幸福夜话")
    frame, _spec = drill.rows(m.engine, kpi, fig)
    assert set(frame["topic_id"]) == {t for t, _, w, _ in ROWS if fold(w) == "幸福夜话"}
    # the rows keep the words as the source wrote them
    assert set(frame["mechanism"]) == {"幸福夜话", "夜话"}
    assert drill.count(m.engine, kpi, fig) == frame.height


def test_a_word_meaning_two_mechanisms_is_refused_with_its_place(tmp_path: Path) -> None:
    folder = tmp_path / "semantic"
    shutil.copytree(LAYER, folder)
    civic = folder / "civic.yaml"
    civic.write_text(civic.read_text(encoding="utf-8").replace(
        "院落会: [院落议事会", "院落会: [夜话, 院落议事会"), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        semantic.load(folder)
    assert "'夜话' means both '幸福夜话' and '院落会'" in str(e.value)
    assert str(civic) in str(e.value)


def test_latest_assessment_per_community_and_access(m: Any) -> None:
    rows = load_case(CASES / "committees.yaml")["tables"]["committee_assessments"]
    want: dict[str, dict[str, Any]] = {}
    for r in rows:  # the newest up to 2024-06 per community, by hand
        if str(r["period"]) <= "2024-06" and (r["community_code"] not in want or str(
                r["period"]) > str(want[r["community_code"]]["period"])):
            want[r["community_code"]] = r
    got = committees.latest(m.engine, m.district(), parse("2024-Q2"))
    assert {r["community_code"]: (r["period"], r["colour"], r["escalated"])
            for r in got.iter_rows(named=True)} == {
        c: (str(r["period"]), r["colour"], bool(r["escalated"])) for c, r in want.items()}
    street = m.scope("street", "汉江街道")
    staff = Viewer("s", "street_staff", street.code)
    mine = committees.latest(m.engine, street, parse("2024-Q2"), viewer=staff)
    assert set(mine["community_code"]) == {c for c in want if c.startswith("420606001")}
    with pytest.raises(AccessDenied):
        committees.latest(m.engine, m.district(), parse("2024-Q2"), viewer=staff)
