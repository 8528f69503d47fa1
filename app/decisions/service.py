"""Decision records: create, answer, version, compare and link to tickets.

Service functions are keyword-only, flush but never commit (the request's unit of work
commits once), and raise the domain errors of app.core.errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.advisor.answers import AnswerError
from app.advisor.evaluate import Engine, Result
from app.audit.recorder import ACTOR_KEY
from app.core.errors import Conflict, Invalid, NotFound, Problem
from app.core.search import contains_text
from app.decisions.approvals import reopen
from app.decisions.diff import OutcomeDiff, diff_outcomes
from app.decisions.models import (
    APPROVAL_STATUSES,
    Decision,
    DecisionVersion,
    TicketLink,
    utcnow,
)
from app.decisions.schemas import DecisionCreate, DecisionPatch, Scope
from app.decisions.tickets import TicketURLError, parse_ticket_url


@dataclass(frozen=True)
class DecisionView:
    """A decision with its tickets and current version loaded (safe to render)."""

    decision: Decision
    current: DecisionVersion | None


def editor(session: Session) -> str | None:
    """Who makes the changes of this session (the signed-in person, as the audit log says)."""
    name = session.info.get(ACTOR_KEY)
    return str(name) if name else None


def evaluate_answers(*, engine: Engine, answers: Any, field: str = "answers") -> Result:
    """Evaluate answers, turning refused ones into an Invalid error naming each field."""
    try:
        return engine.evaluate(answers)
    except AnswerError as exc:
        raise Invalid(
            [Problem((field, p.question), p.value, p.message) for p in exc.problems]
        ) from None


def check_partial_answers(*, engine: Engine, answers: dict[str, Any]) -> dict[str, Any]:
    """Validate a partial answer set (a questionnaire step) and return it as given."""
    evaluate_answers(engine=engine, answers=answers)
    return answers


#: The decision by id, with or without its tickets: built once (the questionnaire's autosave
#: and every decision page read it).
_DECISION = select(Decision).where(Decision.id == bindparam("decision_id"))
_DECISION_WITH_TICKETS = _DECISION.options(selectinload(Decision.tickets))


def _load(session: Session, decision_id: int, *, tickets: bool = True) -> Decision:
    query = _DECISION_WITH_TICKETS if tickets else _DECISION
    decision = session.scalar(query, {"decision_id": decision_id})
    if decision is None:
        raise NotFound(f"decision {decision_id} does not exist")
    return decision


def _current(session: Session, decision: Decision) -> DecisionVersion | None:
    if decision.current_version == 0:
        return None
    return session.scalar(
        select(DecisionVersion).where(
            DecisionVersion.decision_id == decision.id,
            DecisionVersion.number == decision.current_version,
        )
    )


def get_decision(*, session: Session, decision_id: int) -> DecisionView:
    """A decision with its tickets and current version."""
    decision = _load(session, decision_id)
    return DecisionView(decision, _current(session, decision))


def _cut_version(
    *, session: Session, decision: Decision, result: Result, given: dict[str, Any], note: str | None
) -> DecisionVersion:
    """Record a new version holding the result, and make it the decision's current one."""
    data = result.data
    version = DecisionVersion(
        decision_id=decision.id,
        number=decision.current_version + 1,
        answers=data["answers"],
        ruleset_version=data["ruleset"]["version"],
        ruleset_sha256=data["ruleset"]["sha256"],
        option=result.option,
        result=data,
        note=note,
    )
    session.add(version)
    decision.current_version = version.number
    decision.current_option = result.option
    decision.draft_answers = given
    session.flush()
    return version


def create_decision(*, session: Session, engine: Engine, data: DecisionCreate) -> DecisionView:
    """Create a decision and its first version from the answers given."""
    result = evaluate_answers(engine=engine, answers=data.answers)
    decision = Decision(
        title=data.title,
        description=data.description,
        scope=data.scope.model_dump(),
        owner=data.owner,
        status="draft",
        draft_answers=dict(data.answers),
        current_version=0,
        tickets=[],
        last_edited_by=editor(session),
    )
    session.add(decision)
    session.flush()
    version = _cut_version(
        session=session, decision=decision, result=result, given=dict(data.answers), note=None
    )
    return DecisionView(decision, version)


def start_draft(*, session: Session, title: str) -> Decision:
    """Create a decision with no version yet: the questionnaire fills it step by step."""
    decision = Decision(title=title, scope={}, status="draft", draft_answers={}, tickets=[])
    session.add(decision)
    session.flush()
    return decision


