"""Decisions to report on, in each test database (SQLite and PostgreSQL, through `settings`):
one approved with a ticket and two finished probe runs, one without any probe evidence. The
changes are made through the services as named actors, so the audit log holds their entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.audit.recorder import ACTOR_KEY
from app.core.config import Settings
from app.reports.build import build_report
from app.reports.model import Report
from tests.reports.factory import (
    T0,
    BucketSpec,
    add_run,
    link_finding_ticket,
    make_decision,
    many_buckets,
)

#: The time reports are generated at in these tests (so that fact ages are fixed).
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
#: Buckets of the evidence decision's latest run: enough for tables that cross pages.
BUCKETS = 200
#: Who made the seeded decisions, and who recorded the probe runs.
OWNER = "Grace Hopper"
WORKER = "system (probe worker)"


@dataclass(frozen=True)
class Seeded:
    """The ids of the seeded decisions."""

    with_evidence: int
    without_evidence: int


@pytest.fixture
def session(db_engine: DbEngine) -> Iterator[Session]:
    """A session on this test's migrated database."""
    with Session(db_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def seeded(session: Session, engine: Engine) -> Seeded:
    """An approved decision with two finished runs (the latest compared with the one before it),
    plus a decision with no probe run at all."""
    session.info[ACTOR_KEY] = OWNER
    with_evidence = make_decision(session, engine)
    session.commit()
    session.info[ACTOR_KEY] = WORKER
    first = [
        BucketSpec("payments-raw", problems=("default-encryption",)),
        BucketSpec("payments-curated"),
        *many_buckets(BUCKETS - 2),
    ]
    add_run(
        session,
        decision_id=with_evidence,
        version=1,
        buckets=first,
        finished_at=T0 - dt.timedelta(days=7),
    )
    latest = [
        BucketSpec("payments-raw"),  # fixed since the first run
        BucketSpec("payments-curated", problems=("tls-only",)),  # new
        *many_buckets(BUCKETS - 2),
    ]
    add_run(session, decision_id=with_evidence, version=1, buckets=latest, finished_at=T0)
    session.commit()
    session.info[ACTOR_KEY] = OWNER
    link_finding_ticket(session, with_evidence, "payments-curated", "tls-only")
    without_evidence = make_decision(
        session, engine, title="Marketing exports", approve=False, ticket=None
    )
    session.commit()
    return Seeded(with_evidence, without_evidence)


ReportOf = Callable[..., Report]


@pytest.fixture
def report_of(session: Session, engine: Engine, settings: Settings) -> ReportOf:
    """build_report on this test's database, generated at NOW unless told otherwise."""

    def build(
        decision_id: int,
        version: int | None = None,
        *,
        now: dt.datetime = NOW,
        settings: Settings = settings,
    ) -> Report:
        return build_report(
            session=session,
            engine=engine,
            settings=settings,
            decision_id=decision_id,
            version=version,
            now=now,
        )

    return build
