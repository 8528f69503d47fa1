"""SQLAlchemy models of decision records: decisions, their versions and ticket links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base

STATUSES = ("draft", "proposed", "approved", "rejected", "superseded")
#: Statuses set only through the approval actions (propose, approve, reject).
APPROVAL_STATUSES = ("proposed", "approved", "rejected")
#: Approval actions and the status each one leads to.
APPROVAL_ACTIONS = {"propose": "proposed", "approve": "approved", "reject": "rejected"}


def utcnow() -> dt.datetime:
    """The current time in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


class Decision(Base):
    """An encryption-at-rest decision: what it covers, who owns it, and its answers."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # Answers as the questionnaire left them; a version is cut when they are saved.
    draft_answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    # The recommended option of the current version (None: no version yet, or a conflict).
    current_option: Mapped[str | None] = mapped_column(String(60))
    # Counts edits (details and answers): an edit based on an older revision is refused (409),
    # so two people editing at once never overwrite each other (service.claim_edit).
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Who made the last edit (answers or details): they may not approve it (approvals.py).
    last_edited_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    versions: Mapped[list[DecisionVersion]] = relationship(
        back_populates="decision",
        lazy="raise",
        order_by="DecisionVersion.number",
        cascade="all, delete-orphan",
    )
    tickets: Mapped[list[TicketLink]] = relationship(
        back_populates="decision",
        lazy="raise",
        order_by="TicketLink.id",
        cascade="all, delete-orphan",
    )
    approvals: Mapped[list[Approval]] = relationship(
        back_populates="decision",
        lazy="raise",
        order_by="Approval.id",
        cascade="all, delete-orphan",
    )


class DecisionVersion(Base):
    """One saved set of answers with the rule set and the result it produced then."""

    __tablename__ = "decision_versions"
    __table_args__ = (UniqueConstraint("decision_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    ruleset_version: Mapped[str] = mapped_column(String(40))
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    option: Mapped[str | None] = mapped_column(String(60))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="versions", lazy="raise")


class TicketLink(Base):
    """A ticket (Jira, GitHub, ...) that implements or tracks a decision."""

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("decision_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    system: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="tickets", lazy="raise")


class Approval(Base):
    """One step of a decision's approval: proposed, approved or rejected, by whom, on which
    version, under which rule set, with a comment. Appended, never changed."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # propose | approve | reject
    actor: Mapped[str] = mapped_column(String(200))
    # On approve and reject steps: who proposed the version decided (never the approver).
    proposed_by: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    # The rule set in force when the step was taken (the version keeps the one it was made with).
    ruleset_version: Mapped[str] = mapped_column(String(40))
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    decision: Mapped[Decision] = relationship(back_populates="approvals", lazy="raise")
