"""The PDF report: the report model through templates/reports/report.html and the print
stylesheet static/css/report-print.css, laid out by WeasyPrint.

The PDF carries the JSON report of the same model as an attachment: its digest is the one on
the cover, so that the document can be checked (extract it, `atrest report verify FILE`) and a
JSON copy matched to it, however long after it was filed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.reports.common import HEADINGS, SECTIONS, compact_json, status_label, when
from app.reports.json_report import render_json
from app.reports.model import Report

# Not app.core.db.PROJECT_ROOT: importing it loads FastAPI and SQLAlchemy, which rendering a
# report does not need (the CLI imports this module at start).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STYLESHEET = PROJECT_ROOT / "static" / "css" / "report-print.css"
#: Characters of an audit entry's before or after the PDF prints: a version's "after" holds
#: its whole evaluation (pages of JSON); the attached JSON report holds every value in full.
JSON_CHARS = 420


def short_json(value: object, limit: int = JSON_CHARS) -> str:
    """An audit value as compact JSON, cut after `limit` characters with a note saying so."""
    text = compact_json(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]} \u2026 ({len(text):,} characters in all: see the JSON report)"


#: Fields of an audit entry the PDF lists one per line; the rest are counted (the JSON has all).
CHANGE_FIELDS = 8
#: Characters of one field's value in that list.
VALUE_CHARS = 120


def field_changes(
    before: dict[str, object] | None, after: dict[str, object] | None
) -> tuple[list[tuple[str, str | None, str | None]], int]:
    """An audit entry as the fields it changed: (name, before, after) with short values (None:
    not there), at most CHANGE_FIELDS of them, and how many more there are."""
    names = list(dict.fromkeys([*(before or {}), *(after or {})]))
    rows = [
        (
            name,
            None if before is None or name not in before else short_json(before[name], VALUE_CHARS),
            None if after is None or name not in after else short_json(after[name], VALUE_CHARS),
        )
        for name in names[:CHANGE_FIELDS]
    ]
    return rows, max(0, len(names) - CHANGE_FIELDS)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=False,
    )
    # Functions, not filters: the app's own template environment (tests/test_templates.py)
    # parses every template and knows no filter of ours.
    env.globals.update(
        sections=SECTIONS,
        headings=HEADINGS,
        when=when,
        status=status_label,
        short_json=short_json,
        field_changes=field_changes,
    )
    return env


def render_html(report: Report) -> str:
    """The report as the HTML document WeasyPrint lays out."""
    template = _environment().get_template("reports/report.html")
    return template.render(r=report, attachment=attachment_name(report))


def attachment_name(report: Report) -> str:
    """The file name of the JSON report attached to the PDF."""
    return f"atrest-report-{report.decision.id}-v{report.decision.version}.json"


def render_pdf(report: Report) -> bytes:
    """The report as a PDF document (A4, cover page, contents, numbered pages), with the JSON
    report attached."""
    # Imported here: WeasyPrint loads Pango through cffi, which only PDF rendering needs.
    from weasyprint import CSS, HTML, Attachment  # type: ignore[import-untyped]

    generated = report.report.generated_at
    json_report = Attachment(
        string=render_json(report),
        name=attachment_name(report),
        description=f"The JSON report, sha256 {report.digest.value}: atrest report verify FILE",
        created=generated,
        modified=generated,
        relationship="Source",
    )
    document = HTML(string=render_html(report), base_url=str(PROJECT_ROOT))
    pdf: bytes = document.write_pdf(
        stylesheets=[CSS(filename=str(STYLESHEET))], attachments=[json_report]
    )
    return pdf
