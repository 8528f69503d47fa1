"""Approvals: propose a decision, approve or reject it with a comment; changes reopen it.

The status moves only through these steps: draft or rejected → proposed (propose), proposed →
approved (approve) or rejected (reject, a comment required). Each step is appended to the
decision's approvals with who, when, the version it applies to and the rule set in force.
An approved decision is frozen: any later change (new answers, new details) makes it a draft
again, to be proposed and approved anew; the approval stays on record with its version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.roles import Permission
from app.advisor.evaluate import Engine
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, Problem
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
    version: int | None = None,
    revision: int | None = None,
) -> Approval:
    """Take one approval step on the decision's current version.

    The step is decided on the version and revision it was read at (`version` and `revision`
    when the caller says what it saw, else what this transaction read), in one conditional
    UPDATE: of an approval step and an edit, or of two steps, made at once, exactly one
    wins and the other gets the Conflict. A step counts as a change of the decision (its
    revision goes up), so an edit based on the revision before it is refused too.

    Raises:
        NotFound: no such decision.
        Invalid: an unknown action, no actor, a rejection without a comment, or a decision
            without a saved version.
        Conflict: the action is not allowed from the decision's status, or the decision
            changed since `version`/`revision` (or since it was read).
        Forbidden: an approval by the person who proposed the version or last changed it.
    """
    decision = session.get(Decision, decision_id, populate_existing=True)
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
    read_version, read_revision = decision.current_version, decision.revision
    proposer = _proposer(session, decision_id, read_version) if action != "propose" else None
    if action == "approve":
        refused = self_review(decision, proposer, actor)
        if refused:
            raise Forbidden(refused)
    if (version is not None and version != read_version) or (
        revision is not None and revision != read_revision
    ):
        raise _changed(decision_id, action, version or read_version, read_version)
    now = utcnow()
    claimed = session.execute(
        update(Decision)
        .where(
            Decision.id == decision_id,
            Decision.status.in_(ALLOWED_FROM[action]),
            Decision.current_version == read_version,
            Decision.revision == read_revision,
        )
        .values(status=APPROVAL_ACTIONS[action], revision=Decision.revision + 1, updated_at=now)
        .returning(Decision.revision)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        session.refresh(decision)
        raise _changed(decision_id, action, read_version, decision.current_version)
    step = Approval(
        decision_id=decision_id,
        version=read_version,
        action=action,
        actor=actor,
        proposed_by=proposer,
        comment=comment,
        ruleset_version=engine.ruleset.version,
        ruleset_sha256=engine.ruleset.sha256,
        created_at=now,
    )
    session.add(step)
    session.flush()
    session.refresh(decision)
    return step


def _proposer(session: Session, decision_id: int, version: int) -> str | None:
    """Who proposed this version of the decision (the latest propose step for it)."""
    return session.scalar(
        select(Approval.actor)
        .where(
            Approval.decision_id == decision_id,
            Approval.version == version,
            Approval.action == "propose",
        )
        .order_by(Approval.id.desc())
        .limit(1)
    )


def self_review(decision: Decision, proposer: str | None, actor: str) -> str | None:
    """Why `actor` may not approve the decision's current version (separation of duties: not
    the person who proposed it, nor the one who last changed it), or None when they may."""
    me = actor.strip().casefold()
    number = decision.current_version
    if proposer is not None and proposer.strip().casefold() == me:
        return (
            f"you proposed version {number}: another person must approve it "
            "(separation of duties; an admin may not approve their own proposal either)"
        )
    if decision.last_edited_by and decision.last_edited_by.strip().casefold() == me:
        return (
            f"you made the last change to decision {decision.id} (version {number}): another "
            "person must approve it (separation of duties)"
        )
    return None


def review_blocked(session: Session, decision: Decision, actor: str | None) -> str | None:
    """For the page: why `actor` could not approve the current version now, if so."""
    if actor is None or decision.status != "proposed" or decision.current_version == 0:
        return None
    proposer = _proposer(session, decision.id, decision.current_version)
    return self_review(decision, proposer, actor)


@dataclass(frozen=True)
class AwaitingReview:
    """The proposed decisions one reader may decide on, and those they may not (theirs)."""

    mine_to_decide: list[tuple[Decision, str | None]]
    held_for_others: list[tuple[Decision, str | None]]


def awaiting_review(session: Session, actor: str, *, limit: int = 50) -> AwaitingReview:
    """The proposed decisions (newest first, at most `limit`) with who proposed each, split by
    whether `actor` may approve them (separation of duties: not their own proposal, nor a
    decision they changed last)."""
    proposer = (
        select(Approval.actor)
        .where(
            Approval.decision_id == Decision.id,
            Approval.version == Decision.current_version,
            Approval.action == "propose",
        )
        .order_by(Approval.id.desc())
        .limit(1)
        .correlate(Decision)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Decision, proposer)
        .where(Decision.status == "proposed", Decision.current_version > 0)
        .order_by(Decision.updated_at.desc(), Decision.id.desc())
        .limit(limit)
    ).all()
    mine: list[tuple[Decision, str | None]] = []
    others: list[tuple[Decision, str | None]] = []
    for decision, by in rows:
        (others if self_review(decision, by, actor) else mine).append((decision, by))
    return AwaitingReview(mine, others)


def _changed(decision_id: int, action: str, seen: int, now: int) -> Conflict:
    """The Conflict of a step whose decision changed after it was read."""
    what = f"version {seen} was replaced by version {now}" if now != seen else "it changed"
    return Conflict(
        f"decision {decision_id} changed while you were deciding ({what}): nothing was "
        f"recorded; reload it and {action} again"
    )


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