def save_draft_answers(
    *, session: Session, engine: Engine, decision_id: int, answers: dict[str, Any]
) -> Decision:
    """Merge a step's answers into the draft (validated; no version is cut)."""
    decision = _load(session, decision_id, tickets=False)
    merged = {**decision.draft_answers, **answers}
    check_partial_answers(engine=engine, answers=merged)
    decision.draft_answers = merged
    session.flush()
    return decision


def draft_answers(*, session: Session, decision_id: int) -> dict[str, Any]:
    """The answers the questionnaire has saved so far."""
    answers = session.scalar(select(Decision.draft_answers).where(Decision.id == decision_id))
    if answers is None:
        raise NotFound(f"decision {decision_id} does not exist")
    return dict(answers)


def save_answers(
    *,
    session: Session,
    engine: Engine,
    decision_id: int,
    answers: dict[str, Any],
    note: str | None = None,
    count_edit: bool = True,
) -> DecisionView:
    """Save answers as the decision's next version, unless nothing would change (a new version
    counts as an edit of the decision unless the caller counted it already)."""
    decision = _load(session, decision_id)
    result = evaluate_answers(engine=engine, answers=answers)
    current = _current(session, decision)
    if (
        current is not None
        and current.answers == result.data["answers"]
        and current.ruleset_sha256 == result.data["ruleset"]["sha256"]
    ):
        decision.draft_answers = dict(answers)
        session.flush()
        return DecisionView(decision, current)
    if count_edit:
        claim_edit(session=session, decision_id=decision_id, base_revision=None)
    version = _cut_version(
        session=session, decision=decision, result=result, given=dict(answers), note=note
    )
    reopen(decision)  # a new version needs approval again
    return DecisionView(decision, version)


def claim_edit(*, session: Session, decision_id: int, base_revision: int | None) -> int:
    """Count one edit of the decision, atomically; refuse it when it was based on an older
    revision (someone else edited in between). Two concurrent edits based on the same
    revision: the database lets exactly one through, the other gets the Conflict.

    Returns:
        The decision's new revision.

    Raises:
        NotFound: no such decision.
        Conflict: `base_revision` is not the current one.
    """
    statement = update(Decision).where(Decision.id == decision_id)
    if base_revision is not None:
        statement = statement.where(Decision.revision == base_revision)
    result = session.execute(
        statement.values(revision=Decision.revision + 1, last_edited_by=editor(session)).returning(
            Decision.revision
        )
    )
    claimed = result.scalar_one_or_none()
    if claimed is None:
        current = session.scalar(select(Decision.revision).where(Decision.id == decision_id))
        if current is None:
            raise NotFound(f"decision {decision_id} does not exist")
        raise Conflict(
            f"decision {decision_id} was changed by someone else since you loaded it (your "
            f"edit is based on revision {base_revision}, it is now at revision {current}): "
            "reload it and make your change again; nothing was saved"
        )
    return int(claimed)


def update_decision(
    *, session: Session, engine: Engine, decision_id: int, data: DecisionPatch
) -> DecisionView:
    """Change a decision's fields; new answers make a new version. With `data.revision`, the
    edit is refused (409) if the decision changed since that revision. A patch that would
    change nothing (a details form saved as it was) is no edit: the revision stays and an
    approved decision stays approved."""
    if _changes_nothing(session=session, engine=engine, decision_id=decision_id, data=data):
        view = get_decision(session=session, decision_id=decision_id)
        if data.revision is not None and data.revision != view.decision.revision:
            claim_edit(session=session, decision_id=decision_id, base_revision=data.revision)
        return view
    claim_edit(session=session, decision_id=decision_id, base_revision=data.revision)
    decision = _load(session, decision_id)
    if data.answers is not None:
        # Validate before touching anything, so a refused change leaves no partial edit.
        evaluate_answers(engine=engine, answers=data.answers)
    fields = data.model_dump(exclude_unset=True, exclude={"answers", "note", "revision"})
    if "title" in fields and fields["title"] is None:
        raise Invalid([Problem(("title",), None, "the title cannot be removed")])
    if "status" in fields and fields["status"] is None:
        raise Invalid([Problem(("status",), None, "the status cannot be removed")])
    status = fields.pop("status", None)
    if status is not None and status != decision.status and status in APPROVAL_STATUSES:
        raise Invalid(
            [
                Problem(
                    ("status",),
                    status,
                    f"is set by the approval steps (POST /api/decisions/{decision_id}/approvals "
                    "or the Approval section of the decision page), not by an edit",
                )
            ]
        )
    if "scope" in fields:
        fields["scope"] = fields["scope"] or {}
    changed = {name: value for name, value in fields.items() if _stored(decision, name) != value}
    for name, value in changed.items():
        setattr(decision, name, value)
    if changed:
        reopen(decision)  # an approved decision is frozen: a change needs approval again
    if status is not None and status != decision.status and status not in APPROVAL_STATUSES:
        decision.status = status
        changed["status"] = status
    if changed:
        decision.updated_at = utcnow()
    session.flush()
    if data.answers is not None:
        return save_answers(
            session=session,
            engine=engine,
            decision_id=decision_id,
            answers=data.answers,
            note=data.note,
            count_edit=False,
        )
    return DecisionView(decision, _current(session, decision))


