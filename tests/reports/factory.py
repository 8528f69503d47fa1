"""Decisions and probe runs for report tests and bench/report.py, written with the real services
and SQLAlchemy models (no HTTP, no AWS): a decision with versions, approvals and tickets, and
finished probe runs with buckets and findings as the web app's runner records them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.decisions.approvals import record_step
from app.decisions.schemas import DecisionCreate, Scope
from app.decisions.service import add_ticket, create_decision, save_answers
from app.probe.checks import CHECK_IDS, SEVERITY, bucket_status, summarize
from app.probe.checks import Finding as CheckFinding
from app.probe.records import FindingTicket, ProbeBucket, ProbeFinding, ProbeRun

AUDIT = {"audit_key_usage": True, "compliance_frameworks": ["pci-dss"]}
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
#: Expected and actual values of a passing finding, per check.
PASSING = {
    "default-encryption": ("aws:kms", "aws:kms"),
    "kms-key-manager": ("CUSTOMER", "CUSTOMER"),
    "kms-key-origin": ("AWS_KMS", "AWS_KMS"),
    "kms-key-state": ("Enabled", "Enabled"),
    "kms-key-rotation": ("enabled, 365 days", "enabled, 365 days"),
    "bucket-key": ("false", "false"),
    "sse-c-blocked": ("SSE-C blocked", "SSE-C blocked"),
    "encryption-enforced": ("deny without aws:kms", "deny without aws:kms"),
    "tls-only": ("deny aws:SecureTransport false", "deny aws:SecureTransport false"),
    "audit-trail": ("a trail logging KMS events", "trail org-trail"),
    "object-sample": ("aws:kms", "aws:kms"),
}
#: What a failing finding says, per check: (status, actual, message).
FAILING = {
    "default-encryption": (
        "fail",
        "AES256",
        "Default encryption is AES256; sse-kms-cmk expects aws:kms.",
    ),
    "kms-key-rotation": (
        "fail",
        "disabled",
        "Automatic rotation is off; sse-kms-cmk expects rotation every 365 days.",
    ),
    "tls-only": (
        "fail",
        "no deny",
        "The bucket policy does not deny requests where aws:SecureTransport is false.",
    ),
    "sse-c-blocked": (
        "warn",
        "not set",
        "GetBucketEncryption returns no BlockedEncryptionTypes: SSE-C may be allowed.",
    ),
    "kms-key-state": (
        "unknown",
        "not read",
        "kms:DescribeKey was refused: the key's state is unknown (grant kms:DescribeKey).",
    ),
}


@dataclass
class BucketSpec:
    """A bucket of a seeded run and the checks it does not pass (check -> status override)."""

    name: str
    region: str = "eu-west-1"
    problems: tuple[str, ...] = ()

    def build(self) -> list[CheckFinding]:
        """The bucket's findings: every check, passing unless listed in `problems`."""
        found = []
        for check in CHECK_IDS:
            expected, actual = PASSING[check]
            status, message = "pass", f"{check}: {actual} as expected."
            if check in self.problems:
                status, actual, message = FAILING[check]
            remediation = (
                "Nothing to change." if status == "pass" else f"Fix {check} on {self.name}."
            )
            found.append(
                CheckFinding(
                    check,
                    status,
                    SEVERITY[check],
                    expected,
                    actual,
                    message,
                    remediation,  # type: ignore[arg-type]
                )
            )
        return found


def make_decision(
    session: Session,
    engine: Engine,
    *,
    title: str = "Payments data lake",
    answers: dict[str, Any] | None = None,
    approve: bool = True,
    ticket: str | None = "https://acme.atlassian.net/browse/SEC-42",
) -> int:
    """A decision with one version, proposed and approved (with comments) and a linked ticket."""
    view = create_decision(
        session=session,
        engine=engine,
        data=DecisionCreate(
            title=title,
            description="Raw card-payment files landed by the acquirer feed.",
            owner="Grace Hopper",
            scope=Scope(accounts=["123456789012"], buckets=["payments-raw"], tags={"env": "prod"}),
            answers=AUDIT if answers is None else answers,
        ),
    )
    decision_id = view.decision.id
    if ticket:
        add_ticket(session=session, decision_id=decision_id, url=ticket)
    if approve:
        record_step(
            session=session,
            engine=engine,
            decision_id=decision_id,
            action="propose",
            actor="Grace Hopper",
            comment="Audit of key use is required by PCI DSS 10.2.",
        )
        record_step(
            session=session,
            engine=engine,
            decision_id=decision_id,
            action="approve",
            actor="Ada Auditor",
            comment="Approved for the Q4 PCI assessment.",
        )
    session.flush()
    return decision_id


def new_version(session: Session, engine: Engine, decision_id: int, answers: dict[str, Any]) -> int:
    """Save new answers as the decision's next version; returns its number."""
    view = save_answers(
        session=session, engine=engine, decision_id=decision_id, answers=answers, note="HSM asked"
    )
    assert view.current is not None
    return view.current.number


def add_run(
    session: Session,
    *,
    decision_id: int,
    version: int,
    buckets: list[BucketSpec],
    finished_at: dt.datetime = T0,
    target: str = "prod",
) -> ProbeRun:
    """A finished (done) probe run of the decision with these buckets and their findings."""
    built = [(b, b.build()) for b in buckets]
    statuses = [bucket_status(found) for _, found in built]
    run = ProbeRun(
        decision_id=decision_id,
        decision_version=version,
        target_name=target,
        target_title="Production account",
        option="sse-kms-cmk",
        configuration={"ServerSideEncryptionConfiguration": {}},
        status="done",
        total=len(buckets),
        done=len(buckets),
        summary=summarize(statuses),
        account="123456789012",
        region="eu-west-1",
        created_at=finished_at - dt.timedelta(minutes=5),
        started_at=finished_at - dt.timedelta(minutes=4),
        finished_at=finished_at,
        heartbeat_at=finished_at,
    )
    session.add(run)
    session.flush()
    rows = [
        ProbeBucket(
            run_id=run.id,
            bucket=spec.name,
            region=spec.region,
            status=status,
            key_arn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        for (spec, _), status in zip(built, statuses, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    values = [
        {"bucket_id": row.id, "position": i, **f.to_dict()}
        for row, (_, found) in zip(rows, built, strict=True)
        for i, f in enumerate(found)
    ]
    session.execute(insert(ProbeFinding), values)
    session.flush()
    return run


def link_finding_ticket(session: Session, decision_id: int, bucket: str, check: str) -> None:
    """A ticket tracking one finding (a check on a bucket)."""
    session.add(
        FindingTicket(
            decision_id=decision_id,
            bucket=bucket,
            check=check,
            url="https://github.com/acme/infra/issues/7",
            system="github",
            key="acme/infra#7",
        )
    )
    session.flush()


def many_buckets(count: int) -> list[BucketSpec]:
    """`count` buckets, one in four with one to three problems (a realistic large account)."""
    kinds = list(FAILING)
    specs = []
    for i in range(count):
        problems: tuple[str, ...] = ()
        if i % 4 == 0:
            problems = tuple(kinds[(i + k) % len(kinds)] for k in range(1 + i % 3))
        specs.append(
            BucketSpec(f"data-{i:05d}-{'eu' if i % 3 else 'us'}-archive", problems=problems)
        )
    return specs
