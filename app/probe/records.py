"""SQLAlchemy models of probe runs started from the web app: runs, buckets, findings, tickets.

A run belongs to a decision and records what it checked against (option, configuration, the
decision version) and where (the configured target's name; never a credential). Findings are
written as buckets finish, in batches, so a long run shows progress and a crash loses at most
one batch. Tickets are linked to a finding's identity (decision, bucket, check), not to one
run's row, so a ticket follows the problem from run to run until it is fixed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.decisions.models import utcnow

RUN_STATUSES = ("queued", "running", "done", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
#: Finding statuses that ask for action; the others (pass, not-applicable) do not.
PROBLEM_STATUSES = ("fail", "warn", "unknown", "error")


class ProbeRun(Base):
    """One probe of a target against a decision's recommendation."""

    __tablename__ = "probe_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    decision_version: Mapped[int] = mapped_column(Integer)
    target_name: Mapped[str] = mapped_column(String(63), index=True)
    target_title: Mapped[str] = mapped_column(String(200))
    option: Mapped[str] = mapped_column(String(60))
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, int] | None] = mapped_column(JSON)
    account: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The last sign of life of the process holding it: its lease (see lease.py).
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # That process (host:pid:random), set when it queues or claims the run.
    owner: Mapped[str | None] = mapped_column(String(120))

    buckets: Mapped[list[ProbeBucket]] = relationship(
        back_populates="run", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def active(self) -> bool:
        """Whether the run is still queued or running."""
        return self.status in ACTIVE_STATUSES

    @property
    def percent(self) -> int:
        """Buckets done as a whole percentage (0 until the total is known)."""
        return 0 if not self.total else min(100, self.done * 100 // self.total)


class ProbeBucket(Base):
    """One bucket of a run: its Region, status (worst finding) and the KMS key it uses."""

    __tablename__ = "probe_buckets"
    __table_args__ = (UniqueConstraint("run_id", "bucket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("probe_runs.id", ondelete="CASCADE"))
    bucket: Mapped[str] = mapped_column(String(63))
    region: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    key_arn: Mapped[str | None] = mapped_column(String(2048))

    run: Mapped[ProbeRun] = relationship(back_populates="buckets", lazy="raise")
    findings: Mapped[list[ProbeFinding]] = relationship(
        back_populates="bucket_row",
        lazy="raise",
        order_by="ProbeFinding.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ProbeFinding(Base):
    """One check's verdict on one bucket, as the probe JSON of CONTRACT.md gives it."""

    __tablename__ = "probe_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_id: Mapped[int] = mapped_column(
        ForeignKey("probe_buckets.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10))
    expected: Mapped[str] = mapped_column(Text)
    actual: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    remediation: Mapped[str] = mapped_column(Text)

    bucket_row: Mapped[ProbeBucket] = relationship(back_populates="findings", lazy="raise")


class FindingTicket(Base):
    """A ticket tracking one finding (a check on a bucket) of a decision, across runs."""

    __tablename__ = "finding_tickets"
    __table_args__ = (UniqueConstraint("decision_id", "bucket", "check", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    bucket: Mapped[str] = mapped_column(String(63))
    check: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2048))
    system: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
