"""Repository-wide hardening rules, checked on the source text."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dashboard", "metrics", "ingest", "warehouse", "gongzhi", "core", "bulletin")


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]


# Style sheets (no data): the big screen's theme and the phone layout. Each st.html there
# must be a <style> of module constants or a whole number.
# modules whose st.html only injects a fixed style sheet (constants, no data)
STYLE_SHEETS = {"dashboard/components/screen_style.py", "dashboard/components/geomap.py"}
STYLE_ONLY = re.compile(r'st\.html\(f"<style>(\{[A-Z_]+\}|:root \{\{ --gz-ticker-seconds: '
                        r'\{int\(seconds\)\}s; \}\})</style>"\)')


def test_no_unsafe_html_anywhere() -> None:
    """Data must never reach HTML unescaped: no unsafe_allow_html=True (or unsafe html
    components) in product code; st.html only for fixed style sheets."""
    bad = []
    for p in _sources():
        text = p.read_text(encoding="utf-8")
        rel = p.relative_to(ROOT).as_posix()
        for i, line in enumerate(text.splitlines(), 1):
            if rel in STYLE_SHEETS and STYLE_ONLY.search(line):
                continue
            if re.search(r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.html\(", line):
                bad.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "unsafe HTML in product code:\n" + "\n".join(bad)


def test_no_sql_built_from_strings_in_product_code() -> None:
    """SQL goes through SQLAlchemy Core with bound parameters; f-strings into execute() are
    refused (the few DDL statements with fixed identifiers are listed here by file)."""
    # (engine.py: one SQLite PRAGMA whose value is an int constant, journal_size_limit)
    allowed = {"warehouse/audit.py", "warehouse/locks.py", "warehouse/bulk.py",
               "warehouse/engine.py"}
    bad = []
    for p in _sources():
        rel = p.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"execute\((text\()?f[\"']|\.format\(.*\)\s*\)\s*$", line) and \
                    "execute" in line:
                bad.append(f"{rel}:{i}: {line.strip()}")
    assert not bad, "SQL built from strings:\n" + "\n".join(bad)


def test_xml_is_parsed_with_defusedxml_only() -> None:
    bad = [str(p.relative_to(ROOT)) for p in _sources()
           if re.search(r"^\s*(import|from)\s+(xml\.|lxml)", p.read_text(encoding="utf-8"),
                        re.M)]
    assert not bad, f"XML parsed without defusedxml in {bad}"


# Streamlit elements whose text (first argument, or label/help/body) renders as Markdown.
MARKDOWN_CALLS = {"markdown", "caption", "title", "header", "subheader", "info", "success",
                  "warning", "error", "toast", "write", "button", "download_button",
                  "form_submit_button", "metric", "badge", "tabs", "expander", "checkbox",
                  "radio", "selectbox", "segmented_control", "number_input", "text_input",
                  "link_button", "page_link", "popover", "multiselect", "toggle", "slider",
                  "date_input", "pills"}
# Lookup tables of our own markup (status marks, the strings table): not data.
MARKUP_TABLES = {"MARK", "STRINGS"}


def _markdown_problems(sources: list[Path]) -> list[str]:
    """Calls that put text not known to be safe into a Markdown-rendering element.

    Safe: literals, ``t(…)`` and ``md(…)`` (dashboard.i18n), functions annotated
    ``-> Markdown``, our own markup tables, and f-strings, lists, conditionals and sums made
    of those. Anything else (a name, a row value, a catalogue field) must go through md()."""
    import ast

    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sources}
    safe_funcs = {"t", "md", "Markdown"} | {
        n.name for tree in trees.values() for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.returns is not None
        and ast.unparse(n.returns).rsplit(".", 1)[-1] == "Markdown"}

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute):
            return node.attr
        return node.id if isinstance(node, ast.Name) else None

    def safe(e: ast.AST | None) -> bool:
        if e is None or isinstance(e, ast.Constant):
            return True
        if isinstance(e, ast.JoinedStr):
            return all(safe(v.value) for v in e.values if isinstance(v, ast.FormattedValue))
        if isinstance(e, ast.Call):
            return name_of(e.func) in safe_funcs
        if isinstance(e, ast.IfExp):
            return safe(e.body) and safe(e.orelse)
        if isinstance(e, ast.BinOp):
            return safe(e.left) and safe(e.right)
        if isinstance(e, ast.List | ast.Tuple):
            return all(safe(x) for x in e.elts)
        if isinstance(e, ast.ListComp):
            return safe(e.elt)
        if isinstance(e, ast.Lambda):
            return safe(e.body)
        if isinstance(e, ast.Subscript):  # MARK[status], STRINGS[key][lang]
            return name_of(e.value) in MARKUP_TABLES or (
                isinstance(e.value, ast.Subscript) and safe(e.value))
        return False

    bad = []
    for p, tree in trees.items():
        where = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p.name
        for n in ast.walk(tree):
            if not isinstance(n, ast.Call):
                continue
            name = name_of(n.func)
            args: list[ast.AST] = []
            on_logger = isinstance(n.func, ast.Attribute) and name_of(n.func.value) in (
                "log", "logger", "logging")  # log.info(…) writes the server log, not a page
            if name in MARKDOWN_CALLS and not on_logger:
                # page_link's first argument is a page (its title is ours); its label is checked
                args = [] if name == "page_link" else n.args[:1]
                widget = name
            elif name == "bound" and len(n.args) >= 2:  # state.bound(widget, label, …)
                args = [n.args[1]]
                widget = name_of(n.args[0]) or ""
            else:
                continue
            args += [k.value for k in n.keywords if k.arg in ("label", "help", "body")]
            if widget in ("segmented_control", "pills", "radio"):  # options render as Markdown
                args += [k.value for k in n.keywords if k.arg == "format_func"]
            bad += [f"{where}:{n.lineno}: {name}({ast.unparse(a)[:80]})"
                    for a in args if not safe(a)]
    return bad


def test_data_in_markdown_is_escaped() -> None:
    """Every text a Markdown-rendering element shows is our own string or escaped data."""
    bad = _markdown_problems(list((ROOT / "dashboard").rglob("*.py")))
    assert not bad, "unescaped text in Markdown elements (wrap data in md()):\n" + "\n".join(bad)


def test_the_markdown_scan_finds_unescaped_data(tmp_path: Path) -> None:
    """The scan above is not vacuous: it flags the shapes it must flag."""
    page = tmp_path / "page.py"
    page.write_text(
        "st.caption(view.scope.name)\n"
        "st.caption(f'{area} · {t(\"x\")}')\n"
        "col.button(label=row['name'])\n"
        "st.metric('x', 1, help=kpi.description)\n"
        "bound(st.segmented_control, t('a'), opts, 'k', format_func=lambda d: names[d])\n"
        "st.caption(md(view.scope.name))\n"
        "st.caption(t('overview.caption', area=view.scope.name))\n"
        "log.info(view.scope.name)\n"
        "st.page_link(state.page('x.py'), label=row['name'])\n", encoding="utf-8")
    bad = _markdown_problems([page])
    assert [b.split(":")[1] for b in bad] == ["1", "2", "3", "4", "5", "9"], bad


def test_every_third_party_import_is_declared() -> None:
    """A module imported by product code is a declared dependency in pyproject.toml, not a
    package that happens to come along with another one (numpy came with polars' extras)."""
    import ast
    import importlib.metadata
    import sys
    import tomllib

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"]
    declared = {norm(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in deps}
    # the contract kit's pytest class may use what the `testing` extra declares, nothing else
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]["testing"]
    kit = declared | {norm(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in extra}
    dists = importlib.metadata.packages_distributions()
    undeclared = []
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in PACKAGES:
                    continue
                allowed = kit if p.is_relative_to(ROOT / "ingest" / "testing") else declared
                if not {norm(d) for d in dists.get(top, [])} & allowed:
                    undeclared.append(f"{p.relative_to(ROOT)}: {top}")
    assert not undeclared, "imported but not in pyproject's dependencies:\n" + "\n".join(
        sorted(set(undeclared)))


def test_quarantine_reason_codes_are_defined_in_one_place() -> None:
    """Reason codes live in core/reasons.py (the dashboard's filter and labels
    derive from it): no other ingest module defines a snake_case code constant or passes a
    literal reason that is not one of them."""
    import ast

    from core import reasons

    bad = []
    for p in (ROOT / "ingest").rglob("*.py"):
        if p.name == "reasons.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str) \
                    and re.fullmatch(r"[a-z]+(_[a-z]+)+(_\{level\})?", node.value.value) \
                    and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno}: {node.value.value}")
            if isinstance(node, ast.keyword) and node.arg == "reason" \
                    and isinstance(node.value, ast.Constant) \
                    and node.value.value not in reasons.CODES:
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno}: reason={node.value.value!r}")
    assert not bad, "reason codes outside core/reasons.py:\n" + "\n".join(bad)
