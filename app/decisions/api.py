"""The JSON API: recommendations, decisions, versions and ticket links (thin routes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from app.accounts.access import PrincipalDep, requires
from app.accounts.roles import Permission
from app.core.deps import MAX_ID, AdvisorDep, IdPath, SessionDep
from app.decisions import approvals, service
from app.decisions.schemas import (
    ApprovalIn,
    ApprovalOut,
    DecisionCreate,
    DecisionOut,
    DecisionPatch,
    DecisionSummary,
    QueryText,
    Status,
    TicketIn,
    TicketOut,
    VersionDetail,
    VersionOut,
)

VersionQuery = Annotated[int, Query(ge=1, le=MAX_ID)]
router = APIRouter(prefix="/api", tags=["api"])

ANSWERS_EXAMPLE = {"audit_key_usage": True, "compliance_frameworks": ["pci-dss"]}


def decision_out(view: service.DecisionView) -> DecisionOut:
    """The API shape of a decision view."""
    d = view.decision
    return DecisionOut(
        id=d.id,
        title=d.title,
        status=d.status,
        owner=d.owner,
        current_version=d.current_version,
        current_option=d.current_option,
        revision=d.revision,
        updated_at=d.updated_at,
        tickets=[TicketOut.model_validate(t) for t in d.tickets],
        description=d.description,
        scope=d.scope,
        draft_answers=d.draft_answers,
        created_at=d.created_at,
        current=None if view.current is None else VersionDetail.model_validate(view.current),
    )


@router.post(
    "/recommendations", summary="Evaluate answers", dependencies=[requires(Permission.READ)]
)
def recommend(
    engine: AdvisorDep,
    answers: Annotated[dict[str, Any], Body(examples=[ANSWERS_EXAMPLE])],
) -> dict[str, Any]:
    """Evaluate an answer set (question id to value) and return the recommendation JSON."""
    return service.evaluate_answers(engine=engine, answers=answers).data


@router.post(
    "/decisions",
    status_code=status.HTTP_201_CREATED,
    summary="Create a decision",
    dependencies=[requires(Permission.EDIT)],
)
def create_decision(session: SessionDep, engine: AdvisorDep, data: DecisionCreate) -> DecisionOut:
    """Create a decision and its first version from the answers given."""
    return decision_out(service.create_decision(session=session, engine=engine, data=data))


@router.get("/decisions", summary="List decisions", dependencies=[requires(Permission.READ)])
def list_decisions(
    session: SessionDep,
    status: Status | None = None,
    ticket: Annotated[
        QueryText | None, Query(max_length=2048, description="ticket key or URL")
    ] = None,
    q: Annotated[
        QueryText | None, Query(max_length=200, description="text in title or description")
    ] = None,
) -> list[DecisionSummary]:
    """Decisions, newest change first, filtered by status, linked ticket and text."""
    found = service.list_decisions(session=session, status=status, ticket=ticket, q=q)
    return [DecisionSummary.model_validate(d) for d in found]


@router.get(
    "/decisions/{decision_id}", summary="Read a decision", dependencies=[requires(Permission.READ)]
)
def get_decision(session: SessionDep, decision_id: IdPath) -> DecisionOut:
    """A decision with its current answers, result and tickets."""
    return decision_out(service.get_decision(session=session, decision_id=decision_id))


@router.patch(
    "/decisions/{decision_id}",
    summary="Change a decision",
    dependencies=[requires(Permission.EDIT)],
)
def patch_decision(
    session: SessionDep, engine: AdvisorDep, decision_id: IdPath, data: DecisionPatch
) -> DecisionOut:
    """Change fields; new answers create a new version."""
    view = service.update_decision(
        session=session, engine=engine, decision_id=decision_id, data=data
    )
    return decision_out(view)


@router.get(
    "/decisions/{decision_id}/versions",
    summary="List versions",
    dependencies=[requires(Permission.READ)],
)
def list_versions(session: SessionDep, decision_id: IdPath) -> list[VersionOut]:
    """Every saved version of a decision, oldest first."""
    versions = service.list_versions(session=session, decision_id=decision_id)
    return [VersionOut.model_validate(v) for v in versions]


@router.get(
    "/decisions/{decision_id}/versions/{number}",
    summary="Read a version",
    dependencies=[requires(Permission.READ)],
)
def get_version(session: SessionDep, decision_id: IdPath, number: IdPath) -> VersionDetail:
    """One version with its result snapshot."""
    version = service.get_version(session=session, decision_id=decision_id, number=number)
    return VersionDetail.model_validate(version)


@router.get(
    "/decisions/{decision_id}/diff",
    summary="Compare two versions",
    dependencies=[requires(Permission.READ)],
)
def diff_versions(
    session: SessionDep, decision_id: IdPath, before: VersionQuery, after: VersionQuery
) -> dict[str, Any]:
    """What changed between two versions: answers and outcome."""
    diff = service.compare_versions(
        session=session, decision_id=decision_id, before=before, after=after
    )
    return diff.to_json()


@router.get(
    "/decisions/{decision_id}/reevaluation",
    summary="Re-evaluate under today's rules",
    dependencies=[requires(Permission.READ)],
)
def reevaluate(session: SessionDep, engine: AdvisorDep, decision_id: IdPath) -> dict[str, Any]:
    """Whether the current answers would give a different outcome today (changes nothing)."""
    found = service.reevaluate(session=session, engine=engine, decision_id=decision_id)
    return {
        "version": found.current.number,
        "result": found.result.data,
        "diff": found.diff.to_json(),
    }


@router.post(
    "/decisions/{decision_id}/tickets",
    status_code=status.HTTP_201_CREATED,
    summary="Link a ticket",
    dependencies=[requires(Permission.EDIT)],
)
def add_ticket(session: SessionDep, decision_id: IdPath, data: TicketIn) -> TicketOut:
    """Link a ticket URL; Jira, GitHub, GitLab, Linear, Azure DevOps and ServiceNow are recognised."""
    link = service.add_ticket(session=session, decision_id=decision_id, url=data.url)
    return TicketOut.model_validate(link)


@router.delete(
    "/decisions/{decision_id}/tickets/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlink a ticket",
    dependencies=[requires(Permission.EDIT)],
)
def remove_ticket(session: SessionDep, decision_id: IdPath, link_id: IdPath) -> Response:
    """Remove a ticket link."""
    service.remove_ticket(session=session, decision_id=decision_id, link_id=link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/decisions/{decision_id}/approvals",
    status_code=status.HTTP_201_CREATED,
    summary="Propose, approve or reject",
    dependencies=[requires(Permission.READ)],
)
def add_approval(
    session: SessionDep,
    engine: AdvisorDep,
    principal: PrincipalDep,
    decision_id: IdPath,
    data: ApprovalIn,
) -> ApprovalOut:
    """Take an approval step on the current version: propose (from draft or rejected), approve
    or reject (from proposed; a rejection needs a comment). 409 when the status does not allow
    it, or when the decision changed since `version`/`revision` (or while the step was taken:
    of a step and an edit sent at once, exactly one wins). Any later change to the decision makes it a draft again. Proposing needs the edit
    permission (architects), approving and rejecting the approve permission (auditors)."""
    principal.demand(approvals.ACTION_PERMISSION[data.action])
    step = approvals.record_step(
        session=session,
        engine=engine,
        decision_id=decision_id,
        action=data.action,
        actor=principal.name,
        comment=data.comment,
        version=data.version,
        revision=data.revision,
    )
    return ApprovalOut.model_validate(step)


@router.get(
    "/decisions/{decision_id}/approvals",
    summary="Approval history",
    dependencies=[requires(Permission.READ)],
)
def list_approvals(session: SessionDep, decision_id: IdPath) -> list[ApprovalOut]:
    """Every approval step of a decision, oldest first."""
    service.get_decision(session=session, decision_id=decision_id)
    steps = approvals.list_approvals(session=session, decision_id=decision_id)
    return [ApprovalOut.model_validate(s) for s in steps]
