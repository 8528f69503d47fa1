"""What the parts of app/reports share: the sections in order, how times and statuses are
shown, audit values as compact JSON, stored times as UTC, ticket links as the report shows them."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from app.reports.model import Ticket

if TYPE_CHECKING:
    from app.decisions.models import TicketLink
    from app.probe.records import FindingTicket

#: (anchor, heading) of the report's sections, in order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("decision", "Decision and approvals"),
    ("recommendation", "Recommendation"),
    ("answers", "Questions and answers"),
    ("options", "Ranking, exclusions, conflicts and warnings"),
    ("facts", "Facts"),
    ("tickets", "Tickets"),
    ("evidence", "Probe evidence"),
    ("audit", "Audit log"),
    ("integrity", "Integrity"),
)
HEADINGS = dict(SECTIONS)

#: Statuses as printed: the ones that ask for action stand out in capitals (no colour needed).
STATUS_LABEL = {
    "pass": "pass",
    "not-applicable": "n/a",
    "warn": "WARN",
    "unknown": "UNKNOWN",
    "fail": "FAIL",
    "error": "ERROR",
}


def when(moment: dt.datetime | None) -> str:
    """A time as the report prints it: 2026-11-29 14:05 UTC ('-' for none; naive is UTC)."""
    if moment is None:
        return "-"
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def compact_json(value: Any) -> str:
    """An audit entry's before or after as one line of JSON ('-' for none)."""
    if value is None:
        return "-"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def status_label(status: str) -> str:
    """A finding or bucket status as printed."""
    return STATUS_LABEL.get(status, status)


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite gives it back without a zone)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def ticket(link: TicketLink | FindingTicket) -> Ticket:
    """A decision's or a finding's ticket link as the report shows it."""
    return Ticket(system=link.system, key=link.key, url=link.url, linked_at=utc(link.created_at))
