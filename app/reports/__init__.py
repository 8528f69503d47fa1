"""Auditor's reports: one report model (model.py, assembled from the database by
build.build_report), one renderer per format (markdown.py, json_report.py, csv_report.py,
pdf.py), a digest to check a copy (digest.py), the `atrest report` command (command.py).

Importing this package loads no renderer, database or PDF library (the CLI imports it at every
start): `render` loads the one it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from app.reports.digest import verify_report

if TYPE_CHECKING:
    from app.reports.model import Report

#: Every format: (module, function) of its renderer, and its media type.
RENDERERS: dict[str, tuple[str, str]] = {
    "md": ("app.reports.markdown", "render_markdown"),
    "json": ("app.reports.json_report", "render_json"),
    "csv": ("app.reports.csv_report", "render_csv"),
    "pdf": ("app.reports.pdf", "render_pdf"),
}
FORMATS = tuple(RENDERERS)
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}
SUFFIXES = {"md": ".md", "json": ".json", "csv": ".csv", "pdf": ".pdf"}


def render(report: Report, fmt: str) -> bytes:
    """The report in one format: md, json, csv or pdf.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    module, function = RENDERERS[fmt]
    rendered: bytes = getattr(import_module(module), function)(report)
    return rendered


__all__ = ["FORMATS", "MEDIA_TYPES", "SUFFIXES", "render", "verify_report"]
