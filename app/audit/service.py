"""Reading the audit log: entries for the auditors' page and reports, and verifying the chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.chain import FIELDS, Head, VerifyResult, verify
from app.audit.models import HEAD_ID, AuditEntry, AuditHead

#: Entries read per query when verifying: the log is streamed, never held whole in memory.
VERIFY_BATCH = 2000
_COLUMNS = [getattr(AuditEntry, name) for name in (*FIELDS, "prev_hash", "hash")]


def list_entries(
    *,
    session: Session,
    decision_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> Sequence[AuditEntry]:
    """Entries of the log, or of one decision, newest first (oldest first for a report)."""
    query = select(AuditEntry)
    if decision_id is not None:
        query = query.where(AuditEntry.decision_id == decision_id)
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    return session.scalars(query.order_by(order).limit(limit).offset(offset)).all()


def count_entries(*, session: Session, decision_id: int | None = None) -> int:
    """How many entries the log, or one decision's part of it, holds."""
    query = select(func.count()).select_from(AuditEntry)
    if decision_id is not None:
        query = query.where(AuditEntry.decision_id == decision_id)
    return int(session.scalar(query) or 0)


def _head(session: Session) -> Head | None:
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).first()
    return None if row is None else Head(seq=row.seq, hash=row.hash)


def _stream(session: Session, up_to: int) -> Iterator[Any]:
    """Entries 1..up_to in seq order, VERIFY_BATCH at a time."""
    last = 0
    while True:
        batch = session.execute(
            select(*_COLUMNS)
            .where(AuditEntry.seq > last, AuditEntry.seq <= up_to)
            .order_by(AuditEntry.seq)
            .limit(VERIFY_BATCH)
        ).all()
        yield from batch
        if len(batch) < VERIFY_BATCH:
            return
        last = batch[-1].seq


def verify_chain(*, session: Session) -> VerifyResult:
    """Check the whole log: every entry's hash and link, the run of seq, and the head.

    Entries appended while it runs are left out: the head is read first and the entries up to
    it are checked. An entry beyond the head can only have been written around the recorder
    (the two are committed together), so it is reported.
    """
    head = _head(session)
    if head is None:
        return VerifyResult(False, 0, 1, "the head of the log is missing: it was deleted")
    result = verify(_stream(session, head.seq), head)
    if not result.ok:
        return result
    # Read the last seq before the head: a committed entry is never beyond a head read later.
    last = session.scalar(select(func.max(AuditEntry.seq))) or 0
    now = _head(session) or head
    if last > now.seq:
        beyond = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq > now.seq))
        return VerifyResult(
            False,
            result.checked,
            beyond,
            f"entry {beyond} is beyond the head ({now.seq}): it was not written by the recorder",
            head.hash,
        )
    return result
