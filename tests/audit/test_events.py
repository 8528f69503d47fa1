"""What the audit log records besides changes: sign-ins (password, set-up page, SSO proxy) and
sign-outs, the decisions export, report downloads and views of the audit log itself, each with
who, what, when and from which address (the TCP peer, or behind a trusted proxy the client it
forwarded). Real app on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import service as accounts
from app.accounts.limiter import SIGNIN_LIMITER
from app.audit.events import record_event
from app.audit.models import AuditEntry
from app.audit.service import verify_chain
from app.core.config import Settings
from app.main import create_app
from tests.support import signed_in_client

PASSWORD = "correct horse battery"
BROWSER = ("192.0.2.10", 5000)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(
        Settings(
            database_url=settings.database_url,
            trusted_proxies=["10.0.0.5/32"],
            proxy_default_role="viewer",
        )
    )
    SIGNIN_LIMITER._failures.clear()
    yield application
    SIGNIN_LIMITER._failures.clear()
    application.state.db.dispose()


def entries(app: FastAPI, action: str | None = None) -> list[AuditEntry]:
    with app.state.sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query).all())


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_a_sign_in_and_a_sign_out_are_recorded_with_the_address(app: FastAPI) -> None:
    with app.state.sessions() as session:
        accounts.create_user(session=session, name="ada", role="architect", password=PASSWORD)
        session.commit()
    with TestClient(app, client=BROWSER) as browser:
        csrf = csrf_of(browser.get("/signin").text)
        signed = browser.post(
            "/signin",
            data={"name": "ada", "password": PASSWORD, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        csrf = csrf_of(browser.get("/decisions/new").text)
        out = browser.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
    (signin,) = entries(app, "signin.succeeded")
    assert (signin.actor, signin.subject) == ("ada", "user ada")
    assert signin.after == {"client": "192.0.2.10", "via": "password"}
    (signout,) = entries(app, "signout")
    assert (signout.actor, signout.subject) == ("ada", "user ada")
    assert signout.after == {"client": "192.0.2.10"}


def test_the_set_up_page_and_the_proxy_sign_ins_are_recorded_once(app: FastAPI) -> None:
    with TestClient(app) as browser:
        csrf = csrf_of(browser.get("/setup").text)
        browser.post(
            "/setup",
            data={"name": "root", "password": PASSWORD, "password2": PASSWORD, "csrf_token": csrf},
            follow_redirects=False,
        )
    vouched = {"X-Forwarded-User": "vic", "X-Forwarded-For": "198.51.100.4"}
    for _ in range(3):  # a client keeping no cookie: one session, one sign-in
        with TestClient(app, client=("10.0.0.5", 4000)) as proxied:
            assert proxied.get("/api/decisions", headers=vouched).status_code == 200
    signins = entries(app, "signin.succeeded")
    assert [(e.actor, e.after) for e in signins] == [
        ("root", {"client": "testclient", "via": "set-up page"}),
        ("vic", {"client": "198.51.100.4", "via": "proxy"}),
    ]


def test_exports_report_downloads_and_audit_log_views_are_recorded(app: FastAPI) -> None:
    with signed_in_client(app, role="architect", name="ari") as ari:
        decision = ari.post(
            "/api/decisions", json={"title": "Lake", "answers": {"audit_key_usage": True}}
        ).json()["id"]
    with signed_in_client(app, role="auditor", name="aud") as aud:
        assert aud.get("/decisions.csv", params={"status": "draft"}).status_code == 200
        assert aud.get("/decisions.json", params={"since": "2026-01-01"}).status_code == 200
        assert aud.get(f"/decisions/{decision}/report.md").status_code == 200
        assert (
            aud.get(f"/decisions/{decision}/report.json", params={"version": 1}).status_code == 200
        )
        assert aud.get("/audit", params={"decision": decision, "page": 1}).status_code == 200
        assert aud.get("/audit", params={"verify": 1}).status_code == 200
        # Refused or failed requests record nothing.
        assert aud.get(f"/decisions/{decision}/report.md", params={"version": 9}).status_code == 404
    exported = entries(app, "decisions.exported")
    assert [(e.actor, e.subject, e.after) for e in exported] == [
        (
            "aud",
            "decisions export",
            {
                "client": "testclient",
                "format": "csv",
                "status": "draft",
                "since": None,
                "until": None,
            },
        ),
        (
            "aud",
            "decisions export",
            {
                "client": "testclient",
                "format": "json",
                "status": None,
                "since": "2026-01-01",
                "until": None,
            },
        ),
    ]
    downloads = entries(app, "report.downloaded")
    assert [(e.actor, e.subject, e.decision_id, e.after) for e in downloads] == [
        (
            "aud",
            f"decision {decision} report",
            decision,
            {"client": "testclient", "format": "md", "version": 1},
        ),
        (
            "aud",
            f"decision {decision} report",
            decision,
            {"client": "testclient", "format": "json", "version": 1},
        ),
    ]
    views = entries(app, "audit.viewed")
    assert [(e.actor, e.decision_id, e.after) for e in views] == [
        (
            "aud",
            decision,
            {"client": "testclient", "decision": decision, "page": 1, "verify": False},
        ),
        ("aud", None, {"client": "testclient", "decision": None, "page": 1, "verify": True}),
    ]
    with app.state.sessions() as session:
        assert verify_chain(session=session).ok


def test_record_event_appends_who_what_and_where_with_the_sessions_commit(
    app: FastAPI,
) -> None:
    sessions: sessionmaker[Session] = app.state.sessions
    with sessions() as session:
        session.info["actor"] = "system (probe worker)"
        record_event(
            session,
            action="probe_run.failed",
            subject="probe run 7",
            decision_id=3,
            details={"error": "database unreachable (psycopg.OperationalError)"},
        )
        session.rollback()  # a rolled-back event is not recorded
        record_event(
            session,
            action="probe_run.failed",
            subject="probe run 7",
            decision_id=3,
            client="203.0.113.5",
            details={"error": "database unreachable (psycopg.OperationalError)"},
        )
        session.commit()
    (entry,) = entries(app, "probe_run.failed")
    recorded: dict[str, Any] = {
        "actor": entry.actor,
        "subject": entry.subject,
        "decision_id": entry.decision_id,
        "after": entry.after,
    }
    assert recorded == {
        "actor": "system (probe worker)",
        "subject": "probe run 7",
        "decision_id": 3,
        "after": {
            "client": "203.0.113.5",
            "error": "database unreachable (psycopg.OperationalError)",
        },
    }
    assert entry.at is not None
