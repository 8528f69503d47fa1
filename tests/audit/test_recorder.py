"""The recorder on the real databases (SQLite and PostgreSQL): changes made through the services
are appended with who and before/after; drafts and progress are not; a rollback leaves nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from app.advisor.evaluate import Engine
from app.audit.models import AuditHead
from app.audit.recorder import ACTOR_KEY, append
from app.audit.service import count_entries, list_entries, verify_chain
from app.decisions import approvals, service
from app.decisions.models import Decision, TicketLink, utcnow
from app.decisions.schemas import DecisionCreate, DecisionPatch
from app.probe.records import ProbeRun
from app.probe.service import interrupt_stale_runs
from tests.audit.support import ANSWERS, actions, entries, new_decision


def test_creating_a_decision_records_it_and_its_first_version_by_the_actor(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine, actor="ada")
    created, version = entries(sessions)
    assert (created.seq, created.action, created.subject) == (
        1,
        "decision.created",
        f"decision {decision}",
    )
    assert created.actor == "ada" and created.decision_id == decision
    # One entry per object and transaction: the creation shows the decision as committed.
    assert created.before is None and created.after is not None
    assert created.after["title"] == "Lake" and created.after["current_version"] == 1
    assert (
        version.action == "version.created" and version.subject == f"decision {decision} version 1"
    )
    assert version.after is not None and version.after["answers"]["audit_key_usage"] is True
    assert created.at.tzinfo is not None and created.at == version.at


def test_an_edit_records_the_changed_columns_before_and_after(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    with sessions() as session:
        session.info[ACTOR_KEY] = "bob"
        service.update_decision(
            session=session,
            engine=engine,
            decision_id=decision,
            data=DecisionPatch(title="Lake house", owner="bob", description=None),
        )
        session.commit()
    edit = entries(sessions)[-1]
    assert edit.action == "decision.updated" and edit.actor == "bob"
    assert edit.before == {"title": "Lake", "owner": None}
    assert edit.after == {"title": "Lake house", "owner": "bob"}


def test_an_edit_of_an_expired_object_still_records_its_value_before(
    sessions: sessionmaker[Session], engine: Engine, db_engine: DbEngine
) -> None:
    decision = new_decision(sessions, engine)
    with Session(db_engine) as session:  # expires everything on commit, as the CLI's do
        row = session.get(Decision, decision)
        assert row is not None
        session.commit()
        row.title = "Lakeside"
        session.commit()
    edit = entries(sessions)[-1]
    assert edit.before == {"title": "Lake"} and edit.after == {"title": "Lakeside"}


def test_new_answers_record_the_version_and_the_decision_change(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    with sessions() as session:
        service.update_decision(
            session=session,
            engine=engine,
            decision_id=decision,
            data=DecisionPatch(answers={**ANSWERS, "dedicated_hsm": True}),
        )
        session.commit()
    *_, version, change = entries(sessions)
    assert version.action == "version.created" and version.subject.endswith("version 2")
    assert change.action == "decision.updated" and change.actor == "anonymous"
    assert change.before is not None and change.after is not None
    assert (change.before["current_version"], change.after["current_version"]) == (1, 2)


def test_tickets_linked_and_removed_are_recorded(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    url = "https://github.com/acme/lake/issues/7"
    with sessions() as session:
        link = service.add_ticket(session=session, decision_id=decision, url=url)
        session.commit()
        service.remove_ticket(session=session, decision_id=decision, link_id=link.id)
        session.commit()
    linked, removed = entries(sessions)[-2:]
    assert linked.action == "ticket.linked" and linked.subject == f"ticket {link.id}"
    assert linked.after is not None and linked.after["url"] == url and linked.before is None
    assert removed.action == "ticket.removed" and removed.after is None
    assert removed.before is not None and removed.before["key"] == "acme/lake#7"
    assert linked.decision_id == removed.decision_id == decision


def test_approval_steps_are_recorded_with_the_status_change(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    with sessions() as session:
        session.info[ACTOR_KEY] = "ada"
        approvals.record_step(
            session=session, engine=engine, decision_id=decision, action="propose", actor="ada"
        )
        session.commit()
        session.info[ACTOR_KEY] = "grace"  # not the proposer (separation of duties)
        approvals.record_step(
            session=session,
            engine=engine,
            decision_id=decision,
            action="approve",
            actor="grace",
            comment="fine",
        )
        session.commit()
    # The status change is claimed first (one conditional UPDATE), then the step recorded.
    assert actions(sessions)[-4:] == [
        "decision.updated",
        "approval.created",
        "decision.updated",
        "approval.created",
    ]
    status, approve = entries(sessions)[-2:]
    assert approve.after is not None and approve.after["action"] == "approve"
    assert approve.after["comment"] == "fine"
    assert status.before is not None and status.after is not None
    assert status.before["status"] == "proposed" and status.after["status"] == "approved"
    assert status.after["revision"] == status.before["revision"] + 1


def test_draft_autosaves_make_no_entry(sessions: sessionmaker[Session], engine: Engine) -> None:
    with sessions() as session:
        draft = service.start_draft(session=session, title="Draft")
        session.commit()
        for answers in (
            {"audit_key_usage": True},
            {"dedicated_hsm": False},
            {"dedicated_hsm": True},
        ):
            service.save_draft_answers(
                session=session, engine=engine, decision_id=draft.id, answers=answers
            )
            session.commit()
    assert actions(sessions) == ["decision.created"]


def test_a_rolled_back_transaction_leaves_no_entry(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions() as session:
        service.create_decision(
            session=session, engine=engine, data=DecisionCreate(title="Gone", answers=ANSWERS)
        )
        session.flush()
        session.rollback()
        append(session, action="signin.failed", subject="user eve")
        session.rollback()
        # The session lives on: what it commits next is recorded alone.
        service.start_draft(session=session, title="Kept")
        session.commit()
    assert actions(sessions) == ["decision.created"]
    with sessions() as session:
        assert session.scalar(select(AuditHead.seq)) == 1


def test_a_session_closed_without_commit_leaves_no_entry(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions() as session:
        service.start_draft(session=session, title="Never committed")
    assert count_entries_in(sessions) == 0


def count_entries_in(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return count_entries(session=session)


def test_a_rolled_back_savepoint_drops_only_its_entries(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    with sessions() as session:
        with session.begin_nested() as savepoint:
            service.add_ticket(
                session=session, decision_id=decision, url="https://github.com/a/b/issues/1"
            )
            savepoint.rollback()
        service.add_ticket(
            session=session, decision_id=decision, url="https://github.com/a/b/issues/2"
        )
        session.commit()
    linked = [e for e in entries(sessions) if e.action == "ticket.linked"]
    assert [e.after["url"] for e in linked if e.after] == ["https://github.com/a/b/issues/2"]
    with sessions() as session:
        assert verify_chain(session=session).ok


def test_an_explicit_entry_is_appended_with_its_actor(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        append(
            session,
            action="signin.failed",
            subject="user eve",
            actor="eve",
            after={"reason": "bad password", "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        )
        session.commit()
    (entry,) = entries(sessions)
    assert (entry.action, entry.subject, entry.actor, entry.decision_id) == (
        "signin.failed",
        "user eve",
        "eve",
        None,
    )
    assert entry.after == {"reason": "bad password", "at": "2026-01-01T00:00:00.000000+00:00"}


def test_a_probe_run_records_its_creation_and_final_status_not_its_progress(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    with sessions() as session:
        run = ProbeRun(
            decision_id=decision,
            decision_version=1,
            target_name="prod",
            target_title="Production",
            option="sse-kms",
            configuration={},
            status="queued",
        )
        session.add(run)
        session.commit()
        session.info[ACTOR_KEY] = "system"
        run.status, run.started_at, run.heartbeat_at = "running", utcnow(), utcnow()
        session.commit()
        for done in (200, 400, 600):
            run.done, run.summary, run.heartbeat_at = done, {"pass": done}, utcnow()
            session.commit()
        run.status, run.finished_at = "done", utcnow()
        session.commit()
    created, finished = entries(sessions)[-2:]
    assert created.action == "probe_run.created" and created.subject == f"probe run {run.id}"
    assert created.after is not None and "heartbeat_at" not in created.after
    assert finished.action == "probe_run.updated" and finished.actor == "system"
    assert finished.before is not None and finished.after is not None
    assert (finished.before["status"], finished.after["status"]) == ("running", "done")


def test_bulk_updates_and_deletes_are_recorded_row_by_row(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    long_ago = utcnow() - dt.timedelta(hours=1)
    with sessions() as session:
        for name in ("a", "b"):
            session.add(
                ProbeRun(
                    decision_id=decision,
                    decision_version=1,
                    target_name=name,
                    target_title=name,
                    option="sse-kms",
                    configuration={},
                    status="running",
                    heartbeat_at=long_ago,
                )
            )
        session.commit()
        assert interrupt_stale_runs(session=session) == 2
        session.commit()
    interrupted = [e for e in entries(sessions) if e.action == "probe_run.updated"]
    assert len(interrupted) == 2
    assert all(e.after and e.after["status"] == "interrupted" for e in interrupted)
    with sessions() as session:
        link = service.add_ticket(
            session=session, decision_id=decision, url="https://github.com/a/b/issues/3"
        )
        session.commit()
        link.system = "jira"  # not flushed yet: the bulk statement's autoflush writes it first
        session.execute(update(TicketLink), [{"id": link.id, "key": "renamed"}])
        session.execute(delete(TicketLink).where(TicketLink.id == link.id))
        session.commit()
    assert actions(sessions)[-2:] == ["ticket.updated", "ticket.removed"]
    changed, removed = entries(sessions)[-2:]
    assert changed.before == {"system": "github", "key": "a/b#3"}
    assert changed.after == {"system": "jira", "key": "renamed"}
    assert removed.before is not None and removed.before["key"] == "renamed"


def test_a_deleted_decision_keeps_its_entries(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    decision = new_decision(sessions, engine)
    other = new_decision(sessions, engine, title="Other")
    with sessions() as session:
        session.execute(delete(Decision).where(Decision.id == decision))
        session.commit()
    mine = entries(sessions, decision)
    assert [e.action for e in mine] == ["decision.created", "version.created", "decision.deleted"]
    assert mine[-1].before is not None and mine[-1].before["title"] == "Lake"
    assert [e.action for e in entries(sessions, other)] == ["decision.created", "version.created"]
    with sessions() as session:
        assert count_entries(session=session, decision_id=other) == 2
        assert [e.seq for e in list_entries(session=session, limit=2, offset=1)] == [4, 3]
