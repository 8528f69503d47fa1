"""Events: what someone did that changes no audited row, recorded in the audit log all the same.

A sign-in or sign-out, a bulk export, a report download, a view of the audit log, a probe run
that could not record its own failure. Each entry says who (the actor), what (the action,
its subject and details), when (the entry's time, set as the chain is extended at commit) and
from where (`client`: the TCP peer's address, or, behind a trusted proxy, the client's it
forwarded; app/core/network.py). The entry joins the session's transaction like any change:
committed with it, dropped by its rollback. An event that must stay although the request
fails needs a session of its own:

    with sessions() as s:
        record_event(s, action="probe_run.failed", subject=f"probe run {run_id}", ...)
        s.commit()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.audit.recorder import append
from app.core.network import client_address

#: Longest subject an entry holds (AuditEntry.subject).
_SUBJECT_MAX = 200


def record_event(
    session: Session,
    *,
    action: str,
    subject: str,
    request: Request | None = None,
    client: str | None = None,
    actor: str | None = None,
    decision_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append an event to the audit log, written when `session` commits.

    Args:
        session: The unit of work the event belongs to.
        action: What happened, e.g. "signin.succeeded", "report.downloaded".
        subject: What it happened to, e.g. "user ada", "decision 3 report".
        request: The request it came with: its client address is recorded.
        client: The address to record instead (a job acting for a request that is gone).
        actor: Who did it; default the session's actor (the signed-in user, "system" ...).
        decision_id: The decision it concerns, so the decision's audit view shows it.
        details: What else to record (a format, a filter ...), as JSON-able values.
    """
    after: dict[str, Any] = {}
    if request is not None:
        after["client"] = client_address(request)
    if client is not None:
        after["client"] = client
    after.update(details or {})
    append(
        session,
        action=action,
        subject=subject[:_SUBJECT_MAX],
        actor=actor,
        decision_id=decision_id,
        after=after or None,
    )
