"""Tampering and concurrency on the real databases: a row edited, deleted or forged in SQL is
reported at its seq; concurrent commits from separate sessions stay one contiguous chain (the
head lock)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.advisor.evaluate import Engine
from app.audit.models import AuditEntry, AuditHead
from app.audit.recorder import ACTOR_KEY
from app.audit.service import verify_chain
from app.decisions import service
from app.decisions.schemas import DecisionPatch
from tests.audit.support import entries, new_decision


@pytest.fixture
def logged(sessions: sessionmaker[Session], engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A log of 6 entries: two decisions, an edit and a ticket."""
    decision = new_decision(sessions, engine)
    new_decision(sessions, engine, title="Second")
    with sessions() as session:
        service.update_decision(
            session=session, engine=engine, decision_id=decision, data=DecisionPatch(title="X")
        )
        service.add_ticket(
            session=session, decision_id=decision, url="https://github.com/a/b/issues/9"
        )
        session.commit()
    with sessions() as session:
        result = verify_chain(session=session)
    assert result.ok and result.checked == 6
    yield sessions


def tamper(sessions: sessionmaker[Session], sql: str) -> Any:
    with sessions() as session:
        session.execute(text(sql))
        session.commit()
        return verify_chain(session=session)


def test_an_edited_entry_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(logged, """UPDATE audit_entries SET after = '{"title": "Y"}' WHERE seq = 5""")
    assert not result.ok and result.first_bad_seq == 5 and result.checked == 4
    assert "edited" in result.reason


def test_an_edited_actor_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(logged, "UPDATE audit_entries SET actor = 'nobody' WHERE seq = 1")
    assert result.first_bad_seq == 1


def test_a_deleted_entry_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(logged, "DELETE FROM audit_entries WHERE seq = 3")
    assert result.first_bad_seq == 3 and "missing" in result.reason


def test_a_deleted_last_entry_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(logged, "DELETE FROM audit_entries WHERE seq = 6")
    assert result.first_bad_seq == 6 and "head" in result.reason


def test_a_forged_entry_beyond_the_head_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(
        logged,
        "INSERT INTO audit_entries (seq, at, actor, action, subject, prev_hash, hash) "
        "SELECT 7, at, actor, action, subject, hash, hash FROM audit_entries WHERE seq = 6",
    )
    assert result.first_bad_seq == 7 and "beyond the head" in result.reason


def test_a_deleted_head_is_detected(logged: sessionmaker[Session]) -> None:
    result = tamper(logged, "DELETE FROM audit_head")
    assert not result.ok and "head" in result.reason


# Concurrency -------------------------------------------------------------------------------------

THREADS = 8
COMMITS = 25


def test_concurrent_commits_make_one_contiguous_chain(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decisions = [new_decision(sessions, engine, title=f"D{i}") for i in range(THREADS)]

    def work(index: int) -> None:
        with sessions() as session:
            session.info[ACTOR_KEY] = f"worker-{index}"
            for n in range(COMMITS):
                service.add_ticket(
                    session=session,
                    decision_id=decisions[index],
                    url=f"https://github.com/acme/t{index}/issues/{n + 1}",
                )
                session.commit()

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work, i) for i in range(THREADS)]:
            future.result()
    total = 2 * THREADS + THREADS * COMMITS
    with sessions() as session:
        result = verify_chain(session=session)
        seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert session.scalar(select(AuditHead.seq)) == total
    assert result.ok and result.checked == total
    assert list(seqs) == list(range(1, total + 1))
    linked = [e for e in entries(sessions) if e.action == "ticket.linked"]
    assert {e.actor for e in linked} == {f"worker-{i}" for i in range(THREADS)}
