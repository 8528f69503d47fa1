"""Sign-in sessions do not pile up: a user the SSO proxy vouches for keeps one session (its
cookie is set for the browser to keep; a client that keeps no cookie reuses it too); expired
sessions are deleted when anyone signs in; an account keeps at most MAX_SESSIONS_PER_USER.
Real app on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.accounts import service as accounts
from app.accounts.limiter import SIGNIN_LIMITER
from app.core.config import Settings
from app.main import create_app

PROXY = ("10.0.0.5", 4000)
PASSWORD = "correct horse battery"


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(
        Settings(database_url=settings.database_url, trusted_proxies=["10.0.0.5/32"])
    )
    with application.state.sessions() as session:
        accounts.create_user(session=session, name="ada", role="architect", password=PASSWORD)
        session.commit()
    SIGNIN_LIMITER._failures.clear()
    yield application
    SIGNIN_LIMITER._failures.clear()
    application.state.db.dispose()


def sessions_of(app: FastAPI, name: str) -> int:
    with app.state.db.connect() as connection:
        return int(
            connection.execute(
                text(
                    "select count(*) from login_sessions s join users u on u.id = s.user_id "
                    "where u.name = :name"
                ),
                {"name": name},
            ).scalar_one()
        )


def sign_in(app: FastAPI, name: str = "ada") -> TestClient:
    browser = TestClient(app)
    page = browser.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = browser.post(
        "/signin",
        data={"name": name, "password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:300]
    return browser


def test_a_proxy_user_keeps_one_session_with_or_without_a_cookie_jar(app: FastAPI) -> None:
    vouched = {"X-Forwarded-User": "ada"}
    with TestClient(app, client=PROXY) as browser:  # keeps its cookies
        first = browser.get("/api/decisions", headers=vouched)
        assert first.status_code == 200
        assert "atrest_session=" in first.headers["set-cookie"]
        for _ in range(3):
            again = browser.get("/api/decisions", headers=vouched)
            assert again.status_code == 200 and "set-cookie" not in again.headers
    for _ in range(5):  # a script through the proxy, keeping no cookie
        with TestClient(app, client=PROXY) as script:
            assert script.get("/api/decisions", headers=vouched).status_code == 200
    assert sessions_of(app, "ada") == 1


def test_a_proxy_user_can_post_forms_with_the_reused_sessions_csrf_token(app: FastAPI) -> None:
    vouched = {"X-Forwarded-User": "ada"}
    with TestClient(app, client=PROXY) as browser:
        browser.get("/api/decisions", headers=vouched)
    with TestClient(app, client=PROXY) as other_tab:  # no cookie: the same session's token
        page = other_tab.get("/decisions/new", headers=vouched)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        made = other_tab.post(
            "/decisions/new",
            data={"title": "Via SSO", "csrf_token": csrf},
            headers=vouched,
            follow_redirects=False,
        )
        assert made.status_code == 303
    assert sessions_of(app, "ada") == 1


def test_expired_sessions_are_deleted_when_someone_signs_in(app: FastAPI) -> None:
    with app.state.sessions() as session:
        user = accounts.get_user(session=session, name="ada")
        for _ in range(3):
            accounts.start_session(session=session, user=user)
        session.commit()
    with app.state.db.begin() as connection:
        connection.execute(text("update login_sessions set expires_at = '2020-01-01 00:00:00'"))
    assert sessions_of(app, "ada") == 3
    sign_in(app).close()
    assert sessions_of(app, "ada") == 1  # the new one; the three expired rows are gone


def test_an_account_keeps_at_most_its_newest_sessions(app: FastAPI) -> None:
    browsers = [sign_in(app) for _ in range(accounts.MAX_SESSIONS_PER_USER + 3)]
    assert sessions_of(app, "ada") == accounts.MAX_SESSIONS_PER_USER
    assert browsers[-1].get("/api/decisions").status_code == 200  # the newest still works
    assert browsers[0].get("/api/decisions").status_code == 401  # the oldest was ended
    for browser in browsers:
        browser.close()
