"""The bulletin as a Word document (python-docx), in the layout of GB/T 9704 (党政机关公文格式):
A4, margins 37/35/28/26 mm, title at 二号 (22 pt) in a 小标宋-style serif, body at 三号 (16 pt)
with ~22 lines a page, headings 黑体 "一、" and 楷体 "（一）", page numbers "— 1 —" at the foot.
Tables put numbers right-aligned, units in the header, and the colours as words and symbols
(a printed copy is often black and white). Fonts come from ``[bulletin] fonts``."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from bulletin.content import Bulletin, status_word
from bulletin.tables import board_rows, figure_rows, ranking_rows

BODY_PT, TITLE_PT, TABLE_PT = 16, 22, 10.5
LINE_PT = 28.95  # 22 lines on the type area of 225 mm
RED = RGBColor(0xC0, 0x00, 0x00)
CN_NUM = "一二三四五六七八九十"


def _style(run, font: str, size: float, bold: bool = False,
           colour: RGBColor | None = None) -> None:
    run.font.name = font
    run.font.size = Pt(size)
    run.font.bold = bold
    if colour is not None:
        run.font.color.rgb = colour
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attr), font)


class _Writer:
    def __init__(self, b: Bulletin):
        self.b = b
        self.f = b.settings.fonts
        self.doc = Document()
        sec = self.doc.sections[0]
        sec.start_type = WD_SECTION_START.NEW_PAGE
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.top_margin, sec.bottom_margin = Mm(37), Mm(35)
        sec.left_margin, sec.right_margin = Mm(28), Mm(26)
        normal = self.doc.styles["Normal"]
        normal.font.name = self.f["body"]
        normal.font.size = Pt(BODY_PT)
        normal.element.get_or_add_rPr()
        self._footer()

    def _footer(self) -> None:
        """"— N —" centred at the foot: a PAGE field between two dashes."""
        p = self.doc.sections[0].footer.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _style(p.add_run("— "), self.f["body"], 14)
        fld = OxmlElement("w:fldSimple")
        fld.set(qn("w:instr"), "PAGE")
        run = p.add_run("1")
        _style(run, self.f["body"], 14)
        p._p.remove(run._r)
        fld.append(run._r)
        p._p.append(fld)
        _style(p.add_run(" —"), self.f["body"], 14)

    def para(self, text: str = "", *, font: str | None = None, size: float = BODY_PT,
             bold: bool = False, align: WD_ALIGN_PARAGRAPH | None = None, indent: bool = True,
             colour: RGBColor | None = None, exact: bool = True) -> None:
        p = self.doc.add_paragraph()
        pf = p.paragraph_format
        if exact:
            pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            pf.line_spacing = Pt(LINE_PT if size <= BODY_PT else size * 1.5)
        pf.space_before = pf.space_after = Pt(0)
        if indent and align is None:
            pf.first_line_indent = Pt(size * 2)  # two characters
        if align is not None:
            p.alignment = align
        _style(p.add_run(text), font or self.f["body"], size, bold, colour)

    def heading(self, n: int, text: str) -> None:
        self.para(f"{CN_NUM[n - 1]}、{text}", font=self.f["heading"])

    def subheading(self, n: int, text: str) -> None:
        self.para(f"（{CN_NUM[n - 1]}）{text}", font=self.f["kai"])

    def table(self, header: list[str], rows: list[list[str]], numeric: set[int]) -> None:
        t = self.doc.add_table(rows=len(rows) + 1, cols=len(header))
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        # python-docx works out the cell grid again on every ``row.cells``: take it once
        cells = t._cells
        n = len(header)
        for i, h in enumerate(header):
            p = cells[i].paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _style(p.add_run(h), self.f["heading"], TABLE_PT, bold=True)
        for r, row in enumerate(rows, 1):
            for i, v in enumerate(row):
                p = cells[r * n + i].paragraphs[0]
                p.alignment = (WD_ALIGN_PARAGRAPH.RIGHT if i in numeric
                               else WD_ALIGN_PARAGRAPH.LEFT)
                _style(p.add_run(v), self.f["body"], TABLE_PT)
        self.doc.add_paragraph()

    def image(self, caption: str, png: bytes) -> None:
        self.doc.add_picture(io.BytesIO(png), width=Mm(150))
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        self.para(caption, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, exact=False)


def write_docx(b: Bulletin) -> bytes:
    """The bulletin as .docx bytes."""
    w = _Writer(b)
    s = b.settings
    # 版头: issuing office (red), 文号, the red separating line (a bottom border)
    w.para(s.office, font=w.f["title"], size=26, bold=True, colour=RED,
           align=WD_ALIGN_PARAGRAPH.CENTER)
    w.para(b.number, align=WD_ALIGN_PARAGRAPH.CENTER)
    _red_rule(w.doc.paragraphs[-1])
    w.para()
    w.para(b.title, font=w.f["title"], size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER)
    w.para()
    w.para("、".join(s.recipients) + "：", indent=False, align=WD_ALIGN_PARAGRAPH.LEFT)
    area = b.scope.name
    w.para(f"现将{b.period_text}{area}基层治理重点指标情况通报如下。")

    w.heading(1, "总体情况")
    w.para(b.summary)
    header, rows, numeric = figure_rows(b)
    w.table(header, rows, numeric)

    w.heading(2, "排名情况")
    level = "街道" if b.ranking.level == "street" else "社区"
    w.subheading(1, f"{level}综合考评（{b.ranking.scheme.label_zh}）")
    header, rows, numeric = ranking_rows(b)
    w.table(header, rows, numeric)
    for caption, png in b.charts[:1]:
        w.image(caption, png)
    w.subheading(2, "社区三色评价")
    header, rows, numeric = board_rows(b)
    if rows:
        w.table(header, rows, numeric)
    else:
        w.para("本期无社区数据。")

    w.heading(3, "存在的问题")
    if not b.red_items:
        w.para("本期重点指标均未落后于目标。")
    for i, item in enumerate(b.red_items, 1):
        f = item.figure
        where = "、".join(item.areas) if item.areas else "—"
        w.subheading(min(i, 10), f"{f.label}{status_word(f.status)}")
        w.para(f"本期{f.shown}，目标{f.shown_target}，较上月{f.shown_delta}。"
               f"指标口径：{f.definition}责任单位：{where}。")
    if b.tasks:
        w.para("未办结督办事项：" + "；".join(
            f"{t['title']}（{t['unit']}，{t['due']}{'，已逾期' if t.get('overdue') else ''}）"
            for t in b.tasks) + "。")
    else:
        w.para("目前无未办结的督办事项。")
    for caption, png in b.charts[1:]:
        w.image(caption, png)

    w.heading(4, "下步工作要求")
    w.para(s.requirements)
    w.para()
    w.para(s.office, align=WD_ALIGN_PARAGRAPH.RIGHT)
    w.para(b.issued_text, align=WD_ALIGN_PARAGRAPH.RIGHT)
    buf = io.BytesIO()
    w.doc.save(buf)
    return buf.getvalue()


def _red_rule(p) -> None:
    """A red line under the 版头 (a paragraph border, as Word draws it)."""
    ppr = p._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "12"), ("w:space", "4"), ("w:color", "C00000")):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)
