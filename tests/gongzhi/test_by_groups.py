"""``--by`` of ``gongzhi kpi`` and ``gongzhi rows`` is derived from the semantic layer and the
division levels, not listed in the CLI: every breakdown of the shipped layer is accepted and
named in ``--help`` and in the error for a wrong value, and a breakdown a layer adds (or drops)
shows up (or goes) with no CLI edit.

The expected dimensions are read from the YAML files here with a plain YAML parser, not through
:mod:`metrics.semantic`, so the test does not repeat the code it checks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from core.divisions import AREA_LEVELS
from gongzhi.cli import cli
from metrics import semantic

LAYER = Path(__file__).resolve().parents[2] / "config" / "semantic"


def declared(folder: Path) -> set[str]:
    """Every ``by`` of every table's ``breakdowns`` in the layer's YAML files."""
    out: set[str] = set()
    for f in folder.glob("*.yaml"):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for spec in (doc.get("tables") or {}).values():
            out |= {b["by"] for b in (spec or {}).get("breakdowns") or []}
    return out


def invoke(folder: Path | None, *args: str) -> tuple[int, str]:
    env = {"GONGZHI_SEMANTIC": str(folder)} if folder else {}
    res = CliRunner(env=env).invoke(cli, list(args))
    return res.exit_code, res.output


def by_choices(help_text: str) -> list[str]:
    """The choices ``--help`` shows for --by (``--by [a|b|c]``)."""
    found = re.search(r"--by \[([^\]]+)\]", help_text)
    assert found, help_text
    return found.group(1).split("|")


def refused(folder: Path | None, command: str, value: str) -> str:
    """The error for ``--by value`` (parsing fails before any config or warehouse is read)."""
    args = ["kpi", "--by", value] if command == "kpi" else ["rows", "--kpi", "x", "--by", value]
    code, out = invoke(folder, *args)
    assert code == 2, out
    return out


@pytest.mark.parametrize("command", ["kpi", "rows"])
def test_every_shipped_breakdown_is_listed_and_accepted(command: str) -> None:
    dims = declared(LAYER)
    assert {"category", "channel"} <= dims  # the shipped layer has breakdowns (sanity)
    code, help_text = invoke(None, command, "--help")
    assert code == 0
    listed = by_choices(help_text)
    extra = [*AREA_LEVELS, "month"] if command == "kpi" else []
    assert sorted(listed) == sorted([*extra, *dims])
    message = refused(None, command, "no_such_dimension")
    for d in [*extra, *dims]:
        assert f"'{d}'" in message
    # accepted by the command's own --by parameter (what click runs on the value)
    param = next(p for p in cli.commands[command].params if p.name in ("group", "dim"))
    ctx = click.Context(cli.commands[command])
    assert [param.type.convert(d, param, ctx) for d in sorted(dims)] == sorted(dims)
    with pytest.raises(click.BadParameter):
        param.type.convert("no_such_dimension", param, ctx)


@pytest.mark.parametrize("command", ["kpi", "rows"])
def test_a_breakdown_a_layer_adds_or_drops_reaches_the_cli(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "semantic"
    shutil.copytree(LAYER, folder)
    # no table breaks down by item any more (the item catalogue, cases, enforcement cases) …
    for path in folder.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        lines = [ln for ln in text.splitlines() if "{by: item," not in ln]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "item" not in declared(folder)
    assert "item" not in by_choices(invoke(folder, command, "--help")[1])
    assert "'item'" not in refused(folder, command, "item").split("is not one of", 1)[1]

    # … until a new table (here the 12345 requests) declares it (another folder: the layer is
    # read once per folder and process)
    added = tmp_path / "added"
    shutil.copytree(folder, added)
    hot = added / "hotline.yaml"
    hot.write_text(hot.read_text(encoding="utf-8").replace(
        "      - {by: channel, column: channel, zh: 渠道, en: Channel}",
        "      - {by: channel, column: channel, zh: 渠道, en: Channel}\n"
        "      - {by: item, column: category, zh: 事项, en: Item}"), encoding="utf-8")
    assert "item" in declared(added) and semantic.problems(added) == []  # a valid layer
    assert "item" in by_choices(invoke(added, command, "--help")[1])


def test_a_dimension_without_a_generic_word_is_named_by_its_table(tmp_path: Path) -> None:
    """A dimension DIMENSION_LABELS does not name (a new one) takes its first table's label;
    the known ones keep their generic word whichever table declares them."""
    base = semantic.load(LAYER)
    spec = semantic.TableSpec(name="t_new", area=None, times=(), breakdowns=(
        semantic.Breakdown("newdim", "col", "新维度", "New dimension"),))
    layer = semantic.Layer({**base.tables, "t_new": spec}, base.domains, base.pages, tmp_path)
    assert layer.dimension_label("newdim", "zh") == "新维度"
    assert layer.dimension_label("newdim", "en") == "New dimension"
    for by, words in semantic.DIMENSION_LABELS.items():
        assert layer.dimension_label(by, "zh") == words["zh"]
    assert layer.dimension_label("nowhere", "zh") == "nowhere"
