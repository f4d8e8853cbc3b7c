"""The bulletin as a PDF, typeset by typst (bulletin/template.typ) with the CJK fonts
embedded; the same content and tables as the Word version."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bulletin.content import Bulletin, status_word
from bulletin.tables import board_rows, figure_rows, ranking_rows

TEMPLATE = Path(__file__).with_name("template.typ")
CN_NUM = "一二三四五六七八九十"


def blocks(b: Bulletin, charts: list[str]) -> list[dict[str, Any]]:
    """The document as a list of blocks, in reading order (``charts``: image file names)."""
    s = b.settings
    out: list[dict[str, Any]] = [
        {"t": "office", "text": s.office}, {"t": "number", "text": b.number},
        {"t": "title", "text": b.title},
        {"t": "to", "text": "、".join(s.recipients) + "："},
        {"t": "para", "text": f"现将{b.period_text}{b.scope.name}基层治理重点指标情况通报如下。"},
        {"t": "heading", "text": "一、总体情况"}, {"t": "para", "text": b.summary}]

    def table(t: tuple[list[str], list[list[str]], set[int]]) -> dict[str, Any]:
        return {"t": "table", "header": t[0], "rows": t[1], "numeric": sorted(t[2])}

    out.append(table(figure_rows(b)))
    level = "街道" if b.ranking.level == "street" else "社区"
    out += [{"t": "heading", "text": "二、排名情况"},
            {"t": "subheading", "text": f"（一）{level}综合考评（{b.ranking.scheme.label_zh}）"},
            table(ranking_rows(b))]
    for (caption, _), path in list(zip(b.charts, charts, strict=True))[:1]:
        out.append({"t": "image", "path": path, "caption": caption})
    out.append({"t": "subheading", "text": "（二）社区三色评价"})
    board = board_rows(b)
    out.append(table(board) if board[1] else {"t": "para", "text": "本期无社区数据。"})
    out.append({"t": "heading", "text": "三、存在的问题"})
    if not b.red_items:
        out.append({"t": "para", "text": "本期重点指标均未落后于目标。"})
    for i, item in enumerate(b.red_items, 1):
        f = item.figure
        where = "、".join(item.areas) if item.areas else "—"
        out += [{"t": "subheading", "text": f"（{CN_NUM[min(i, 10) - 1]}）{f.label}"
                                            f"{status_word(f.status)}"},
                {"t": "para", "text": f"本期{f.shown}，目标{f.shown_target}，较上月"
                                      f"{f.shown_delta}。指标口径：{f.definition}责任单位："
                                      f"{where}。"}]
    if b.tasks:
        out.append({"t": "para", "text": "未办结督办事项：" + "；".join(
            f"{t['title']}（{t['unit']}，{t['due']}{'，已逾期' if t.get('overdue') else ''}）"
            for t in b.tasks) + "。"})
    else:
        out.append({"t": "para", "text": "目前无未办结的督办事项。"})
    for (caption, _), path in list(zip(b.charts, charts, strict=True))[1:]:
        out.append({"t": "image", "path": path, "caption": caption})
    out += [{"t": "heading", "text": "四、下步工作要求"}, {"t": "para", "text": s.requirements},
            {"t": "right", "text": s.office}, {"t": "right", "text": b.issued_text}]
    return out


def write_pdf(b: Bulletin) -> bytes:
    """The bulletin as PDF bytes (typst; fonts from ``[bulletin] font_paths``)."""
    import typst

    with tempfile.TemporaryDirectory(prefix="gongzhi-bulletin-") as tmp:
        root = Path(tmp)
        names = []
        for i, (_, png) in enumerate(b.charts, 1):
            (root / f"chart{i}.png").write_bytes(png)
            names.append(f"chart{i}.png")
        data = {"title": b.title, "fonts": b.settings.fonts, "blocks": blocks(b, names)}
        (root / "data.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        (root / "main.typ").write_text(TEMPLATE.read_text("utf-8"), "utf-8")
        pdf = typst.compile(str(root / "main.typ"), root=str(root),
                            font_paths=[str(p) for p in b.settings.font_paths])
    assert isinstance(pdf, bytes)
    return pdf
