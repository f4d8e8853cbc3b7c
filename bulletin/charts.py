"""The bulletin's charts as PNG images (matplotlib, Agg, with a CJK font from the system)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from bulletin.content import Bulletin

COLOURS = {"blue": "#2f6fb3", "yellow": "#e0a800", "red": "#c0392b", None: "#9e9e9e"}
FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSerifCJK-Regular.ttc")


@cache
def _font(paths: tuple[Path, ...]) -> str | None:
    """Register the first Noto CJK font found under ``paths``; its family name."""
    from matplotlib import font_manager

    for root in paths:
        for name in FONT_FILES:
            # the Debian package's place first: walking every font folder takes seconds
            known = [root / "opentype" / "noto" / name]
            found = [k for k in known if k.is_file()] or (
                sorted(root.rglob(name)) if root.is_dir() else [])
            for f in found:
                font_manager.fontManager.addfont(str(f))
                # a collection brings every face: the Simplified Chinese one, if there
                names = {e.name for e in font_manager.fontManager.ttflist}
                sc = "Noto Sans CJK SC"
                return sc if sc in names else font_manager.FontProperties(
                    fname=str(f)).get_name()
    return None


def charts(b: Bulletin) -> list[tuple[str, bytes]]:
    """(caption, PNG) pairs: the composite scores of the ranked areas, and the headline
    figures' attainment of target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = _font(tuple(b.settings.font_paths))
    if family:
        plt.rcParams["font.family"] = family
    plt.rcParams["axes.unicode_minus"] = False
    out: list[tuple[str, bytes]] = []
    rows = [r for r in b.ranking.rows if r.score is not None]
    if rows:
        level = "街道" if b.ranking.level == "street" else "社区"
        fig, ax = plt.subplots(figsize=(6.3, max(2.4, 0.26 * len(rows) + 0.8)), dpi=150)
        names = [r.name for r in rows][::-1]
        ax.barh(names, [r.score or 0 for r in rows][::-1],
                color=[COLOURS[r.status] for r in rows][::-1])
        ax.set_xlim(0, 100)
        ax.set_xlabel("综合考评得分（分）")
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        out.append((f"图1  {level}综合考评得分（蓝≥{_lv(b).blue:g}，黄≥{_lv(b).yellow:g}）",
                    _png(fig)))
    figs = [f for f in b.figures if f.value is not None and f.target]
    if figs:
        fig, ax = plt.subplots(figsize=(6.3, max(2.4, 0.3 * len(figs) + 0.8)), dpi=150)
        pct = [min(150.0, 100 * (f.value / f.target if f.direction == "higher"
                                 else (f.target / f.value if f.value else 1.0)))
               for f in figs if f.value is not None and f.target]
        ax.barh([f.label for f in figs][::-1], pct[::-1],
                color=[COLOURS[f.status] for f in figs][::-1])
        ax.axvline(100, color="#333333", linewidth=1, linestyle="--")
        ax.set_xlabel("目标完成度（%，虚线为目标）")
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        out.append((f"图{len(out) + 1}  重点指标目标完成情况", _png(fig)))
    return out


def _lv(b: Bulletin):
    return b.ranking.scheme.level(b.ranking.level)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
