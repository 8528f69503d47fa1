"""The bulk export of decisions for audit sampling: one row per decision, CSV or JSON.

Each row says what was decided (status, version, option, rule set), who approved it and when,
the tickets, and the latest finished probe run's summary. Rows are produced in batches, so an
export of many decisions never holds them all in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.core.csvcells import safe_row
from app.decisions.models import Approval, Decision, DecisionVersion
from app.probe.records import ProbeRun

BATCH = 500
FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "status",
    "owner",
    "version",
    "option",
    "ruleset_version",
    "created_at",
    "updated_at",
    "approved_by",
    "approved_at",
    "approved_version",
    "proposed_by",
    "tickets",
    "probe_run",
    "probe_finished_at",
    "probe_buckets",
    "probe_pass",
    "probe_fail",
    "probe_warn",
    "probe_unknown",
    "probe_error",
)


def _query(status: str | None, since: dt.date | None, until: dt.date | None) -> Select[Any]:
    query = select(Decision).options(selectinload(Decision.tickets)).order_by(Decision.id)
    if status:
        query = query.where(Decision.status == status)
    if since is not None:
        query = query.where(Decision.updated_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until is not None and until < dt.date.max:  # until the last day there is: no bound
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(Decision.updated_at < end)
    return query


def _latest_approvals(session: Session, ids: Sequence[int]) -> dict[int, Approval]:
    """Each decision's last approve step (whatever came after: the status says if it holds)."""
    last = (
        select(func.max(Approval.id))
        .where(Approval.decision_id.in_(ids), Approval.action == "approve")
        .group_by(Approval.decision_id)
    )
    return {
        a.decision_id: a for a in session.scalars(select(Approval).where(Approval.id.in_(last)))
    }


def _latest_runs(session: Session, ids: Sequence[int]) -> dict[int, ProbeRun]:
    last = (
        select(func.max(ProbeRun.id))
        .where(ProbeRun.decision_id.in_(ids), ProbeRun.status == "done")
        .group_by(ProbeRun.decision_id)
    )
    return {
        r.decision_id: r for r in session.scalars(select(ProbeRun).where(ProbeRun.id.in_(last)))
    }


def _rulesets(session: Session, decisions: Sequence[Decision]) -> dict[int, str]:
    pairs = [(d.id, d.current_version) for d in decisions if d.current_version]
    if not pairs:
        return {}
    rows = session.execute(
        select(
            DecisionVersion.decision_id, DecisionVersion.number, DecisionVersion.ruleset_version
        ).where(DecisionVersion.decision_id.in_([d for d, _ in pairs]))
    )
    wanted = set(pairs)
    return {d: v for d, n, v in rows if (d, n) in wanted}


def _iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (SQLite hands back naive datetimes: they are UTC)."""
    if value is None:
        return None
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return utc.isoformat().replace("+00:00", "Z")


def export_rows(
    *,
    session: Session,
    status: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """One dict per decision (keys FIELDS), oldest first, filtered by status and by the day of
    its last change (`since` and `until` inclusive, UTC)."""
    last_id = 0
    while True:
        batch = session.scalars(
            _query(status, since, until).where(Decision.id > last_id).limit(BATCH)
        ).all()
        if not batch:
            return
        ids = [d.id for d in batch]
        approvals, runs = _latest_approvals(session, ids), _latest_runs(session, ids)
        rulesets = _rulesets(session, batch)
        for d in batch:
            a, r = approvals.get(d.id), runs.get(d.id)
            s = (r.summary or {}) if r else {}
            yield {
                "id": d.id,
                "title": d.title,
                "status": d.status,
                "owner": d.owner,
                "version": d.current_version,
                "option": d.current_option,
                "ruleset_version": rulesets.get(d.id),
                "created_at": _iso(d.created_at),
                "updated_at": _iso(d.updated_at),
                "approved_by": a.actor if a else None,
                "approved_at": _iso(a.created_at) if a else None,
                "approved_version": a.version if a else None,
                "proposed_by": a.proposed_by if a else None,
                "tickets": " ".join(t.key for t in d.tickets),
                "probe_run": r.id if r else None,
                "probe_finished_at": _iso(r.finished_at) if r else None,
                "probe_buckets": s.get("buckets"),
                "probe_pass": s.get("pass"),
                "probe_fail": s.get("fail"),
                "probe_warn": s.get("warn"),
                "probe_unknown": s.get("unknown"),
                "probe_error": s.get("error"),
            }
        last_id = ids[-1]
        session.expunge_all()  # keep memory flat across batches


def stream_rows(
    sessions: sessionmaker[Session],
    *,
    status: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Iterator[dict[str, Any]]:
    """export_rows through a session of its own, closed when the rows are exhausted.

    The first row is read here, before the caller starts a streamed response: a filter the
    query cannot use or a database that cannot answer fails while an error can still be the
    answer, not after a 200 and half a body.
    """

    def rows() -> Iterator[dict[str, Any]]:
        with sessions() as session:
            yield from export_rows(session=session, status=status, since=since, until=until)

    pending = rows()
    first = next(pending, None)
    return pending if first is None else itertools.chain([first], pending)


def as_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV text pieces: a header line, then one line per decision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(safe_row(row))  # no cell a spreadsheet would run as a formula
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def as_json(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as one JSON array, written piece by piece."""
    first = True
    yield "["
    for row in rows:
        yield ("\n  " if first else ",\n  ") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "]\n" if first else "\n]\n"
