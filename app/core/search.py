"""Text search in queries: what a user types is looked for as typed, never as a LIKE pattern."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """`column` holds `text`, ignoring case; `%`, `_` and the escape character `/` in `text`
    match themselves (escaped), so `%` finds a percent sign, not every row."""
    return func.lower(column).contains(text.lower(), autoescape=True)
