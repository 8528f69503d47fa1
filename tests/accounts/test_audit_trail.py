"""Who did what, end to end: changes made through the app land in the audit log with the
signed-in user as actor; auditors read it filtered by decision; a tampered entry is caught by
the page and by `atrest audit verify` (exit 1)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.config import Settings
from app.main import create_app
from tests.support import run_atrest, signed_in_client


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.dispose()


def test_changes_are_logged_with_the_user_and_auditors_read_them_by_decision(app: FastAPI) -> None:
    with signed_in_client(app, role="architect", name="ari") as ari:
        d = ari.post("/api/decisions", json={"title": "Lake", "answers": {}}).json()["id"]
        other = ari.post("/api/decisions", json={"title": "Other", "answers": {}}).json()["id"]
        ari.post(f"/api/decisions/{d}/tickets", json={"url": "https://github.com/a/b/issues/7"})
        ari.post(f"/api/decisions/{d}/approvals", json={"action": "propose"})
    with signed_in_client(app, role="auditor", name="aud") as aud:
        aud.post(f"/api/decisions/{d}/approvals", json={"action": "approve", "comment": "ok"})
        page = aud.get("/audit", params={"decision": d}).text
        assert "ticket.linked" in page and "approval.created" in page and "decision.created" in page
        assert ">ari<" in page and ">aud<" in page
        assert f"decision {other}" not in page
        assert "The chain holds" in aud.get("/audit", params={"verify": 1}).text
        assert aud.get("/users").status_code == 403


def test_role_changes_and_failed_sign_ins_are_logged_without_secrets(app: FastAPI) -> None:
    with signed_in_client(app, role="admin", name="root") as root:
        root.post("/users", data={"name": "vic", "role": "viewer", "password": "viewer passphrase"})
        root.post("/users/vic", data={"role": "auditor"})
    with TestClient(app) as stranger:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', stranger.get("/signin").text).group(
            1
        )  # type: ignore[union-attr]
        stranger.post("/signin", data={"name": "vic", "password": "guess", "csrf_token": csrf})
    with signed_in_client(app, role="auditor", name="aud") as aud:
        page = aud.get("/audit").text
    assert "user.created" in page and "user.updated" in page and "signin.failed" in page
    assert "&#34;auditor&#34;" in page or '"auditor"' in page
    assert "argon2" not in page and "password_hash" not in page


def test_a_tampered_entry_is_detected_by_the_page_and_the_cli(
    app: FastAPI, settings: Settings
) -> None:
    with signed_in_client(app, role="admin") as admin:
        for title in ("One", "Two", "Three"):
            admin.post("/api/decisions", json={"title": title, "answers": {}})
    env = {"ATREST_DATABASE_URL": settings.database_url}
    intact = run_atrest("audit", "verify", env=env)
    assert intact.returncode == 0 and "audit log intact" in intact.stderr + intact.stdout
    with app.state.db.begin() as conn:
        conn.execute(text("update audit_entries set actor = 'someone else' where seq = 2"))
    broken = run_atrest("audit", "verify", env=env)
    assert broken.returncode == 1
    assert "broken at entry 2" in broken.stderr
    with signed_in_client(app, role="auditor") as aud:
        assert "The chain is broken at entry 2" in aud.get("/audit", params={"verify": 1}).text