def _stored(decision: Decision, name: str) -> Any:
    """A field of the decision as a patch would state it (a scope stored before a field was
    added to Scope reads with that field's default, so saving it unchanged is no change)."""
    value = getattr(decision, name)
    if name == "scope":
        try:
            return Scope.model_validate(value or {}).model_dump()
        except ValidationError:  # stored before a rule it breaks: compared as it is
            return value
    return value


def _changes_nothing(
    *, session: Session, engine: Engine, decision_id: int, data: DecisionPatch
) -> bool:
    """Whether the patch holds only what the decision holds already (refused values, such as
    an approval status or a removed title, count as changes: the edit reports them)."""
    decision = _load(session, decision_id, tickets=False)
    fields = data.model_dump(exclude_unset=True, exclude={"answers", "note", "revision"})
    if "scope" in fields:
        fields["scope"] = fields["scope"] or {}
    if any(_stored(decision, name) != value for name, value in fields.items()):
        return False
    if data.answers is None:
        return True
    try:
        result = engine.evaluate(data.answers)
    except AnswerError:
        return False  # the edit refuses them, naming each
    current = _current(session, decision)
    return (
        current is not None
        and current.answers == result.data["answers"]
        and current.ruleset_sha256 == result.data["ruleset"]["sha256"]
    )


def list_decisions(
    *,
    session: Session,
    status: str | None = None,
    ticket: str | None = None,
    q: str | None = None,
    limit: int = 200,
) -> Sequence[Decision]:
    """Decisions, newest change first, filtered by status, ticket key or URL, and text."""
    query: Select[Decision] = select(Decision).options(selectinload(Decision.tickets))
    if status:
        query = query.where(Decision.status == status)
    if ticket:
        needle = ticket.strip()
        query = query.where(
            Decision.id.in_(
                select(TicketLink.decision_id).where(
                    or_(
                        func.lower(TicketLink.key) == needle.lower(),
                        TicketLink.url == needle,
                    )
                )
            )
        )
    if q:
        needle = q.strip()
        query = query.where(
            or_(contains_text(Decision.title, needle), contains_text(Decision.description, needle))
        )
    query = query.order_by(Decision.updated_at.desc(), Decision.id.desc()).limit(limit)
    return session.scalars(query).all()


def list_versions(*, session: Session, decision_id: int) -> Sequence[DecisionVersion]:
    """Every version of a decision, oldest first."""
    _load(session, decision_id)
    return session.scalars(
        select(DecisionVersion)
        .where(DecisionVersion.decision_id == decision_id)
        .order_by(DecisionVersion.number)
    ).all()


