"""The PDF foundation every document is built on (domain.md §8): A4, Chinese, numbered, fast.

What a renderer gets here, so that every document of the programme looks and reads the same:

* :func:`build_pdf` — the A4 page template: a header (the platform's name, the document's title, a
  rule), a footer (生成时间, 第 x 页 共 y 页, 文件编号 and the version when it is not the first) and
  the margins; returns the file's bytes. "共 y 页" needs the page count before the pages are
  written: :class:`_PagedCanvas` keeps each page's drawing state until the end and decorates them
  all at once, so a document is laid out in **one** pass (no multiBuild).
* Chinese text with the CID font ``STSong-Light`` (reportlab's ``UnicodeCIDFont``): nothing to embed,
  no font file to ship, renders on a machine without fonts installed (the reader supplies its own
  Song face). Runs of ASCII (figures, contract numbers, dates) are set in Helvetica, one of the 14
  standard PDF fonts, because readers that substitute the CID font (poppler) space Latin glyphs by
  the CID metrics and the figures would look loose. Fonts are registered once, at import: nothing
  is loaded per document or per page.
* Flowables: :func:`document_title` (bold title, optional subtitle), :func:`heading`,
  :func:`paragraph` (plain text: data never becomes markup; justified, CJK line rules), :func:`clauses` (第一条 …),
  :func:`field_table` (label / value grid), :func:`data_table` (a :class:`TableData` as a table whose
  header row repeats on every page it spans), :func:`signature_block` (parties, signature lines,
  dashed seal circles), :func:`spacer`. Charts are ``reportlab.graphics`` Drawings: they are
  flowables already, with :data:`FONT` for their labels.
* Amounts: :func:`figures` ``1,000,000.00``, :func:`yuan` ``¥1,000,000.00`` and :func:`capitals`
  ``人民币壹佰万元整`` (core.money, PBoC rules), :func:`amount_text` both at once.

:class:`TableData` is also what ``core.documents.rows`` writes to Excel, so a statement's PDF tables
and its downloadable rows come from the same values.

Speed: a two-page seed-loan contract renders in about 15 ms. Table cells are plain
strings whenever the text fits its column, running text is broken into lines by a small flowable of
our own (reportlab's CJK ``Paragraph`` costs several milliseconds per paragraph), styles are built
once, and no image is used anywhere.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import CondPageBreak, Flowable, SimpleDocTemplate, Spacer, Table, TableStyle

from core import clock
from core.money import format_cny, from_fen, to_chinese_capitals, to_fen

__all__ = [
    "CONTENT_WIDTH",
    "FONT",
    "LATIN_FONT",
    "PLATFORM_NAME",
    "Column",
    "Signatory",
    "TableData",
    "amount_text",
    "build_pdf",
    "capitals",
    "chinese_date",
    "chinese_ordinal",
    "clauses",
    "data_table",
    "document_title",
    "draw_text",
    "field_table",
    "figures",
    "format_cell",
    "heading",
    "note",
    "paragraph",
    "signature_block",
    "spacer",
    "styles",
    "text_width",
    "yuan",
]

FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PLATFORM_NAME = "科技金融服务平台"
"""The issuing platform, printed in every page header (the interface's own name)."""

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 26 * mm
MARGIN_BOTTOM = 22 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#8c8c8c")
HEADER_FILL = colors.HexColor("#e8edf3")
ZEBRA_FILL = colors.HexColor("#f6f8fa")
TOTAL_FILL = colors.HexColor("#eef1f4")
SEAL_INK = colors.HexColor("#b22222")

# Runs a Latin font can set: printable ASCII plus the yen sign (WinAnsi has it).
_LATIN_RUN = re.compile(r"[\x20-\x7e\u00a5]+")
_ASCII_ONLY = re.compile(r"[\x20-\x7e\u00a5]*")
CHINESE_NUMERALS = "零一二三四五六七八九十"


# ------------------------------------------------------------------------------------------ styles


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle  # running text, first line indented two characters
    plain: ParagraphStyle  # no indent: salutations, single lines
    clause: ParagraphStyle
    small: ParagraphStyle
    note: ParagraphStyle
    subtitle: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_center: ParagraphStyle


def _style(name: str, size: float, leading: float, **kwargs: Any) -> ParagraphStyle:
    kwargs.setdefault("textColor", INK)
    return ParagraphStyle(name, fontName=FONT, fontSize=size, leading=leading, wordWrap="CJK", **kwargs)


styles = _Styles(
    body=_style("body", 10.5, 17, alignment=TA_JUSTIFY, spaceAfter=3, firstLineIndent=21),
    plain=_style("plain", 10.5, 17, alignment=TA_LEFT, spaceAfter=3),
    clause=_style("clause", 10.5, 17, alignment=TA_JUSTIFY, firstLineIndent=0, spaceAfter=4),
    small=_style("small", 8.5, 12),
    note=_style("note", 8.5, 12, textColor=MUTED, spaceBefore=2, spaceAfter=4),
    subtitle=_style("subtitle", 10.5, 15, alignment=TA_CENTER, textColor=MUTED, spaceAfter=6),
    cell=_style("cell", 8.5, 11),
    cell_right=_style("cell_right", 8.5, 11, alignment=TA_RIGHT),
    cell_center=_style("cell_center", 8.5, 11, alignment=TA_CENTER),
)
"""Text styles, built once (size, leading, indent, alignment, colour, spacing of :func:`paragraph`)."""


def _segments(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (font, run) pairs: ASCII runs in the Latin font, the rest in the Chinese one."""
    out: list[tuple[str, str]] = []
    position = 0
    for match in _LATIN_RUN.finditer(text):
        if match.start() > position:
            out.append((FONT, text[position:match.start()]))
        out.append((LATIN_FONT, match.group(0)))
        position = match.end()
    if position < len(text):
        out.append((FONT, text[position:]))
    return out


@lru_cache(maxsize=4096)
def _measured_runs(text: str, size: float) -> tuple[float, tuple[tuple[str, str], ...]]:
    """``text``'s width at ``size`` and its (font, run) pairs, cut and measured once.

    Page headers and footers, labels, signature lines and table cells repeat from page to page and
    from document to document: measuring them again each time was a good share of a contract's time.
    """
    runs = tuple(_segments(text))
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in runs), runs


def text_width(text: str, size: float) -> float:
    """The width of ``text`` set as :func:`draw_text` sets it (mixed fonts)."""
    return _measured_runs(text, size)[0]


def draw_text(canvas: pdfcanvas.Canvas, x: float, y: float, text: str, size: float, *, align: str = "left",
              bold: bool = False, color: colors.Color = INK) -> None:
    """Draw one line of mixed Chinese/Latin text at ``(x, y)``; ``align`` left, center or right of ``x``.

    ``bold`` strokes the outline as well as filling it (text render mode 2): the CID font has no bold
    face, and a stroked outline is how Chinese documents set bold in a Song face.
    """
    width, runs = _measured_runs(text, size)
    if align == "center":
        x -= width / 2
    elif align == "right":
        x -= width
    if bold:
        # The render mode is graphics state: saved and restored, it cannot leak into later text.
        canvas.saveState()
        canvas.setStrokeColor(color)
        canvas.setLineWidth(size / 28)
    code = ["BT", _origin(x, y), _fill(color)]
    if bold:
        code.append("2 Tr")
    names = _FontNames(canvas)
    for font, run in runs:
        code += (_font_operator(names[font], size), _show(font, run))
    code.append("ET")
    canvas._code.append(" ".join(code))
    if bold:
        canvas.restoreState()


# ------------------------------------------------------------------------------------ text operators
#
# Text is written as PDF operators directly rather than through reportlab's text objects: for every
# run those measure the text again to move a cursor nobody reads, and for the CID font they set the
# font twice. The operators are the same ones reportlab writes (origin, colour, character spacing,
# font, show string), the strings encoded the same way, so the page looks exactly the same; the
# encoded strings are cached, since labels, figures and dates repeat from page to page.

_CID_FONT = pdfmetrics.getFont(FONT)
_LATIN_ENCODING = "cp1252"  # Helvetica's WinAnsiEncoding for the runs _LATIN_RUN admits (ASCII and ¥)


class _FontNames:
    """The document's internal names of the two fonts (``/F1`` ...), registered on first use."""

    __slots__ = ("_canvas", "_names")

    def __init__(self, canvas: pdfcanvas.Canvas) -> None:
        self._canvas, self._names = canvas, {}

    def __getitem__(self, font: str) -> str:
        name = self._names.get(font)
        if name is None:
            name = self._names[font] = self._canvas._doc.getInternalFontName(font)
        return name


@lru_cache(maxsize=8192)
def _origin(x: float, y: float) -> str:
    """Move to ``(x, y)``; cached, since the same lines fall at the same places page after page."""
    return f"1 0 0 1 {fp_str(x, y)} Tm"


@lru_cache(maxsize=4096)
def _char_space(space: float) -> str:
    return f"{fp_str(space)} Tc"


@lru_cache(maxsize=64)
def _fill_rgb(red: float, green: float, blue: float) -> str:
    return f"{fp_str(red, green, blue)} rg"


def _fill(color: colors.Color) -> str:
    return _fill_rgb(color.red, color.green, color.blue)


@lru_cache(maxsize=256)
def _font_operator(name: str, size: float, leading: float | None = None) -> str:
    """Set the font, and the leading (reportlab's default: 1.2 x the size, as its text objects set it)."""
    return f"{name} {fp_str(size)} Tf {fp_str(size * 1.2 if leading is None else leading)} TL"


@lru_cache(maxsize=16384)
def _show(font: str, text: str) -> str:
    """The ``Tj`` operator showing ``text`` in ``font`` (one of the two fonts of this module)."""
    if font == FONT:
        return f"({_CID_FONT.formatForPdf(text)}) Tj"
    return f"({escapePDF(text.encode(_LATIN_ENCODING))}) Tj"


def _can_show(font: str, text: str) -> bool:
    """Whether :func:`_show` can write ``text`` in ``font`` (else reportlab's own text objects do)."""
    return font == FONT or (font == LATIN_FONT and _ASCII_ONLY.fullmatch(text) is not None)


# ------------------------------------------------------------------------------------ line breaking

# A line may not start with closing punctuation (it hangs in the margin instead) nor end with an
# opening one (it moves to the next line): the basic rules of Chinese typesetting (禁则).
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕”’…,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【〔“‘([{¥")
_UNITS = re.compile(r"[\x21-\x7e\u00a5]+| +|.", re.DOTALL)


@lru_cache(maxsize=8192)
def _unit(text: str, size: float) -> tuple[str, str, float]:
    """A breakable unit: (font, text, width). ASCII words never break; every other character may."""
    font = LATIN_FONT if _LATIN_RUN.fullmatch(text) else FONT
    return font, text, pdfmetrics.stringWidth(text, font, size)


@lru_cache(maxsize=4096)
def _break_lines(text: str, size: float, width: float, first_indent: float) -> tuple[tuple[tuple[str, str, float], ...], ...]:
    """Greedy line breaking of mixed Chinese/Latin text into lines of units (explicit newlines kept).

    Cached (an immutable result): a contract's clauses and a statement's notes are the same text at
    the same width in document after document, so each is broken into lines once.
    """
    lines: list[list[tuple[str, str, float]]] = []
    for paragraph_index, part in enumerate(text.split("\n")):
        before = len(lines)
        line: list[tuple[str, str, float]] = []
        used = 0.0
        room = width - (first_indent if paragraph_index == 0 else 0)
        for token in _UNITS.findall(part):
            unit = _unit(token, size)
            if used + unit[2] <= room or not line:
                if unit[2] > room and not line and len(token) > 1:  # one ASCII word wider than the line
                    for char in token:
                        piece = _unit(char, size)
                        if used + piece[2] > room and line:
                            lines.append(line)
                            line, used, room = [], 0.0, width
                        line.append(piece)
                        used += piece[2]
                    continue
                line.append(unit)
                used += unit[2]
                continue
            if token.isspace():
                lines.append(line)
                line, used, room = [], 0.0, width
                continue
            if token[0] in _NO_LINE_START:
                line.append(unit)  # hanging punctuation
                lines.append(line)
                line, used, room = [], 0.0, width
                continue
            carried = []
            while len(line) > 1 and line[-1][1][-1] in _NO_LINE_END:
                carried.insert(0, line.pop())
            while line and line[-1][1].isspace():
                line.pop()
            lines.append(line)
            line = carried + [unit]
            used, room = sum(u[2] for u in line), width
        if line or len(lines) == before:  # no empty line after a hanging punctuation mark
            lines.append(line)
    return tuple(tuple(line) for line in lines)


@lru_cache(maxsize=4096)
def _set_lines(text: str, size: float, width: float, first_indent: float) -> tuple[tuple[float, int, tuple[tuple[str, str], ...]], ...]:
    """Each line of :func:`_break_lines` as drawn: its natural width, its glyph count and its runs of
    one font each (one show operator per run, not per character: the PDF stays small and fast)."""
    out = []
    for line in _break_lines(text, size, width, first_indent):
        runs: list[tuple[str, list[str]]] = []
        for font, unit_text, _width in line:
            if runs and runs[-1][0] == font:
                runs[-1][1].append(unit_text)
            else:
                runs.append((font, [unit_text]))
        out.append((sum(unit[2] for unit in line), sum(len(unit[1]) for unit in line),
                    tuple((font, "".join(texts)) for font, texts in runs)))
    return tuple(out)


class _TextBlock(Flowable):
    """Running text in the mixed fonts, broken into lines here rather than by ``Paragraph``.

    Plain text only (no markup: data can never turn into formatting), first-line indent, justified or
    aligned lines, splitting across pages by lines. Several times faster than a CJK ``Paragraph``,
    which is what keeps a contract within tens of milliseconds.
    """

    def __init__(self, text: str, style: ParagraphStyle) -> None:
        super().__init__()
        self.text = str(text)
        self.style = style
        self.size, self.leading = style.fontSize, style.leading
        self.spaceBefore, self.spaceAfter = style.spaceBefore, style.spaceAfter
        self._lines: Sequence[Sequence[tuple[str, str, float]]] | None = None
        self._for_width: float | None = None
        self._first = True  # False for the continuation of a split block (no indent)
        self._indent = style.firstLineIndent  # the first line's indent the paragraph was broken with
        self._start = 0  # the index of this block's first line among the paragraph's lines
        self._offset = (0.0, 0.0)  # where drawOn places the block on the page

    def _layout(self, width: float) -> Sequence[Sequence[tuple[str, str, float]]]:
        if self._lines is None or self._for_width != width:
            self._indent = self.style.firstLineIndent if self._first else 0
            self._lines = _break_lines(self.text, self.size, width, self._indent)
            self._for_width, self._start = width, 0
        return self._lines

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        lines = self._layout(available_width)
        self.width = available_width  # aligned within the full width (centred, right) by draw()
        self.height = len(lines) * self.leading
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        lines = self._layout(available_width)
        fit = int((available_height + 0.01) // self.leading)
        if fit < 1 or fit >= len(lines):
            return []
        head, tail = _TextBlock(self.text, self.style), _TextBlock(self.text, self.style)
        head._lines, head._for_width, head._first = lines[:fit], available_width, self._first
        tail._lines, tail._for_width, tail._first = lines[fit:], available_width, False
        head._indent = tail._indent = self._indent
        head._start, tail._start = self._start, self._start + fit
        head.spaceAfter, tail.spaceBefore = 0, 0
        return [head, tail]

    def drawOn(self, canvas: pdfcanvas.Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N803
        """Draw at page coordinates, between ``q`` and ``Q``, without translating the canvas.

        reportlab's ``drawOn`` saves the canvas's state and translates it for every flowable; a text
        block's operators set no state the canvas object tracks (only the PDF's own, restored by
        ``Q``), so the lines are simply placed at ``(x, y)`` plus their own offsets.
        """
        self._offset = (self._hAlignAdjust(x, _sW), y)
        self.canv = canvas
        canvas._code.append("q")
        self.draw()
        canvas._code.append("Q")
        del self.canv
        self._offset = (0.0, 0.0)

    def draw(self) -> None:
        canvas, style = self.canv, self.style
        left, bottom = self._offset
        count = len(self._lines or ())
        width = self._for_width or self.width
        lines = _set_lines(self.text, self.size, width, self._indent)[self._start:self._start + count]
        names = _FontNames(canvas)
        # One text object for the whole block; the character spacing and the font are text state,
        # kept from line to line, so they are written only when they change.
        code = ["BT", _fill(style.textColor)]
        current_space, current_font = 0.0, None
        for index, (natural, glyphs, runs) in enumerate(lines):
            indent = style.firstLineIndent if (index == 0 and self._first) else 0
            room = width - indent
            x, char_space = indent, 0.0
            last = index == count - 1
            if style.alignment == TA_JUSTIFY and not last and natural < room:
                if glyphs > 1 and room - natural < self.size * 2:
                    char_space = (room - natural) / (glyphs - 1)
            elif style.alignment == TA_CENTER:
                x = (self.width - natural) / 2
            elif style.alignment == TA_RIGHT:
                x = self.width - natural
            baseline = self.height - (index + 1) * self.leading + (self.leading - self.size) / 2 + self.size * 0.18
            code.append(_origin(left + x, bottom + baseline))
            if char_space != current_space:
                code.append(_char_space(char_space))
                current_space = char_space
            for font, text in runs:
                if font != current_font:
                    code.append(_font_operator(names[font], self.size))
                    current_font = font
                code.append(_show(font, text))
        if current_space:
            code.append("0 Tc")  # text state outlives the text object: leave none behind
        code.append("ET")
        canvas._code.append(" ".join(code))


# ----------------------------------------------------------------------------------------- amounts


def figures(amount: Decimal | int | None) -> str:
    """``1,000,000.00`` (no currency sign: table columns say 单位：元); None as an empty string."""
    if amount is None:
        return ""
    return f"{from_fen(to_fen(amount)):,.2f}"


def yuan(amount: Decimal | int) -> str:
    """``¥1,000,000.00`` (core.money.format_cny)."""
    return format_cny(amount)


def capitals(amount: Decimal | int) -> str:
    """``人民币壹佰万元整`` (core.money.to_chinese_capitals, PBoC rules)."""
    return to_chinese_capitals(amount)


def amount_text(amount: Decimal | int) -> str:
    """The way a contract states a sum: ``人民币壹佰万元整（¥1,000,000.00）``."""
    return f"{capitals(amount)}（{yuan(amount)}）"


def chinese_date(day: date | None) -> str:
    """``2025年6月23日``; None as blanks to be filled in by hand (``    年  月  日``)."""
    if day is None:
        return "    年    月    日"
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_ordinal(number: int) -> str:
    """1 -> 一, 12 -> 十二, 23 -> 二十三 (article numbers up to 99)."""
    if number <= 10:
        return CHINESE_NUMERALS[number]
    tens, units = divmod(number, 10)
    return (CHINESE_NUMERALS[tens] if tens > 1 else "") + "十" + (CHINESE_NUMERALS[units] if units else "")


# ---------------------------------------------------------------------------------------- flowables


class _Line(Flowable):
    """A single line of (optionally bold) text, e.g. a document title or a section heading."""

    def __init__(self, text: str, size: float, *, align: str = "center", bold: bool = True,
                 space_before: float = 0, space_after: float = 0, color: colors.Color = INK) -> None:
        super().__init__()
        self.text, self.size, self.align, self.bold, self.color = text, size, align, bold, color
        self.spaceBefore, self.spaceAfter = space_before, space_after

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.size * 1.35

    def draw(self) -> None:
        x = {"left": 0, "center": self.width / 2, "right": self.width}[self.align]
        draw_text(self.canv, x, self.size * 0.3, self.text, self.size, align=self.align, bold=self.bold,
                  color=self.color)


def document_title(text: str, subtitle: str | None = None) -> list[Flowable]:
    """The title (bold, centred, large) and an optional grey subtitle under it (e.g. the number)."""
    story: list[Flowable] = [_Line(text, 20, space_before=2, space_after=4)]
    if subtitle:
        story.append(_TextBlock(subtitle, styles.subtitle))
    story.append(Spacer(1, 3 * mm))
    return story


def heading(text: str, *, keep_with_next: bool = True) -> Flowable:
    """A section heading (bold, left); kept with what follows it where the page allows."""
    line = _Line(text, 12, align="left", space_before=5, space_after=3)
    line.keepWithNext = keep_with_next
    return line


def paragraph(text: str, style: ParagraphStyle | None = None) -> Flowable:
    """Body text (first line indented); ``text`` is data, never markup, ASCII runs set in the Latin font.

    ``style`` gives the size, leading, indent, alignment, colour and spacing (``styles.*``).
    """
    return _TextBlock(text, style or styles.body)


def note(text: str) -> Flowable:
    """Small grey text: units, sources, remarks under a table."""
    return _TextBlock(text, styles.note)


def spacer(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


def clauses(items: Sequence[str | tuple[str, str]], *, start: int = 1, numbering: str = "article") -> list[Flowable]:
    """Numbered items: contract articles ``第一条 …`` (``numbering="article"``) or a list ``1．…``
    (``"list"``); an item may be ``(title, text)`` -> ``第一条　title　text``."""
    story: list[Flowable] = []
    for number, item in enumerate(items, start=start):
        label = f"第{chinese_ordinal(number)}条" if numbering == "article" else f"{number}．"
        if isinstance(item, tuple):
            title, text = item
            line = f"{label}　{title}　{text}"
        else:
            line = f"{label}{'　' if numbering == 'article' else ''}{item}"
        story.append(_TextBlock(line, styles.clause))
    return story


def _cell_paragraph(text: str, style: ParagraphStyle) -> Flowable:
    return _TextBlock(text, style)


def field_table(pairs: Sequence[tuple[str, str]], *, columns: int = 1, label_width: float = 32 * mm) -> Table:
    """A bordered grid of ``label | value`` pairs, ``columns`` pairs per row (parties, key figures)."""
    value_width = CONTENT_WIDTH / columns - label_width
    rows: list[list[Any]] = []
    for start in range(0, len(pairs), columns):
        row: list[Any] = []
        for label, value in list(pairs[start:start + columns]) + [("", "")] * (columns - len(pairs[start:start + columns])):
            row.append(_cell_paragraph(label, styles.cell))
            row.append(_cell_paragraph(value, styles.cell))
        rows.append(row)
    table = Table(rows, colWidths=[label_width, value_width] * columns, hAlign="LEFT")
    commands: list[tuple] = [
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    for column in range(columns):
        commands.append(("BACKGROUND", (2 * column, 0), (2 * column, -1), HEADER_FILL))
    table.setStyle(TableStyle(commands))
    return table


# ------------------------------------------------------------------------------------------ tables


COLUMN_KINDS = ("text", "code", "seq", "money", "int", "date", "percent")


@dataclass(frozen=True)
class Column:
    """A table column: its header, the kind of its values and its relative width.

    Kinds: ``text`` (Chinese text, wraps), ``code`` (numbers and references), ``seq`` (a line number,
    centred), ``money``
    (Decimal, right-aligned ``1,234.50``), ``int`` (right-aligned), ``date`` (ISO, centred),
    ``percent`` (a ratio 0.1234 shown as ``12.34%``).
    """

    label: str
    kind: str = "text"
    width: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class TableData:
    """A titled table of raw values (Decimal, int, date, str, None): one PDF table, one Excel sheet."""

    name: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    total: Sequence[Any] | None = None
    empty_text: str = "本期无记录"
    notes: Sequence[str] = field(default_factory=tuple)
    width: float = 1.0  # the table's share of the text width (a two-column list needs less)


def format_cell(value: Any, kind: str) -> str:
    """A value as the PDF prints it in a column of ``kind``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value  # already worded (e.g. "1.00 倍" in a column of amounts)
    if kind == "money":
        return figures(value)
    if kind == "percent":
        return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"
    if isinstance(value, datetime):
        return value.astimezone(clock.BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_ALIGN = {"text": "LEFT", "code": "LEFT", "seq": "CENTER", "money": "RIGHT", "int": "RIGHT", "date": "CENTER", "percent": "RIGHT"}
_CELL_STYLE = {"LEFT": styles.cell, "RIGHT": styles.cell_right, "CENTER": styles.cell_center}
_CELL_SIZE = 8.5
_MIN_CELL_SIZE = 6.0
_CELL_PADDING = 3


def data_table(table: TableData, *, width: float = CONTENT_WIDTH, caption: bool = True) -> list[Flowable]:
    """``table`` as a bordered table with a shaded header row that repeats on every page it spans.

    A cell is a plain string when its text fits the column in one font, else a text block (mixed
    fonts, wrapping); figures, dates and codes never wrap: they are set smaller instead. A totals row, when given, is shaded. No rows: one line saying so.
    """
    # The caption stays with the first rows (a page break when less than ~4 rows fit), but the table
    # is not kept whole: a long table starts at once and continues with its header on the next pages.
    story: list[Flowable] = [CondPageBreak(28 * mm), heading(table.name, keep_with_next=False)] if caption else []
    weights = sum(column.width for column in table.columns)
    widths = [width * table.width * column.width / weights for column in table.columns]
    header = [_cell_paragraph(column.label, styles.cell_center) for column in table.columns]
    body_rows = list(table.rows)
    rows: list[list[Any]] = [header]
    commands: list[tuple] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), _CELL_SIZE),
        ("LEADING", (0, 0), (-1, -1), 11),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
    ]
    for index, column in enumerate(table.columns):
        commands.append(("ALIGN", (index, 1), (index, -1), _ALIGN[column.kind]))
    if not body_rows:
        rows.append([table.empty_text] + [""] * (len(table.columns) - 1))
        commands += [("SPAN", (0, 1), (-1, 1)), ("ALIGN", (0, 1), (-1, 1), "CENTER"), ("TEXTCOLOR", (0, 1), (-1, 1), MUTED)]
    # An empty table says so in one line; its totals row would only repeat zeros.
    total = table.total if body_rows else None
    all_rows = body_rows + ([total] if total is not None else [])
    latin_rows: list[list[int]] = [[] for _ in table.columns]  # per column, the rows set in the Latin font
    for row_index, values in enumerate(all_rows, start=1):
        cells: list[Any] = []
        for column_index, (column, value) in enumerate(zip(table.columns, values)):
            text = format_cell(value, column.kind)
            room = widths[column_index] - 2 * _CELL_PADDING
            latin = _ASCII_ONLY.fullmatch(text) is not None
            width = text_width(text, _CELL_SIZE)
            here = (column_index, row_index)
            if width <= room and (latin or _LATIN_RUN.search(text) is None):
                cells.append(text)
                if latin and text:
                    latin_rows[column_index].append(row_index)
            elif column.kind != "text" and latin and width * _MIN_CELL_SIZE / _CELL_SIZE <= room:
                # Figures, dates and codes never wrap (a number cut in two is misread): a smaller size.
                cells.append(text)
                size = _CELL_SIZE * room / width
                latin_rows[column_index].append(row_index)
                commands.append(("FONTSIZE", here, here, size))
            else:
                cells.append(_cell_paragraph(text, _CELL_STYLE[_ALIGN[column.kind]]))
        rows.append(cells)
        if row_index % 2 == 0 and row_index <= len(body_rows):
            commands.append(("BACKGROUND", (0, row_index), (-1, row_index), ZEBRA_FILL))
    if total is not None:
        commands.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), TOTAL_FILL))
    # One command per run of consecutive Latin cells in a column rather than one per cell: a long
    # table's style is applied cell by cell, command by command.
    for column_index, latin in enumerate(latin_rows):
        start = 0
        for index in range(1, len(latin) + 1):
            if index == len(latin) or latin[index] != latin[index - 1] + 1:
                commands.append(("FONTNAME", (column_index, latin[start]), (column_index, latin[index - 1]), LATIN_FONT))
                start = index
    story.append(Table(rows, colWidths=widths, repeatRows=1, style=TableStyle(commands), hAlign="LEFT"))
    for text in table.notes:
        story.append(note(text))
    return story


# ------------------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Signatory:
    """One party's block at the foot of a document: who they are, and what they sign and seal."""

    role: str  # 甲方（出借人）
    name: str  # the party's name
    signer: str = "法定代表人或授权代表（签字）"
    seal: bool = True


class _SignatureBlock(Flowable):
    """Side-by-side blocks, one per party: role and name, a dashed seal circle marked （盖章）,
    a signature line and a date line. Never split across pages (a flowable of fixed height)."""

    HEIGHT = 58 * mm

    def __init__(self, parties: Sequence[Signatory], signed_on: date | None) -> None:
        super().__init__()
        self.parties, self.signed_on = list(parties), signed_on
        self.spaceBefore = 6 * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.HEIGHT

    def draw(self) -> None:
        canvas = self.canv
        column = self.width / len(self.parties)
        for index, party in enumerate(self.parties):
            x = index * column + 2 * mm
            top = self.HEIGHT - 5 * mm
            draw_text(canvas, x, top, f"{party.role}：", 10.5, bold=True)
            draw_text(canvas, x, top - 6 * mm, party.name, 10.5)
            if party.seal:
                radius = 14 * mm
                centre_x, centre_y = x + column / 2 - 2 * mm, top - 26 * mm
                canvas.saveState()
                canvas.setStrokeColor(SEAL_INK)
                canvas.setLineWidth(0.8)
                canvas.setDash(3, 2)
                canvas.circle(centre_x, centre_y, radius, stroke=1, fill=0)
                canvas.restoreState()
                draw_text(canvas, centre_x, centre_y - 1.5 * mm, "（盖章）", 9, align="center", color=SEAL_INK)
            line_y = top - 45 * mm
            draw_text(canvas, x, line_y, f"{party.signer}：", 8.5)
            canvas.saveState()
            canvas.setStrokeColor(INK)
            canvas.setLineWidth(0.5)
            canvas.line(x, line_y - 5 * mm, x + column - 10 * mm, line_y - 5 * mm)
            canvas.restoreState()
            draw_text(canvas, x, line_y - 11 * mm, f"日期：{chinese_date(self.signed_on)}", 9)


def signature_block(parties: Sequence[Signatory], *, signed_on: date | None = None) -> Flowable:
    """The signature and seal blocks of the parties, side by side (two or three fit on A4)."""
    if not parties:
        raise ValueError("a signature block needs at least one party")
    return _SignatureBlock(parties, signed_on)


# ------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class _PageMeta:
    title: str
    number: str
    generated_at: datetime
    version: int | None
    issuer: str


class _PagedCanvas(pdfcanvas.Canvas):
    """A canvas that holds its pages back until it knows how many there are.

    ``showPage`` stores the page's state instead of emitting it; ``save`` then draws the header and
    the footer (with 共 y 页) on each stored page and emits them. One layout pass, no re-rendering.
    """

    def __init__(self, *args: Any, meta: _PageMeta, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._meta = meta
        self._held: list[dict[str, Any]] = []

    def setFont(self, psfontname: str, size: float, leading: float | None = None) -> None:  # noqa: N802
        """The current font, as reportlab sets it, with the operator for the module's two fonts cached."""
        if psfontname not in (FONT, LATIN_FONT):
            super().setFont(psfontname, size, leading)
            return
        self._fontname, self._fontsize = psfontname, size
        self._leading = size * 1.2 if leading is None else leading
        self._code.append(f"BT {_font_operator(_FontNames(self)[psfontname], size, self._leading)} ET")

    def drawString(self, x: float, y: float, text: str, mode: int | None = None, charSpace: float = 0,  # noqa: N802, N803
                   *args: Any, **kwargs: Any) -> None:
        """Table cells and other one-line strings in the current font, written as :func:`draw_text` writes."""
        if mode is None and not charSpace and not args and not kwargs and _can_show(self._fontname, text):
            self._code.append(" ".join(("BT", _origin(x, y), _font_operator(_FontNames(self)[self._fontname], self._fontsize),
                                        _show(self._fontname, text), "ET")))
        else:
            super().drawString(x, y, text, mode, charSpace, *args, **kwargs)

    def drawRightString(self, x: float, y: float, text: str, mode: int | None = None, charSpace: float = 0,  # noqa: N802, N803
                        *args: Any, **kwargs: Any) -> None:
        if mode is None and not charSpace and not args and not kwargs and _can_show(self._fontname, text):
            self.drawString(x - pdfmetrics.stringWidth(text, self._fontname, self._fontsize), y, text)
        else:
            super().drawRightString(x, y, text, mode, charSpace, *args, **kwargs)

    def drawCentredString(self, x: float, y: float, text: str, mode: int | None = None, charSpace: float = 0,  # noqa: N802, N803
                          *args: Any, **kwargs: Any) -> None:
        if mode is None and not charSpace and not args and not kwargs and _can_show(self._fontname, text):
            self.drawString(x - pdfmetrics.stringWidth(text, self._fontname, self._fontsize) / 2, y, text)
        else:
            super().drawCentredString(x, y, text, mode, charSpace, *args, **kwargs)

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._decorate(number, total)
            super().showPage()
        super().save()

    def _decorate(self, page: int, total: int) -> None:
        meta = self._meta
        self.saveState()
        top = PAGE_HEIGHT - 14 * mm
        draw_text(self, MARGIN_X, top, meta.issuer, 8.5, color=MUTED)
        draw_text(self, PAGE_WIDTH - MARGIN_X, top, meta.title, 8.5, align="right", color=MUTED)
        self.setStrokeColor(RULE)
        self.setLineWidth(0.6)
        self.line(MARGIN_X, top - 2.5 * mm, PAGE_WIDTH - MARGIN_X, top - 2.5 * mm)
        bottom = 12 * mm
        self.line(MARGIN_X, bottom + 4 * mm, PAGE_WIDTH - MARGIN_X, bottom + 4 * mm)
        generated = meta.generated_at.astimezone(clock.BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")
        draw_text(self, MARGIN_X, bottom, f"生成时间：{generated}", 8, color=MUTED)
        draw_text(self, PAGE_WIDTH / 2, bottom, f"第 {page} 页 共 {total} 页", 8.5, align="center")
        number = f"文件编号：{meta.number}" + (f"（第 {meta.version} 版）" if meta.version and meta.version > 1 else "")
        draw_text(self, PAGE_WIDTH - MARGIN_X, bottom, number, 8, align="right", color=MUTED)
        self.restoreState()


def build_pdf(
    story: Sequence[Flowable] | Callable[[], Sequence[Flowable]],
    *,
    title: str,
    number: str,
    generated_at: datetime | None = None,
    version: int | None = None,
    subject: str = "",
    issuer: str = PLATFORM_NAME,
) -> bytes:
    """Lay ``story`` out on A4 pages with the header and footer, and return the PDF's bytes.

    ``title`` is the document's title (header, PDF metadata); ``number`` its document number
    (文件编号, footer); ``generated_at`` the generation time printed on every page (default now, shown
    in Asia/Shanghai); ``version`` is printed after the number when above 1.
    """
    generated_at = generated_at or clock.now()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        author=issuer,
        subject=subject or title,
        creator=PLATFORM_NAME,
    )
    flowables = list(story() if callable(story) else story)
    meta = _PageMeta(title=title, number=number, generated_at=generated_at, version=version, issuer=issuer)
    document.build(flowables, canvasmaker=partial(_PagedCanvas, meta=meta))
    return buffer.getvalue()
