"""The bulletin's tables as rows of text, shared by the Word and the PDF writer (so both show
exactly the same figures): headline figures, the ranking and the three-colour board."""

from __future__ import annotations

from bulletin.content import Bulletin, status_word
from metrics import format as fmt

BOARD_WORDS = {"top": "红榜", "bottom": "黑榜", None: ""}
UNIT_WORDS = {"ratio": "%", "hours": "小时", "visits": "次", "per_1000": "人/千人",
              "points": "分", "households": "户", "items": "项", "count": "件/人",
              "per_team": "次/支"}

Table = tuple[list[str], list[list[str]], set[int]]  # header, rows, numeric columns


def rank_change(change: int | None, prev: int | None) -> str:
    if prev is None:
        return "新"
    if change is None:
        return ""
    return "—" if change == 0 else f"↑{change}" if change > 0 else f"↓{-change}"


def figure_rows(b: Bulletin) -> Table:
    rows = [[f.label, f.shown, f.shown_target, status_word(f.status), f.shown_delta]
            for f in b.figures]
    return ["指标", "本期", "目标", "状态", "较上月"], rows, {1, 2, 4}


def ranking_rows(b: Bulletin) -> Table:
    level = "街道" if b.ranking.level == "street" else "社区"
    rows = [[str(r.rank) if r.rank is not None else "—", r.name,
             f"{r.score:.2f}" if r.score is not None else "—", status_word(r.status),
             rank_change(r.rank_change, r.prev_rank) if r.rank is not None else "",
             BOARD_WORDS[r.board]] for r in b.ranking.rows]
    return ["排名", level, "得分（分）", "等次", "排名变化", "榜单"], rows, {0, 2}


def board_rows(b: Bulletin) -> Table:
    header = ["社区", "所属街道"] + [f"{label}（{UNIT_WORDS.get(unit, '')}）".replace("（）", "")
                                  for _, label, unit in b.board_kpis]
    rows = []
    for r in b.board:
        cells = [r["community"], r["street"]]
        for kpi, _, unit in b.board_kpis:
            value, status = r[kpi]
            shown = fmt.value(value, unit) if value is not None else "—"
            cells.append(f"{shown} {status_word(status)}" if status else shown)
        rows.append(cells)
    return header, rows, set(range(2, len(header)))
