"""Report downloads from the decision page (auditors and admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.accounts.access import requires
from app.accounts.roles import Permission
from app.audit.events import record_event
from app.core.deps import MAX_ID, AdvisorDep, IdPath, SessionDep, SettingsDep
from app.reports import MEDIA_TYPES, SUFFIXES, render
from app.reports.build import build_report

router = APIRouter(tags=["reports"])
#: Set with a report download that asked for it (`ready`): the page's sign that it arrived.
READY_COOKIE = "atrest_report_ready"


@router.get(
    "/decisions/{decision_id}/report.{fmt}",
    name="decision_report",
    summary="Download the auditor's report",
    dependencies=[requires(Permission.EXPORT)],
)
def decision_report(
    request: Request,
    session: SessionDep,
    engine: AdvisorDep,
    settings: SettingsDep,
    decision_id: IdPath,
    fmt: Literal["pdf", "md", "json", "csv"],
    version: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="default: the latest")
    ] = None,
    ready: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9]{1,32}$",
            description="a token the page waits for: a cookie of that value comes with the file",
        ),
    ] = None,
) -> Response:
    """The decision's report (a version, with approvals, facts, tickets, probe evidence and its
    digest) as PDF, Markdown, JSON or CSV."""
    report = build_report(
        session=session, engine=engine, settings=settings, decision_id=decision_id, version=version
    )
    body = render(report, fmt)
    record_event(
        session,
        action="report.downloaded",
        subject=f"decision {decision_id} report",
        request=request,
        decision_id=decision_id,
        details={"format": fmt, "version": report.decision.version},
    )
    name = f"atrest-decision-{decision_id}-v{report.decision.version}{SUFFIXES[fmt]}"
    response = Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    if ready:
        # The decision page shows "Preparing the PDF..." until this cookie arrives with the
        # file (a download fires no event a page can listen to).
        response.set_cookie(READY_COOKIE, ready, max_age=120, path="/", samesite="strict")
    return response
