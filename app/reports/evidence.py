"""The probe evidence of a report: the decision's latest finished run, its buckets and findings,
tallies per check, alike findings grouped, a verdict, and the comparison with the run before."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.probe.checks import CHECK_IDS, STATUS_ORDER
from app.probe.records import PROBLEM_STATUSES, FindingTicket, ProbeBucket, ProbeFinding, ProbeRun
from app.probe.service import compare_runs, previous_run
from app.reports import model as m
from app.reports.common import ticket, utc

#: Finding statuses in the order report tables show them (worst first).
FINDING_STATUSES = (*STATUS_ORDER, "not-applicable")


def probe_evidence(*, session: Session, run: ProbeRun, version: int) -> m.ProbeEvidence:
    """The evidence of a finished run, for a report on decision version `version`."""
    previous = previous_run(session=session, run=run)
    changes, fixed = compare_runs(session=session, run=run, previous=previous)
    tickets: dict[tuple[str, str], list[m.Ticket]] = {}
    for t in session.scalars(
        select(FindingTicket)
        .where(FindingTicket.decision_id == run.decision_id)
        .order_by(FindingTicket.id)
    ):
        tickets.setdefault((t.bucket, t.check), []).append(ticket(t))
    rows = session.execute(
        select(
            ProbeBucket.bucket,
            ProbeBucket.region,
            ProbeBucket.status,
            ProbeBucket.key_arn,
            ProbeFinding.check,
            ProbeFinding.status,
            ProbeFinding.severity,
            ProbeFinding.expected,
            ProbeFinding.actual,
            ProbeFinding.message,
            ProbeFinding.remediation,
        )
        .outerjoin(ProbeFinding, ProbeFinding.bucket_id == ProbeBucket.id)
        .where(ProbeBucket.run_id == run.id)
        .order_by(ProbeBucket.bucket, ProbeFinding.position)
    )
    heads: dict[str, tuple[str, str, str | None]] = {}
    findings: dict[str, list[m.Finding]] = {}
    tally: Counter[tuple[str, str]] = Counter()
    for bucket, region, bstatus, key_arn, check, status, severity, *text in rows:
        heads[bucket] = (region, bstatus, key_arn)
        found = findings.setdefault(bucket, [])
        if check is None:  # a bucket recorded without findings
            continue
        tally[check, status] += 1
        needs_action = status in PROBLEM_STATUSES
        expected, actual, message, remediation = text
        found.append(
            m.Finding(
                check=check,
                status=status,
                severity=severity,
                expected=expected,
                actual=actual,
                message=message,
                remediation=remediation,
                needs_action=needs_action,
                change=changes.get((bucket, check)) if needs_action and previous else None,
                tickets=tickets.get((bucket, check), []),
            )
        )
    rank = {s: i for i, s in enumerate(FINDING_STATUSES)}
    buckets = [
        m.Bucket(
            bucket=name,
            region=region,
            status=status,
            key_arn=key_arn,
            needs_action=status in PROBLEM_STATUSES,
            problems=", ".join(f"{f.check} ({f.status})" for f in findings[name] if f.needs_action),
            findings=findings[name],
        )
        for name, (region, status, key_arn) in sorted(
            heads.items(), key=lambda item: (rank.get(item[1][1], 99), item[0])
        )
    ]
    present = {check for check, _ in tally}
    checks = [c for c in CHECK_IDS if c in present] + sorted(present - set(CHECK_IDS))
    summary = dict(run.summary or {})
    if not summary:
        counted = Counter(b.status for b in buckets)
        summary = {"buckets": len(buckets), **{s: counted[s] for s in STATUS_ORDER}}
    verdict, verdict_text = _verdict(summary)
    return m.ProbeEvidence(
        run_id=run.id,
        target=run.target_name,
        target_title=run.target_title,
        account=run.account,
        region=run.region,
        option=run.option,
        checked_version=run.decision_version,
        note=None
        if run.decision_version == version
        else (
            f"This run checked the buckets against version {run.decision_version} "
            f"({run.option}), not version {version}: it is the latest finished run of the decision."
        ),
        started_at=None if run.started_at is None else utc(run.started_at),
        finished_at=None if run.finished_at is None else utc(run.finished_at),
        summary=summary,
        verdict=verdict,
        verdict_text=verdict_text,
        statuses=list(FINDING_STATUSES),
        checks=[
            m.CheckTally(check=c, counts={s: tally[c, s] for s in FINDING_STATUSES}) for c in checks
        ],
        buckets=buckets,
        passed_buckets=[b.bucket for b in buckets if not b.needs_action],
        problem_groups=_groups(buckets, rank),
        comparison=None
        if previous is None
        else m.Comparison(
            previous_run_id=previous.id,
            previous_finished_at=None
            if previous.finished_at is None
            else utc(previous.finished_at),
            new=sum(1 for kind in changes.values() if kind == "new"),
            unchanged=sum(1 for kind in changes.values() if kind == "unchanged"),
            fixed=[m.Fixed(bucket=b, check=c, previous_status=s) for b, c, s in fixed],
        ),
    )


def _groups(buckets: list[m.Bucket], rank: dict[str, int]) -> list[m.ProblemGroup]:
    """Findings that need action, alike ones together: worst status, then check, then most."""
    found: dict[tuple[str, ...], list[tuple[m.Bucket, m.Finding]]] = {}
    for b in buckets:
        for f in b.findings:
            if f.needs_action:
                key = (f.check, f.status, f.severity, f.expected, f.actual, f.message)
                found.setdefault(key, []).append((b, f))
    order = {c: i for i, c in enumerate(CHECK_IDS)}
    keys = sorted(found, key=lambda k: (rank.get(k[1], 99), order.get(k[0], 99), -len(found[k]), k))
    return [
        m.ProblemGroup(
            check=check,
            status=status,
            severity=severity,
            expected=expected,
            actual=actual,
            message=message,
            buckets=[b.bucket for b, _ in found[key]],
            new=sum(1 for _, f in found[key] if f.change == "new"),
            tickets=[f"{b.bucket}: {t.key}" for b, f in found[key] for t in f.tickets],
        )
        for key in keys
        for check, status, severity, expected, actual, message in [key]
    ]


Verdict = Literal["compliant", "not compliant", "incomplete"]


def _verdict(summary: dict[str, int]) -> tuple[Verdict, str]:
    total = summary.get("buckets", 0)
    failing = summary.get("fail", 0)
    unchecked = summary.get("unknown", 0) + summary.get("error", 0)
    warned = summary.get("warn", 0)
    parts = [f"{failing:,} of {total:,} buckets fail at least one check"]
    if unchecked:
        parts.append(f"{unchecked:,} could not be fully checked (unknown or error)")
    if warned:
        parts.append(f"{warned:,} {'has' if warned == 1 else 'have'} warnings")
    text = "; ".join(parts) + "."
    if failing:
        return "not compliant", text
    if unchecked:
        return "incomplete", text
    return "compliant", text
