"""The audit log page: every change, newest first, filtered by decision, with the chain's
state (auditors and admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.accounts.access import requires
from app.accounts.roles import Permission
from app.audit import service
from app.audit.events import record_event
from app.core.deps import MAX_ID, AdvisorDep, SessionDep, TemplatesDep

router = APIRouter(include_in_schema=False)
PAGE = 100


@router.get("/audit", name="audit_log", dependencies=[requires(Permission.AUDIT)])
def audit_log(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    templates: TemplatesDep,
    decision: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    verify: Annotated[bool, Query()] = False,
) -> Response:
    """Entries newest first (100 a page), optionally one decision's; with ?verify=1 whether
    the whole chain holds (on demand: it reads every entry)."""
    entries = service.list_entries(
        session=session, decision_id=decision, limit=PAGE, offset=(page - 1) * PAGE
    )
    total = service.count_entries(session=session, decision_id=decision)
    record_event(
        session,
        action="audit.viewed",
        subject="audit log" if decision is None else f"audit log of decision {decision}",
        request=request,
        decision_id=decision,
        details={"decision": decision, "page": page, "verify": verify},
    )
    context = {
        "ruleset": engine.ruleset,
        "entries": entries,
        "total": total,
        "decision": decision,
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "verified": service.verify_chain(session=session) if verify else None,
    }
    return templates.TemplateResponse(request, "audit/log.html", context)
