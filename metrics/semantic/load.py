"""Loading the layer: every ``*.yaml`` of the folder, parsed entry by entry, then checked
against the warehouse schema; all problems are collected, none stops the load."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError, Problem
from core.yamltext import compose_and_load
from metrics.semantic.model import Layer
from metrics.semantic.parse import Lines, parse_domain, parse_page, parse_table
from metrics.semantic.validate import check_schema

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "config" / "semantic"


def folder_of(folder: str | os.PathLike[str] | None = None) -> Path:
    return Path(folder) if folder else Path(os.environ.get("GONGZHI_SEMANTIC", DEFAULT_DIR))


@functools.cache
def _cached(folder: Path) -> tuple[Layer, tuple[Problem, ...]]:
    return _load(folder)


@functools.lru_cache(maxsize=64)
def _resolved(folder: Path, cwd: str) -> Path:
    return folder.resolve()


def _key(folder: str | os.PathLike[str] | None) -> Path:
    # The dashboard loads the layer a few dozen times a run (every KPI query asks which table
    # is street-level); resolving the path each time walks it with a system call per part.
    return _resolved(folder_of(folder), os.getcwd())


def load(folder: str | os.PathLike[str] | None = None, *, check: bool = True) -> Layer:
    """The semantic layer in ``folder`` (default ``config/semantic``); with ``check``, raise
    :class:`ConfigError` listing every problem of the layer against the warehouse schema."""
    layer, problems = _cached(_key(folder))
    if check and problems:
        raise ConfigError(list(problems), header=f"the semantic layer in {layer.folder} is "
                                                 "invalid")
    return layer


def problems(folder: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every problem of the layer on its own (not yet against the KPI catalogue)."""
    return list(_cached(_key(folder))[1])


def _load(folder: Path) -> tuple[Layer, tuple[Problem, ...]]:
    layer = Layer({}, {}, {}, folder)
    out: list[Problem] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        return layer, (Problem(str(folder), "no semantic layer files (*.yaml) found"),)
    for f in files:
        text = f.read_text(encoding="utf-8")
        try:
            node, data = compose_and_load(text)
            data = data or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            out.append(Problem(f"{f}:{mark.line + 1 if mark else 1}", f"not valid YAML: {e}"))
            continue
        lines = Lines(f, node)
        if not isinstance(data, dict) or set(data) - {"tables", "domains", "pages"}:
            out.append(Problem(lines.at(), "expected a mapping of 'tables', 'domains' and "
                                           "'pages'"))
            continue
        sections: tuple[tuple[str, Any, dict[str, Any]], ...] = (
            ("tables", parse_table, layer.tables),
            ("domains", parse_domain, layer.domains),
            ("pages", parse_page, layer.pages))
        for kind, parse, into in sections:
            section = data.get(kind) or {}
            if not isinstance(section, dict):
                out.append(Problem(lines.at(kind), f"'{kind}' must be a mapping by name"))
                continue
            for name, raw in section.items():
                if name in into:
                    out.append(Problem(lines.at(kind, name), f"{kind[:-1]} '{name}' is "
                                       f"declared twice (also at {into[name].place})"))
                    continue
                errs: list[Problem] = []
                spec = parse(str(name), raw, lines, errs) if isinstance(raw, dict) else None
                if spec is None and not errs:
                    errs.append(Problem(lines.at(kind, name), f"{kind[:-1]} '{name}' must be "
                                                              "a mapping"))
                out += errs
                if spec is not None:
                    into[name] = spec
    out += check_schema(layer)
    return layer, tuple(out)
