"""Approvals: propose a decision, approve or reject it with a comment; changes reopen it.

The status moves only through these steps: draft or rejected → proposed (propose), proposed →
approved (approve) or rejected (reject, a comment required). Each step is appended to the
decision's approvals with who, when, the version it applies to and the rule set in force.
An approved decision is frozen: any later change (new answers, new details) makes it a draft
again, to be proposed and approved anew; the approval stays on record with its version.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.roles import Permission
from app.advisor.evaluate import Engine
from app.core.errors import Conflict, Invalid, NotFound, Problem
from app.decisions.models import APPROVAL_ACTIONS, Approval, Decision, utcnow

#: The permission each action needs: proposing is an edit, deciding is the auditor's.
ACTION_PERMISSION = {
    "propose": Permission.EDIT,
    "approve": Permission.APPROVE,
    "reject": Permission.APPROVE,
}

#: The statuses each action may start from.
ALLOWED_FROM = {
    "propose": ("draft", "rejected"),
    "approve": ("proposed",),
    "reject": ("proposed",),
}


def record_step(
    *,
    session: Session,
    engine: Engine,
    decision_id: int,
    action: str,
    actor: str,
    comment: str | None = None,
) -> Approval:
    """Take one approval step on the decision's current version.

    Raises:
        NotFound: no such decision.
        Invalid: an unknown action, no actor, a rejection without a comment, or a decision
            without a saved version.
        Conflict: the action is not allowed from the decision's status.
    """
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id} does not exist")
    problems = []
    if action not in APPROVAL_ACTIONS:
        problems.append(Problem(("action",), action, "must be propose, approve or reject"))
    actor = actor.strip()
    if not actor:
        problems.append(Problem(("actor",), actor, "says who takes this step and is required"))
    comment = (comment or "").strip() or None
    if action == "reject" and comment is None:
        problems.append(Problem(("comment",), comment, "is required to reject: say why"))
    if decision.current_version == 0:
        problems.append(
            Problem(("decision",), decision_id, "has no saved version to propose or approve")
        )
    if problems:
        raise Invalid(problems)
    if decision.status not in ALLOWED_FROM[action]:
        allowed = " or ".join(ALLOWED_FROM[action])
        raise Conflict(
            f"decision {decision_id} is {decision.status}: it can be {action}d only when {allowed}"
            if action != "propose"
            else f"decision {decision_id} is {decision.status}: only a {allowed} decision "
            "can be proposed"
        )
    step = Approval(
        decision_id=decision_id,
        version=decision.current_version,
        action=action,
        actor=actor,
        comment=comment,
        ruleset_version=engine.ruleset.version,
        ruleset_sha256=engine.ruleset.sha256,
        created_at=utcnow(),
    )
    session.add(step)
    decision.status = APPROVAL_ACTIONS[action]
    decision.updated_at = utcnow()
    session.flush()
    return step


def reopen(decision: Decision) -> None:
    """A change to a proposed, approved or rejected decision makes it a draft again."""
    if decision.status in APPROVAL_ACTIONS.values():
        decision.status = "draft"


def list_approvals(*, session: Session, decision_id: int) -> Sequence[Approval]:
    """A decision's approval steps, oldest first."""
    return session.scalars(
        select(Approval).where(Approval.decision_id == decision_id).order_by(Approval.id)
    ).all()


def approval_of(steps: Sequence[Approval], version: int) -> Approval | None:
    """The approval in force for `version`: its last approve step, if no later step undid it."""
    last = next((s for s in reversed(steps) if s.version == version), None)
    return last if last is not None and last.action == "approve" else None
