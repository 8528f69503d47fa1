"""The JSON report: the report model as indented JSON, digest included (app/reports/digest.py)."""

from __future__ import annotations

from app.reports.model import Report


def render_json(report: Report) -> bytes:
    """The report as UTF-8 JSON, fields in the model's order, indented for reading."""
    # pydantic-core's serializer: several times faster than json.dumps over model_dump for
    # a report of thousands of findings; the values are those the digest was computed on.
    return report.model_dump_json(indent=2).encode("utf-8") + b"\n"
