"""Helpers of the audit tests: make a decision through the service, read the log back."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.advisor.evaluate import Engine
from app.audit.models import AuditEntry
from app.audit.recorder import ACTOR_KEY
from app.audit.service import list_entries
from app.decisions import service
from app.decisions.schemas import DecisionCreate

ANSWERS = {"audit_key_usage": True}


def new_decision(
    sessions: sessionmaker[Session], engine: Engine, *, actor: str = "ada", title: str = "Lake"
) -> int:
    """Create a decision with its first version as `actor`, committed; returns its id."""
    with sessions() as session:
        session.info[ACTOR_KEY] = actor
        view = service.create_decision(
            session=session, engine=engine, data=DecisionCreate(title=title, answers=ANSWERS)
        )
        session.commit()
        return view.decision.id


def entries(sessions: sessionmaker[Session], decision_id: int | None = None) -> list[AuditEntry]:
    """The log (or one decision's part of it), oldest first."""
    with sessions() as session:
        found = list_entries(
            session=session, decision_id=decision_id, limit=10_000, newest_first=False
        )
        return list(found)


def actions(sessions: sessionmaker[Session]) -> list[str]:
    """The actions of the log, oldest first."""
    return [e.action for e in entries(sessions)]
