"""The audit log part of the report: the decision's latest entries, oldest first, and whether
the whole chain verified when the report was generated."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.audit.chain import VerifyResult
from app.audit.service import count_entries, list_entries, verify_chain
from app.reports import model as m
from app.reports.common import utc

#: Entries listed at most (the latest): a decision edited for years still makes a bounded report.
AUDIT_LIMIT = 500


def audit_log(*, session: Session, decision_id: int, limit: int = AUDIT_LIMIT) -> m.AuditLog:
    """The decision's latest `limit` audit entries, oldest first, and the chain's status."""
    total = count_entries(session=session, decision_id=decision_id)
    latest = list_entries(session=session, decision_id=decision_id, limit=limit, newest_first=True)
    entries = [
        m.AuditEntry(
            seq=e.seq,
            at=utc(e.at),
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            before=e.before,
            after=e.after,
            hash=e.hash,
        )
        for e in reversed(latest)
    ]
    return m.AuditLog(
        total=total,
        limit=limit,
        truncated=total > len(entries),
        entries=entries,
        chain=chain_status(verify_chain(session=session)),
    )


def chain_status(result: VerifyResult) -> m.ChainStatus:
    """What verifying the whole log found, with the outcome as a sentence."""
    if result.ok:
        summary = (
            f"The audit log verified intact when this report was generated: "
            f"{result.checked:,} entries checked, head sha256 {result.head_hash}."
        )
    else:
        summary = (
            f"The audit log FAILED verification when this report was generated, "
            f"at entry {result.first_bad_seq}: {result.reason}"
        )
    return m.ChainStatus(
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
        head_hash=result.head_hash,
        summary=summary,
    )
