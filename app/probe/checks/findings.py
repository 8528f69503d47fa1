"""Findings and their vocabulary: check ids, severities, statuses, a bucket's status, the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["pass", "fail", "warn", "not-applicable", "unknown", "error"]
#: Every finding status, in CONTRACT.md's order.
STATUSES: tuple[str, ...] = ("pass", "fail", "warn", "not-applicable", "unknown", "error")

#: Every check id of CONTRACT.md, in the order findings are reported.
CHECK_IDS: tuple[str, ...] = (
    "default-encryption",
    "kms-key-manager",
    "kms-key-origin",
    "kms-key-state",
    "kms-key-rotation",
    "bucket-key",
    "sse-c-blocked",
    "encryption-enforced",
    "tls-only",
    "audit-trail",
    "object-sample",
)

SEVERITY: dict[str, str] = {
    "default-encryption": "high",
    "kms-key-manager": "high",
    "kms-key-origin": "high",
    "kms-key-state": "high",
    "kms-key-rotation": "medium",
    "bucket-key": "low",
    "sse-c-blocked": "medium",
    "encryption-enforced": "medium",
    "tls-only": "medium",
    "audit-trail": "high",
    "object-sample": "medium",
}

#: Worst first; `not-applicable` never decides a bucket's status.
STATUS_ORDER: tuple[str, ...] = ("error", "fail", "unknown", "warn", "pass")

NOTHING_TO_DO = "Nothing to change."


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one bucket (a row of the probe JSON's `findings`)."""

    check: str
    status: Status
    severity: str
    expected: str
    actual: str
    message: str
    remediation: str

    def to_dict(self) -> dict[str, str]:
        """The finding as CONTRACT.md's probe JSON shows it."""
        return {
            "check": self.check,
            "status": self.status,
            "severity": self.severity,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
            "remediation": self.remediation,
        }


def bucket_status(findings: Iterable[Finding]) -> str:
    """The worst status among the findings (error > fail > unknown > warn > pass).

    Args:
        findings: A bucket's findings.

    Returns:
        One of STATUS_ORDER; `pass` when every finding is not-applicable (or there are none).
    """
    statuses = {f.status for f in findings}
    return next((s for s in STATUS_ORDER if s in statuses), "pass")


def summarize(bucket_statuses: Iterable[str]) -> dict[str, int]:
    """The probe JSON's `summary`: bucket count and buckets per status.

    Args:
        bucket_statuses: Each bucket's status (from bucket_status).

    Returns:
        {"buckets", "pass", "fail", "unknown", "error", "warn"} counts; `warn` is an addition
        to CONTRACT.md's keys.
    """
    counts = Counter(bucket_statuses)
    summary = {"buckets": sum(counts.values())}
    summary.update({s: counts.get(s, 0) for s in ("pass", "fail", "unknown", "error", "warn")})
    return summary
