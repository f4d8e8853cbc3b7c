"""Scoring schemes (综合考评) from ``config/schemes/*.yaml``: every problem at once, with
file and line.

A scheme names, per level of area (street, community), weighted KPIs with a normalisation
rule each, the score thresholds of the three colours and how many areas the 红榜 (top) and
黑榜 (bottom) hold. :mod:`metrics.ranking` computes the scores; this module only reads and
checks the configuration against the KPI catalogue.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from core.errors import ConfigError, Problem
from core.yamltext import compose_and_load
from metrics.catalog import Catalog

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "config" / "schemes"
RANK_LEVELS = ("street", "community")
RULES = ("target", "minmax")
Rule = Literal["target", "minmax"]
WEIGHT_TOTAL = 100.0


@dataclass(frozen=True)
class Part:
    """One weighted KPI of a level's score."""

    kpi: str
    weight: float
    rule: Rule
    min_sample: int  # below it the KPI gives no points and its weight is shared out


@dataclass(frozen=True)
class LevelScheme:
    """How the areas of one level are scored."""

    level: str
    parts: tuple[Part, ...]
    blue: float = 85.0  # lowest score that is blue
    yellow: float = 70.0  # lowest score that is yellow; below: red
    top: int = 3
    bottom: int = 3


@dataclass(frozen=True)
class Scheme:
    """A named scoring scheme: one :class:`LevelScheme` per level it scores."""

    name: str
    label_zh: str
    label_en: str
    levels: dict[str, LevelScheme] = field(default_factory=dict)
    source_file: str = ""

    def level(self, level: str) -> LevelScheme:
        if level not in self.levels:
            raise ConfigError([Problem(self.source_file, f"scheme '{self.name}' does not score "
                                                         f"the {level} level")])
        return self.levels[level]


def load_schemes(catalog: Catalog, folder: str | os.PathLike[str] | None = None
                 ) -> dict[str, Scheme]:
    """Every scheme in ``folder`` (default ``config/schemes``, or ``GONGZHI_SCHEMES``) by
    name; raise :class:`ConfigError` listing every problem of every file."""
    folder = Path(folder) if folder else Path(os.environ.get("GONGZHI_SCHEMES", DEFAULT_DIR))
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError([Problem(str(folder), "no scoring schemes (*.yaml) found")])
    problems: list[Problem] = []
    schemes: dict[str, Scheme] = {}
    for f in files:
        scheme, errs = _load_file(f, catalog)
        problems.extend(errs)
        if scheme is None:
            continue
        if scheme.name in schemes:
            problems.append(Problem(str(f), f"duplicate scheme name '{scheme.name}' (also in "
                                            f"{schemes[scheme.name].source_file})"))
        schemes[scheme.name] = scheme
    if problems:
        raise ConfigError(problems, header=f"scoring schemes in {folder} are invalid")
    return schemes


def pick(schemes: dict[str, Scheme], name: str | None) -> Scheme:
    """The scheme called ``name``; without a name ``default``, else the only one."""
    if name is None:
        if "default" in schemes:
            return schemes["default"]
        if len(schemes) == 1:
            return next(iter(schemes.values()))
        raise ConfigError([Problem("--scheme", "several schemes and none is called 'default': "
                                               f"name one of {', '.join(sorted(schemes))}")])
    if name not in schemes:
        raise ConfigError([Problem("--scheme", f"unknown scheme '{name}' (known: "
                                               f"{', '.join(sorted(schemes))})")])
    return schemes[name]


class _Node:
    """A YAML mapping with the line of each key, so problems can name their line."""

    def __init__(self, node: Any):
        self.line = node.start_mark.line + 1 if node is not None else 0
        self.keys: dict[str, int] = {}
        self.children: dict[str, Any] = {}
        if node is not None and isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self.keys[str(k.value)] = k.start_mark.line + 1
                self.children[str(k.value)] = v

    def at(self, key: str) -> int:
        return self.keys.get(key, self.line)

    def child(self, key: str) -> _Node:
        return _Node(self.children.get(key))

    def items(self, key: str) -> list[_Node]:
        v = self.children.get(key)
        return [_Node(x) for x in v.value] if isinstance(v, yaml.SequenceNode) else []


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _load_file(path: Path, catalog: Catalog) -> tuple[Scheme | None, list[Problem]]:
    text = path.read_text(encoding="utf-8")
    try:
        node, data = compose_and_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return None, [Problem(f"{path}{f':{mark.line + 1}' if mark else ''}",
                              f"not valid YAML: {e}")]
    if not isinstance(data, dict):
        return None, [Problem(str(path), "expected a mapping with 'name', 'label' and "
                                         "'levels'")]
    top = _Node(node)
    problems: list[Problem] = []

    def bad(line: int, msg: str) -> None:
        problems.append(Problem(f"{path}:{line}", msg))

    for key in sorted(set(data) - {"name", "label", "levels"}):
        bad(top.at(key), f"unknown key '{key}' (expected name, label, levels)")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        bad(top.at("name"), "'name' must be a non-empty text")
        name = path.stem
    label = data.get("label") or {}
    if not isinstance(label, dict) or not isinstance(label.get("zh"), str):
        bad(top.at("label"), "'label' must be a mapping with 'zh' (and 'en')")
        label = {}
    levels_raw = data.get("levels")
    levels: dict[str, LevelScheme] = {}
    if not isinstance(levels_raw, dict) or not levels_raw:
        bad(top.at("levels"), "'levels' must map street and/or community to their scoring")
        levels_raw = {}
    lnode = top.child("levels")
    for level, spec in levels_raw.items():
        where = lnode.at(str(level))
        if level not in RANK_LEVELS:
            bad(where, f"unknown level '{level}' (expected {' or '.join(RANK_LEVELS)})")
            continue
        ls = _level(str(level), spec, lnode.child(str(level)), catalog, bad)
        if ls is not None:
            levels[str(level)] = ls
    scheme = Scheme(name=str(name), label_zh=str(label.get("zh", name)),
                    label_en=str(label.get("en", label.get("zh", name))), levels=levels,
                    source_file=str(path))
    return scheme, problems


