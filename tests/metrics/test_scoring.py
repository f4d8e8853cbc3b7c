"""Scoring schemes: every problem of every file at once, each with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from metrics.catalog import load_catalog
from metrics.scoring import load_schemes, pick

BAD = """\
name: strict
label: {zh: 考评}
levels:
  street:
    kpis:
      - {kpi: gov.online_case_rate, weight: 50, rule: target}
      - {kpi: gov.no_such_kpi, weight: 30, rule: target}
      - {kpi: vol.active_rate, weight: 30, rule: fancy}
  grid:
    kpis:
      - {kpi: gov.online_case_rate, weight: 100}
  community:
    colours: {blue: 60, yellow: 80}
    kpis:
      - {kpi: gov.case_count, weight: 100, rule: target}
      - {kpi: gov.online_capable_rate, weight: -5, rule: minmax}
"""


def test_the_shipped_scheme_loads() -> None:
    schemes = load_schemes(load_catalog())
    s = pick(schemes, None)
    assert set(s.levels) == {"street", "community"}
    for ls in s.levels.values():
        assert sum(p.weight for p in ls.parts) == pytest.approx(100)


def test_every_problem_is_listed_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "strict.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "other.yaml").write_text("name: other\nlabel: {zh: x}\nlevels: {}\nextra: 1\n",
                                         encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_schemes(load_catalog(), tmp_path)
    text = str(e.value)
    f = tmp_path / "strict.yaml"
    for place, words in [
        (f"{f}:7", "unknown KPI 'gov.no_such_kpi'"),
        (f"{f}:8", "unknown rule 'fancy'"),
        (f"{f}:5", "weights add up to 110"),
        (f"{f}:9", "unknown level 'grid'"),
        (f"{f}:13", "'colours' must be"),
        (f"{f}:15", "gov.case_count: rule 'target' but the KPI has no target for a community"),
        (f"{f}:16", "is not computed for a community"),
        (f"{f}:16", "'weight' must be a number > 0"),
        (f"{tmp_path / 'other.yaml'}:4", "unknown key 'extra'"),
        (f"{tmp_path / 'other.yaml'}:3", "'levels' must map"),
    ]:
        assert any(line.strip().startswith(f"- {place}: ") and words in line
                   for line in text.splitlines()), (place, words, text)


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: default"):
        pick(load_schemes(load_catalog()), "nope")


def test_a_bad_scheme_stops_the_dashboard_from_starting(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from gongzhi.cli import cli

    (tmp_path / "strict.yaml").write_text(BAD, encoding="utf-8")
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text(f'[warehouse]\nurl = "sqlite:///{tmp_path / "w.db"}"\n', encoding="utf-8")
    monkeypatch.setenv("GONGZHI_SCHEMES", str(tmp_path))
    res = CliRunner().invoke(cli, ["--config", str(cfg), "serve", "--port", "1"])
    assert isinstance(res.exception, ConfigError)
    assert "unknown KPI 'gov.no_such_kpi'" in str(res.exception)
    assert "unknown level 'grid'" in str(res.exception)
