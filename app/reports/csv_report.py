"""The CSV report: one row per question and answer, then one per probe finding, then one per
audit log entry about the decision (oldest first).

The `record` column says which a row is (`answer`, `finding` or `audit`); the columns of the
other kinds stay empty. Every row repeats the decision, the version and the report's digest,
so that rows copied into a spreadsheet still say where they come from.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from app.core.csvcells import safe_row
from app.reports.common import compact_json
from app.reports.model import Report

COLUMNS = (
    "record",
    "decision_id",
    "version",
    "question_id",
    "question",
    "answer",
    "answer_text",
    "run_id",
    "bucket",
    "region",
    "bucket_status",
    "check",
    "status",
    "severity",
    "expected",
    "actual",
    "message",
    "remediation",
    "change",
    "tickets",
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "before",
    "after",
    "entry_hash",
    "report_sha256",
)


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    """A DictWriter whose cells a spreadsheet cannot run as formulas (app.core.csvcells)."""

    def writerow(self, rowdict: Any) -> Any:
        return super().writerow(safe_row(rowdict))


def render_csv(report: Report) -> bytes:
    """The report's answers, findings and audit entries as UTF-8 CSV with a header row."""
    out = io.StringIO(newline="")
    writer = _SafeWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    common = {
        "decision_id": report.decision.id,
        "version": report.decision.version,
        "report_sha256": report.digest.value,
    }
    for qa in report.questions:
        writer.writerow(
            {
                **common,
                "record": "answer",
                "question_id": qa.id,
                "question": qa.text,
                "answer": qa.answer
                if isinstance(qa.answer, str)
                else json.dumps(qa.answer, ensure_ascii=False),
                "answer_text": qa.answer_text,
            }
        )
    probe = report.probe
    for bucket in [] if probe is None else probe.buckets:
        for f in bucket.findings:
            writer.writerow(
                {
                    **common,
                    "record": "finding",
                    "run_id": probe.run_id if probe else "",
                    "bucket": bucket.bucket,
                    "region": bucket.region,
                    "bucket_status": bucket.status,
                    "check": f.check,
                    "status": f.status,
                    "severity": f.severity,
                    "expected": f.expected,
                    "actual": f.actual,
                    "message": f.message,
                    "remediation": f.remediation,
                    "change": f.change or "",
                    "tickets": " ".join(t.url for t in f.tickets),
                }
            )
    for e in report.audit.entries:
        writer.writerow(
            {
                **common,
                "record": "audit",
                "seq": e.seq,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "before": "" if e.before is None else compact_json(e.before),
                "after": "" if e.after is None else compact_json(e.after),
                "entry_hash": e.hash,
            }
        )
    return out.getvalue().encode("utf-8")