def get_version(*, session: Session, decision_id: int, number: int) -> DecisionVersion:
    """One version of a decision."""
    version = session.scalar(
        select(DecisionVersion).where(
            DecisionVersion.decision_id == decision_id, DecisionVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"decision {decision_id} has no version {number}")
    return version


def compare_versions(*, session: Session, decision_id: int, before: int, after: int) -> OutcomeDiff:
    """What changed between two versions: answers and outcome."""
    a = get_version(session=session, decision_id=decision_id, number=before)
    b = get_version(session=session, decision_id=decision_id, number=after)
    return diff_outcomes(a.result, b.result)


@dataclass(frozen=True)
class Reevaluation:
    """The current version's answers evaluated under the rule set in force today."""

    decision: Decision
    current: DecisionVersion
    result: Result
    diff: OutcomeDiff


def reevaluate(*, session: Session, engine: Engine, decision_id: int) -> Reevaluation:
    """Evaluate the current answers under today's rule set, changing nothing."""
    view = get_decision(session=session, decision_id=decision_id)
    if view.current is None:
        raise Conflict(f"decision {decision_id} has no saved version to re-evaluate")
    result = engine.evaluate(view.current.answers)
    return Reevaluation(
        view.decision, view.current, result, diff_outcomes(view.current.result, result.data)
    )


def revision(*, session: Session, decision_id: int) -> tuple[Any, ...]:
    """What identifies the stored state of a decision: changes whenever anything on it does."""
    row = session.execute(
        select(Decision.updated_at, Decision.current_version).where(Decision.id == decision_id)
    ).first()
    if row is None:
        raise NotFound(f"decision {decision_id} does not exist")
    return (row.updated_at.isoformat(), row.current_version)


def add_ticket(*, session: Session, decision_id: int, url: str) -> TicketLink:
    """Link a ticket URL to a decision, recognising its system and key."""
    decision = _load(session, decision_id)
    try:
        ref = parse_ticket_url(url)
    except TicketURLError as exc:
        raise Invalid([Problem(("url",), url, str(exc))]) from None
    if any(t.url == ref.url for t in decision.tickets):
        raise Conflict(f"ticket {ref.url} is already linked to decision {decision_id}")
    link = TicketLink(decision_id=decision.id, url=ref.url, system=ref.system, key=ref.key)
    session.add(link)
    decision.tickets.append(link)
    decision.updated_at = utcnow()
    session.flush()
    return link


def remove_ticket(*, session: Session, decision_id: int, link_id: int) -> None:
    """Unlink a ticket from a decision."""
    link = session.scalar(
        select(TicketLink).where(TicketLink.id == link_id, TicketLink.decision_id == decision_id)
    )
    if link is None:
        raise NotFound(f"decision {decision_id} has no ticket link {link_id}")
    session.delete(link)
    decision = session.get(Decision, decision_id)
    if decision is not None:
        decision.updated_at = utcnow()
    session.flush()


@dataclass(frozen=True)
class LivePanel:
    """What the questionnaire's side panel shows: the leading option, why it leads, every
    exclusion so far (those of the last answer apart) and what came back."""

    result: Result
    newly_excluded: list[dict[str, Any]]
    readmitted: list[str]
    earlier_excluded: list[dict[str, Any]]
    lead_reasons: list[str]


def live_panel(
    *,
    engine: Engine,
    before: dict[str, Any],
    after: dict[str, Any],
    result: Result | None = None,
) -> LivePanel:
    """The live panel for the draft after the last answer (`result`, when the caller has
    evaluated it already) against the draft before it: `before` is only assessed (which
    options it excluded, by which rules), not turned into JSON."""
    if result is None:
        result = evaluate_answers(engine=engine, answers=after)
    new = result.data["excluded"]
    reasons = engine.lead_reasons(result.assessment)
    if before == after:  # a page view, not a change: nothing was newly excluded
        return LivePanel(result, [], [], new, reasons)
    old_rules = engine.excluding_rules(evaluate_answers(engine=engine, answers=before).assessment)
    new_ids = {e["option"] for e in new}
    # An option excluded before keeps the reasons it had then (a rule the last answer fired
    # that excludes it too would only repeat it under "Your last answer excluded").
    earlier = []
    for e in new:
        if e["option"] in old_rules:
            kept = [r for r in e["reasons"] if r["rule"] in old_rules[e["option"]]]
            earlier.append({**e, "reasons": kept or e["reasons"]})
    return LivePanel(
        result=result,
        newly_excluded=[e for e in new if e["option"] not in old_rules],
        readmitted=[o for o in engine.option_ids if o in old_rules and o not in new_ids],
        earlier_excluded=earlier,
        lead_reasons=reasons,
    )


def autosave_draft(
    *, session: Session, engine: Engine, decision_id: int, answers: dict[str, Any]
) -> LivePanel:
    """The questionnaire's autosave: merge a step's answers into the draft and return the live
    panel. One read of the decision, one evaluation of the merged draft (which both validates
    it and feeds the panel); the row is written only when the draft changes, and a draft
    change alone makes no audit entry (audit/registry.py), so it never waits on the chain."""
    decision = _load(session, decision_id, tickets=False)
    before = dict(decision.draft_answers)
    merged = {**before, **answers}
    result = evaluate_answers(engine=engine, answers=merged)  # Invalid names a refused answer
    if merged != before:
        decision.draft_answers = merged
        session.flush()
    return live_panel(engine=engine, before=before, after=merged, result=result)