def _level(level: str, spec: Any, node: _Node, catalog: Catalog,
           bad: Any) -> LevelScheme | None:
    if not isinstance(spec, dict):
        bad(node.line, f"{level}: expected a mapping with 'kpis' (and colours, top, bottom)")
        return None
    for key in sorted(set(spec) - {"kpis", "colours", "top", "bottom"}):
        bad(node.at(key), f"{level}: unknown key '{key}'")
    colours = spec.get("colours", {"blue": 85, "yellow": 70})
    blue, yellow = 85.0, 70.0
    if (not isinstance(colours, dict) or set(colours) != {"blue", "yellow"}
            or not all(_number(v) and 0 <= v <= 100 for v in colours.values())
            or colours["blue"] < colours["yellow"]):
        bad(node.at("colours"), f"{level}: 'colours' must be {{blue: B, yellow: Y}} with "
                                "100 ≥ B ≥ Y ≥ 0 (the lowest score of each colour)")
    else:
        blue, yellow = float(colours["blue"]), float(colours["yellow"])
    counts = {}
    for key in ("top", "bottom"):
        v = spec.get(key, 3)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            bad(node.at(key), f"{level}: '{key}' must be a whole number ≥ 0, not {v!r}")
            v = 3
        counts[key] = v
    raw_parts = spec.get("kpis")
    if not isinstance(raw_parts, list) or not raw_parts:
        bad(node.at("kpis"), f"{level}: 'kpis' must list at least one weighted KPI")
        return None
    parts: list[Part] = []
    seen: set[str] = set()
    total = 0.0
    weights_ok = True
    for raw, pnode in zip(raw_parts, node.items("kpis"), strict=False):
        line = pnode.line
        if not isinstance(raw, dict):
            bad(line, f"{level}: each entry must be a mapping {{kpi, weight, rule}}")
            weights_ok = False
            continue
        for key in sorted(set(raw) - {"kpi", "weight", "rule", "min_sample"}):
            bad(pnode.at(key), f"{level}: unknown key '{key}'")
        kid = raw.get("kpi")
        kpi = catalog.kpis.get(kid) if isinstance(kid, str) else None
        if kpi is None:
            bad(pnode.at("kpi"), f"{level}: unknown KPI '{kid}'")
        elif kid in seen:
            bad(pnode.at("kpi"), f"{level}: KPI '{kid}' is listed twice")
        elif level not in kpi.scopes:
            bad(pnode.at("kpi"), f"{level}: KPI '{kid}' is not computed for a {level} "
                                 f"(its scopes: {', '.join(kpi.scopes)})")
        weight: Any = raw.get("weight")
        if not _number(weight) or weight <= 0:
            bad(pnode.at("weight"), f"{level}: {kid}: 'weight' must be a number > 0, "
                                    f"not {weight!r}")
            weights_ok = False
            weight = 0.0
        total += float(weight)
        rule = raw.get("rule", "target")
        if rule not in RULES:
            bad(pnode.at("rule"), f"{level}: {kid}: unknown rule '{rule}' "
                                  f"(expected {' or '.join(RULES)})")
        elif rule == "target" and kpi is not None and level not in kpi.target_levels:
            bad(pnode.at("rule"), f"{level}: {kid}: rule 'target' but the KPI has no target "
                                  f"for a {level} (use 'minmax', or give the KPI a target "
                                  "and target_scopes)")
        ms = raw.get("min_sample", kpi.min_sample if kpi is not None else 0)
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            bad(pnode.at("min_sample"), f"{level}: {kid}: 'min_sample' must be a whole "
                                        f"number ≥ 0, not {ms!r}")
            ms = 0
        if kpi is not None:
            seen.add(kpi.id)
            parts.append(Part(kpi.id, float(weight), rule if rule in RULES else "target", ms))
    if weights_ok and abs(total - WEIGHT_TOTAL) > 1e-6:
        bad(node.at("kpis"), f"{level}: the weights add up to {total:g}, not "
                             f"{WEIGHT_TOTAL:g}")
    return LevelScheme(level, tuple(parts), blue, yellow, counts["top"], counts["bottom"])
