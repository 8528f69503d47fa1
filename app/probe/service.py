"""Probe runs of the web app: start, record, list, compare, and tickets on findings.

Service functions are keyword-only, flush but never commit (the request's unit of work
commits once; the background runner in background.py commits its own batches), and raise the
domain errors of app.core.errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from app.core.errors import Conflict, Invalid, NotFound, Problem
from app.core.search import contains_text
from app.decisions.models import Decision, DecisionVersion, utcnow
from app.decisions.tickets import TicketURLError, parse_ticket_url
from app.probe.checks import CHECK_IDS, STATUS_ORDER
from app.probe.records import (
    ACTIVE_STATUSES,
    PROBLEM_STATUSES,
    FindingTicket,
    ProbeBucket,
    ProbeFinding,
    ProbeRun,
)
from app.probe.target import Target

#: A queued or running run whose heartbeat is older than this is stale: the process holding
#: it died or lost the database (settings.probe_lease_seconds; see background.py).
DEFAULT_LEASE = dt.timedelta(seconds=60)
PAGE_SIZE = 50
CHANGES = ("new", "unchanged", "fixed")


def start_run(
    *, session: Session, decision_id: int, target: Target, owner: str | None = None
) -> ProbeRun:
    """Queue a probe of `target` against the decision's current recommendation.

    `owner` names the process that will run it (its heartbeat keeps the run's lease).

    Raises:
        NotFound: no such decision.
        Invalid: the decision has no recommendation to check against.
        Conflict: a probe of this target for this decision is still queued or running.
    """
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id} does not exist")
    version = session.scalar(
        select(DecisionVersion).where(
            DecisionVersion.decision_id == decision_id,
            DecisionVersion.number == decision.current_version,
        )
    )
    rec = None if version is None else version.result.get("recommendation")
    if version is None or rec is None:
        raise Invalid(
            [
                Problem(
                    ("decision",),
                    decision_id,
                    "has no recommendation to check against: answer the questionnaire first",
                )
            ]
        )
    busy = session.scalar(
        select(ProbeRun.id).where(
            ProbeRun.decision_id == decision_id,
            ProbeRun.target_name == target.name,
            ProbeRun.status.in_(ACTIVE_STATUSES),
        )
    )
    if busy is not None:
        raise Conflict(f"probe run {busy} of target {target.name!r} is still running")
    now = utcnow()
    run = ProbeRun(
        decision_id=decision_id,
        decision_version=version.number,
        target_name=target.name,
        target_title=target.title,
        option=str(rec["option"]),
        configuration=dict(rec["configuration"]),
        status="queued",
        done=0,
        created_at=now,
        heartbeat_at=now,
        owner=owner,
    )
    session.add(run)
    session.flush()
    return run


def interrupt_stale_runs(
    *,
    session: Session,
    lease: dt.timedelta = DEFAULT_LEASE,
    now: dt.datetime | None = None,
    keep: Collection[int] = (),
) -> int:
    """Mark queued or running runs whose lease expired (no heartbeat for `lease`) interrupted.

    A live process beats its runs well within the lease, so this never touches them,
    whichever process sweeps; only runs whose process died (or cannot reach the database).

    Args:
        session: The sweeping process's session.
        lease: How long a run may go without a heartbeat.
        now: The time to judge by (default: now).
        keep: Runs the sweeping process holds itself: alive, whatever their heartbeat says
            (it may not have been written while the database was unreachable).

    Returns:
        How many runs were marked.
    """
    moment = now or utcnow()
    seconds = f"{lease.total_seconds():g}"
    stale = [ProbeRun.status.in_(ACTIVE_STATUSES), ProbeRun.heartbeat_at < moment - lease]
    if keep:
        stale.append(ProbeRun.id.not_in(list(keep)))
    result = session.execute(
        update(ProbeRun)
        .where(*stale)
        .values(
            status="interrupted",
            error=(
                f"no sign of life from the process running the probe for {seconds} s (it "
                "stopped, or lost the database); the buckets recorded are kept"
            ),
            finished_at=moment,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_runs(*, session: Session, decision_id: int, limit: int = 20) -> Sequence[ProbeRun]:
    """A decision's runs, newest first."""
    return session.scalars(
        select(ProbeRun)
        .where(ProbeRun.decision_id == decision_id)
        .order_by(ProbeRun.id.desc())
        .limit(limit)
    ).all()


def runs_revision(*, session: Session, decision_id: int) -> tuple[Any, ...]:
    """What identifies the state of a decision's runs as its page shows them."""
    rows = session.execute(
        select(ProbeRun.id, ProbeRun.status, ProbeRun.done)
        .where(ProbeRun.decision_id == decision_id)
        .order_by(ProbeRun.id.desc())
        .limit(5)
    ).all()
    return tuple(tuple(r) for r in rows)


def get_run(*, session: Session, decision_id: int, run_id: int) -> ProbeRun:
    """One run of a decision.

    Raises:
        NotFound: no such run for this decision.
    """
    run = session.scalar(
        select(ProbeRun).where(ProbeRun.id == run_id, ProbeRun.decision_id == decision_id)
    )
    if run is None:
        raise NotFound(f"decision {decision_id} has no probe run {run_id}")
    return run


def previous_run(*, session: Session, run: ProbeRun) -> ProbeRun | None:
    """The latest finished run of the same decision and target before `run`."""
    return session.scalar(
        select(ProbeRun)
        .where(
            ProbeRun.decision_id == run.decision_id,
            ProbeRun.target_name == run.target_name,
            ProbeRun.status == "done",
            ProbeRun.id < run.id,
        )
        .order_by(ProbeRun.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Filters:
    """What the results table shows: bucket status, a check with a problem, a name, a change."""

    status: str = ""
    check: str = ""
    q: str = ""
    change: str = ""
    page: int = 1

    @classmethod
    def parse(cls, **given: Any) -> Filters:
        """Filters from query parameters; unknown values are dropped, not refused."""
        status = str(given.get("status") or "")
        check = str(given.get("check") or "")
        change = str(given.get("change") or "")
        try:
            page = max(1, int(given.get("page") or 1))
        except ValueError:
            page = 1
        return cls(
            status=status if status in STATUS_ORDER else "",
            check=check if check in CHECK_IDS else "",
            q=str(given.get("q") or "").strip()[:63],
            change=change if change in ("new", "unchanged") else "",
            page=page,
        )

    def query(self, **override: Any) -> dict[str, Any]:
        """The non-empty filters as query parameters, with `override` applied."""
        values = {
            "status": self.status,
            "check": self.check,
            "q": self.q,
            "change": self.change,
            "page": self.page,
        }
        values.update(override)
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


@dataclass
class Results:
    """One page of a run's buckets with what the page shows beside them."""

    buckets: Sequence[ProbeBucket]
    total: int
    filters: Filters
    pages: int
    previous: ProbeRun | None
    changes: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fixed: list[tuple[str, str, str]] = field(default_factory=list)
    tickets: dict[tuple[str, str], list[FindingTicket]] = field(default_factory=dict)


def _problems(run_id: int) -> Any:
    """(bucket, check, status) of a run's findings that ask for action."""
    return (
        select(ProbeBucket.bucket, ProbeFinding.check, ProbeFinding.status)
        .join(ProbeFinding, ProbeFinding.bucket_id == ProbeBucket.id)
        .where(ProbeBucket.run_id == run_id, ProbeFinding.status.in_(PROBLEM_STATUSES))
    )


def compare_runs(
    *, session: Session, run: ProbeRun, previous: ProbeRun | None
) -> tuple[dict[tuple[str, str], str], list[tuple[str, str, str]]]:
    """Each problem of `run` as new or unchanged since `previous`, and what was fixed.

    A problem is a finding whose status asks for action (fail, warn, unknown, error); its
    identity is (bucket, check).

    Returns:
        ({(bucket, check): "new" | "unchanged"}, [(bucket, check, previous status) fixed]).
    """
    now = {(b, c): s for b, c, s in session.execute(_problems(run.id))}
    before = (
        {}
        if previous is None
        else {(b, c): s for b, c, s in session.execute(_problems(previous.id))}
    )
    changes = {key: ("unchanged" if key in before else "new") for key in now}
    fixed = sorted((b, c, s) for (b, c), s in before.items() if (b, c) not in now)
    return changes, fixed


def _status_rank() -> Any:
    return case({s: i for i, s in enumerate(STATUS_ORDER)}, value=ProbeBucket.status, else_=9)


#: Severities, worst first: within a status, buckets with worse findings come first.
SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _severity_rank() -> Any:
    """The worst severity among the bucket's findings that need action (9: none)."""
    rank = case({s: i for i, s in enumerate(SEVERITY_ORDER)}, value=ProbeFinding.severity, else_=8)
    worst = (
        select(func.min(rank))
        .where(ProbeFinding.bucket_id == ProbeBucket.id, ProbeFinding.status.in_(PROBLEM_STATUSES))
        .scalar_subquery()
    )
    return func.coalesce(worst, 9)


def run_results(*, session: Session, run: ProbeRun, filters: Filters) -> Results:
    """A page of the run's buckets (worst first), filtered, with changes and tickets."""
    previous = previous_run(session=session, run=run)
    changes, fixed = compare_runs(session=session, run=run, previous=previous)
    query = select(ProbeBucket).where(ProbeBucket.run_id == run.id)
    if filters.status:
        query = query.where(ProbeBucket.status == filters.status)
    if filters.q:
        query = query.where(contains_text(ProbeBucket.bucket, filters.q))
    if filters.check:
        query = query.where(
            exists().where(
                ProbeFinding.bucket_id == ProbeBucket.id,
                ProbeFinding.check == filters.check,
                ProbeFinding.status.in_(PROBLEM_STATUSES),
            )
        )
    if filters.change:
        chosen = sorted({b for (b, _), kind in changes.items() if kind == filters.change})
        query = query.where(ProbeBucket.bucket.in_(chosen))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    buckets = session.scalars(
        query.options(selectinload(ProbeBucket.findings))
        .order_by(_status_rank(), _severity_rank(), ProbeBucket.bucket)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    names = [b.bucket for b in buckets]
    tickets: dict[tuple[str, str], list[FindingTicket]] = {}
    for t in session.scalars(
        select(FindingTicket)
        .where(FindingTicket.decision_id == run.decision_id, FindingTicket.bucket.in_(names))
        .order_by(FindingTicket.id)
    ):
        tickets.setdefault((t.bucket, t.check), []).append(t)
    counts = {kind: 0 for kind in CHANGES}
    for kind in changes.values():
        counts[kind] += 1
    counts["fixed"] = len(fixed)
    return Results(
        buckets=buckets,
        total=total,
        filters=Filters(filters.status, filters.check, filters.q, filters.change, page),
        pages=pages,
        previous=previous,
        changes=changes,
        counts=counts,
        fixed=fixed,
        tickets=tickets,
    )


def run_report(*, session: Session, run: ProbeRun) -> dict[str, Any]:
    """The run as the probe JSON of CONTRACT.md, plus the run's own record under `run`."""
    buckets = session.scalars(
        select(ProbeBucket)
        .where(ProbeBucket.run_id == run.id)
        .options(selectinload(ProbeBucket.findings))
        .order_by(ProbeBucket.bucket)
    ).all()
    return {
        "run": {
            "id": run.id,
            "decision_id": run.decision_id,
            "decision_version": run.decision_version,
            "target": run.target_name,
            "status": run.status,
            "total": run.total,
            "done": run.done,
            "error": run.error,
            "created_at": run.created_at.isoformat(),
            "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        },
        "expected": {"option": run.option, "configuration": run.configuration},
        "target": {"endpoint_url": None, "region": run.region, "account": run.account},
        "buckets": [
            {
                "bucket": b.bucket,
                "region": b.region,
                "status": b.status,
                "findings": [
                    {
                        "check": f.check,
                        "status": f.status,
                        "severity": f.severity,
                        "expected": f.expected,
                        "actual": f.actual,
                        "message": f.message,
                        "remediation": f.remediation,
                    }
                    for f in b.findings
                ],
            }
            for b in buckets
        ],
        "summary": run.summary,
    }


def add_finding_ticket(
    *, session: Session, decision_id: int, bucket: str, check: str, url: str
) -> FindingTicket:
    """Link a ticket URL to a finding (a check on a bucket) of a decision.

    Raises:
        NotFound: no such decision, or no run of it ever reported this bucket.
        Invalid: an unknown check id or a URL that is not a ticket link.
        Conflict: the ticket is already linked to this finding.
    """
    if session.get(Decision, decision_id) is None:
        raise NotFound(f"decision {decision_id} does not exist")
    if check not in CHECK_IDS:
        raise Invalid([Problem(("check",), check, "is not a check id")])
    seen = session.scalar(
        select(ProbeBucket.id)
        .join(ProbeRun, ProbeRun.id == ProbeBucket.run_id)
        .where(ProbeRun.decision_id == decision_id, ProbeBucket.bucket == bucket)
        .limit(1)
    )
    if seen is None:
        raise NotFound(f"no probe run of decision {decision_id} reported bucket {bucket!r}")
    try:
        ref = parse_ticket_url(url)
    except TicketURLError as exc:
        raise Invalid([Problem(("url",), url, str(exc))]) from None
    twice = session.scalar(
        select(FindingTicket.id).where(
            and_(
                FindingTicket.decision_id == decision_id,
                FindingTicket.bucket == bucket,
                FindingTicket.check == check,
                FindingTicket.url == ref.url,
            )
        )
    )
    if twice is not None:
        raise Conflict(f"ticket {ref.url} is already linked to {check} on {bucket}")
    link = FindingTicket(
        decision_id=decision_id,
        bucket=bucket,
        check=check,
        url=ref.url,
        system=ref.system,
        key=ref.key,
    )
    session.add(link)
    session.flush()
    return link


def remove_finding_ticket(*, session: Session, decision_id: int, ticket_id: int) -> FindingTicket:
    """Unlink a ticket from a finding; returns the removed link (for re-rendering its cell).

    Raises:
        NotFound: no such link on this decision.
    """
    link = session.scalar(
        select(FindingTicket).where(
            FindingTicket.id == ticket_id, FindingTicket.decision_id == decision_id
        )
    )
    if link is None:
        raise NotFound(f"decision {decision_id} has no finding ticket {ticket_id}")
    session.delete(link)
    session.flush()
    return link


def finding_tickets(
    *, session: Session, decision_id: int, bucket: str, check: str
) -> Sequence[FindingTicket]:
    """The tickets linked to one finding of a decision."""
    return session.scalars(
        select(FindingTicket)
        .where(
            FindingTicket.decision_id == decision_id,
            FindingTicket.bucket == bucket,
            FindingTicket.check == check,
        )
        .order_by(FindingTicket.id)
    ).all()
