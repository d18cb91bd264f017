"""A statement's underlying rows as an Excel workbook, from the very tables its PDF prints.

One sheet per :class:`core.pdf.TableData`: a title row, a bold header row (frozen), then the rows;
amounts are numbers with two decimals (``Decimal`` handed to openpyxl, never a float made here),
dates are dates, and **every text cell goes through** :func:`core.tabular.spreadsheet_text`, so an
enterprise named ``=HYPERLINK(...)`` opens as plain text, not as a formula.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from core.pdf import TableData
from core.tabular import spreadsheet_text

__all__ = ["XLSX_MIMETYPE", "tables_xlsx"]

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_FORMATS = {"money": "#,##0.00", "int": "0", "percent": "0.00%", "date": "yyyy-mm-dd"}
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = _SHEET_FORBIDDEN.sub("-", name).strip("'") or "Sheet"
    candidate, n = base[:31], 2
    while candidate in taken:
        suffix = f"({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def tables_xlsx(tables: Sequence[TableData], *, title: str) -> bytes:
    """The workbook's bytes: one sheet per table, ``title`` and the table's name in row 1."""
    from openpyxl import Workbook  # only exports need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)

    for table in tables:
        sheet = workbook.create_sheet(_sheet_name(table.name, taken))
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, int(column.width * 14))
        sheet.freeze_panes = "A3"

        def cell(value: Any, kind: str, font: Font | None = None) -> Any:
            if value is None:
                return None
            if kind in _FORMATS and not isinstance(value, str):
                if kind == "date" and not isinstance(value, date):
                    value = spreadsheet_text(str(value))
                out = WriteOnlyCell(sheet, value=value)
                out.number_format = _FORMATS[kind]
            else:
                out = WriteOnlyCell(sheet, value=spreadsheet_text(str(value)))
            if font is not None:
                out.font = font
            return out

        heading = WriteOnlyCell(sheet, value=spreadsheet_text(f"{title} — {table.name}"))
        heading.font = Font(bold=True, size=13)
        sheet.append([heading])
        sheet.append([cell(column.label, "text", bold) for column in table.columns])
        for row in table.rows:
            sheet.append([cell(value, column.kind) for column, value in zip(table.columns, row)])
        if table.total is not None:
            sheet.append([cell(value, column.kind, bold) for column, value in zip(table.columns, table.total)])
    if not tables:
        workbook.create_sheet("Sheet")
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
