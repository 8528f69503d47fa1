"""Assemble the report model from the database: a decision version, its approvals, tickets,
the decision's latest finished probe run (compared with the run before it) and its audit log
entries (with the whole chain verified once)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import DISTRIBUTION
from app.advisor.evaluate import Engine
from app.advisor.schema import Question
from app.core.config import Settings
from app.core.errors import NotFound
from app.decisions.approvals import approval_of, list_approvals
from app.decisions.models import Approval, Decision, DecisionVersion, TicketLink, utcnow
from app.probe.records import ProbeRun
from app.reports import model as m
from app.reports.audit_log import audit_log
from app.reports.common import ticket, utc, when
from app.reports.digest import digest_of
from app.reports.evidence import probe_evidence


def _generator() -> str:
    try:
        return f"atrest {metadata.version(DISTRIBUTION)}"
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "atrest"


def build_report(
    *,
    session: Session,
    engine: Engine,
    settings: Settings,
    decision_id: int,
    version: int | None = None,
    now: dt.datetime | None = None,
) -> m.Report:
    """The auditor's report of a decision version (default: the latest), digest included.

    Raises:
        NotFound: no such decision, no saved version yet, or no such version.
    """
    now = utc(now or utcnow())
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise NotFound(f"decision {decision_id} does not exist")
    if decision.current_version == 0:
        raise NotFound(f"decision {decision_id} has no saved version yet")
    number = decision.current_version if version is None else version
    record = session.scalar(
        select(DecisionVersion).where(
            DecisionVersion.decision_id == decision_id, DecisionVersion.number == number
        )
    )
    if record is None:
        raise NotFound(
            f"decision {decision_id} has no version {number} "
            f"(its versions are 1 to {decision.current_version})"
        )
    result = record.result
    titles = {o.id: o.title for o in engine.ruleset.options.values()}
    run = session.scalar(
        select(ProbeRun)
        .where(ProbeRun.decision_id == decision_id, ProbeRun.status == "done")
        .order_by(ProbeRun.id.desc())
        .limit(1)
    )
    parts: dict[str, Any] = {
        "report": m.ReportInfo(
            generator=_generator(),
            generated_at=now,
            fact_max_age_days=settings.report_fact_max_age_days,
        ),
        "decision": _decision(decision, record),
        "ruleset": m.RuleSetInfo(
            version=record.ruleset_version,
            sha256=record.ruleset_sha256,
            current_version=engine.ruleset.version,
            current_sha256=engine.ruleset.sha256,
            same_as_current=record.ruleset_sha256 == engine.ruleset.sha256,
        ),
        "approvals": _approvals(list_approvals(session=session, decision_id=decision_id), number),
        "questions": _questions(engine.ruleset.questions, record.answers),
        "recommendation": _recommendation(result.get("recommendation")),
        "ranking": [
            m.Ranked(
                position=i, option=r["option"], title=titles.get(r["option"], ""), score=r["score"]
            )
            for i, r in enumerate(result.get("ranking", []), start=1)
        ],
        "excluded": [
            m.Excluded(
                option=e["option"],
                title=titles.get(e["option"], ""),
                reasons=[
                    m.ExclusionReason(
                        rule=r["rule"],
                        question=r["question"],
                        text=r["text"],
                        facts=list(r.get("facts", [])),
                    )
                    for r in e["reasons"]
                ],
            )
            for e in result.get("excluded", [])
        ],
        "conflicts": [
            m.ConflictSet(questions=list(c["questions"]), text=c["text"])
            for c in result.get("conflicts", [])
        ],
        "warnings": [m.Caveat(id=w["id"], text=w["text"]) for w in result.get("warnings", [])],
        "facts": _facts(result.get("facts", []), now, settings.report_fact_max_age_days),
        "tickets": [
            ticket(t)
            for t in session.scalars(
                select(TicketLink)
                .where(TicketLink.decision_id == decision_id)
                .order_by(TicketLink.id)
            )
        ],
        "probe": None if run is None else probe_evidence(session=session, run=run, version=number),
        "audit": audit_log(session=session, decision_id=decision_id),
    }
    unsealed = m.Report(**parts, digest=m.Digest(value="0" * 64))
    value = digest_of(unsealed.model_dump(mode="json"))
    return unsealed.model_copy(update={"digest": m.Digest(value=value)})


def _decision(decision: Decision, record: DecisionVersion) -> m.DecisionInfo:
    return m.DecisionInfo(
        id=decision.id,
        title=decision.title,
        description=decision.description,
        owner=decision.owner,
        status=decision.status,
        scope=dict(decision.scope or {}),
        scope_lines=_scope_lines(decision.scope or {}),
        created_at=utc(decision.created_at),
        updated_at=utc(decision.updated_at),
        version=record.number,
        latest_version=decision.current_version,
        version_created_at=utc(record.created_at),
        version_note=record.note,
        superseded=record.number < decision.current_version,
    )


def _scope_lines(scope: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in scope.items():
        if not value:
            continue
        if isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = ", ".join(map(str, value))
        else:
            shown = str(value)
        lines.append(f"{key}: {shown}")
    return lines


def _approvals(steps: Sequence[Approval], number: int) -> m.Approvals:
    shown = [
        m.ApprovalStep(
            version=s.version,
            action=s.action,
            actor=s.actor,
            at=utc(s.created_at),
            comment=s.comment,
            ruleset_version=s.ruleset_version,
            ruleset_sha256=s.ruleset_sha256,
            for_this_version=s.version == number,
        )
        for s in steps
    ]
    approved = approval_of(steps, number)
    in_force = next((s for s, raw in zip(shown, steps, strict=True) if raw is approved), None)
    last = next((s for s in reversed(steps) if s.version == number), None)
    if approved is not None:
        summary = f"Version {number} approved by {approved.actor} on {when(approved.created_at)}."
    elif last is None:
        summary = f"Version {number} has no approval step: it was never proposed or approved."
    elif last.action == "reject":
        summary = (
            f"Version {number} rejected by {last.actor} on {when(last.created_at)}: {last.comment}"
        )
    else:
        summary = (
            f"Version {number} proposed by {last.actor} on {when(last.created_at)}; not approved."
        )
    return m.Approvals(in_force=in_force, summary=summary, steps=shown)


def _answer_text(question: Question | None, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    labels = {} if question is None else question.value_labels
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value) if value else "none"
    if value is None:
        return ""
    label = labels.get(str(value))
    return f"{label} ({value})" if label else str(value)


def _questions(questions: dict[str, Question], answers: dict[str, Any]) -> list[m.QuestionAnswer]:
    # Questions in the rule set's order; answers to questions it no longer asks come last.
    ids = [q for q in questions if q in answers] + [a for a in answers if a not in questions]
    shown = []
    for qid in ids:
        q = questions.get(qid)
        value = answers[qid]
        shown.append(
            m.QuestionAnswer(
                id=qid,
                text=q.text if q else "(a question the current rule set no longer asks)",
                answer=value,
                answer_text=_answer_text(q, value),
                is_default=q is not None and value == q.default,
            )
        )
    return shown


def _recommendation(rec: dict[str, Any] | None) -> m.Recommendation | None:
    if rec is None:
        return None
    return m.Recommendation(
        option=rec["option"],
        title=rec["title"],
        configuration=rec["configuration"],
        configuration_json=json.dumps(rec["configuration"], indent=2, ensure_ascii=False),
        rationale=list(rec.get("rationale", [])),
    )


def _facts(facts: list[dict[str, Any]], now: dt.datetime, max_age: int) -> list[m.Fact]:
    """The facts of a result, each marked by how long ago its source was last checked.

    Results saved under rule sets before 2026.12.1 carry no ``checked``: such a fact is shown
    as stale ("check date not recorded"), never judged by ``as_of``.
    """
    shown = []
    for f in facts:
        as_of = dt.date.fromisoformat(str(f["as_of"]))
        raw = f.get("checked")
        checked = None if raw is None else dt.date.fromisoformat(str(raw))
        verified = bool(f.get("verified", True))
        marks = [] if verified else ["unverified"]
        if checked is None:
            age = None
            stale = True
            if "checked" not in f:
                marks.append("check date not recorded")
        else:
            age = (now.date() - checked).days
            stale = age > max_age
            if stale:
                marks.append(f"not checked for more than {max_age} days")
        shown.append(
            m.Fact(
                id=f["id"],
                text=f["text"],
                source=f["source"],
                as_of=as_of,
                checked=checked,
                verified=verified,
                age_days=age,
                stale=stale,
                marks=marks,
            )
        )
    return shown
