"""There is always exactly one way in: the first admin is created once, however many set-up
forms are sent at the same moment; an admin cannot demote or switch off themselves (whatever
the case of the name in the path); the last active admin can never be demoted or switched
off, also when two admins demote each other at once. Real databases, real concurrency."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.accounts.models import User
from app.core.config import Settings
from app.core.errors import Conflict
from app.main import create_app
from tests.support import signed_in_client

ROUNDS = 4


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.dispose()


def admins(app: FastAPI) -> list[str]:
    """The names of the active admins, read straight from the database."""
    with app.state.db.connect() as connection:
        rows = connection.execute(
            text("select name from users where role = 'admin' and active order by name")
        )
        return [row[0] for row in rows]


def test_an_admin_cannot_demote_or_switch_off_themselves_with_their_name_in_another_case(
    app: FastAPI,
) -> None:
    with (
        signed_in_client(app, role="admin", name="ada2") as ada,
        signed_in_client(app, role="admin", name="root"),
    ):
        for form in ({"role": "viewer"}, {"active": "off"}):
            for written in ("ADA2", "Ada2", " ada2"):
                refused = ada.post(f"/users/{written}", data=form, follow_redirects=False)
                assert refused.status_code == 403, (written, form, refused.status_code)
    assert admins(app) == ["ada2", "root"]


def test_the_last_admin_can_be_neither_demoted_nor_switched_off(settings: Settings) -> None:
    app = create_app(settings)
    try:
        with app.state.sessions() as session:
            accounts.create_user(session=session, name="ada", role="admin", password="x" * 12)
            accounts.create_user(session=session, name="vic", role="viewer", password="x" * 12)
            session.commit()
        with app.state.sessions() as session:
            with pytest.raises(Conflict, match="last active admin"):
                accounts.update_user(session=session, name="ada", role="architect")
            session.rollback()
            with pytest.raises(Conflict, match="last active admin"):
                accounts.update_user(session=session, name="ada", active=False)
            session.rollback()
            accounts.update_user(session=session, name="vic", role="admin")
            accounts.update_user(session=session, name="ada", role="auditor")  # vic remains
            session.commit()
        assert admins(app) == ["vic"]
    finally:
        app.state.db.dispose()


def demote_each_other(
    clients: list[TestClient], names: tuple[str, str], form: dict[str, str]
) -> list[int]:
    """Each admin sends `form` about the other at the same moment; the two statuses."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def demote(me: int, other: str) -> None:
        barrier.wait()
        response = clients[me].post(f"/users/{other}", data=form, follow_redirects=False)
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=demote, args=(0, names[1])),
        threading.Thread(target=demote, args=(1, names[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app: FastAPI) -> None:
    for round_ in range(ROUNDS):
        names = (f"ada{round_}", f"bob{round_}")
        clients = [signed_in_client(app, role="admin", name=name) for name in names]
        with app.state.db.begin() as connection:  # only these two are admins
            connection.execute(
                text("update users set role = 'viewer' where name not in (:a, :b)"),
                {"a": names[0], "b": names[1]},
            )
        form = {"role": "viewer"} if round_ % 2 == 0 else {"active": "off"}
        statuses = demote_each_other(clients, names, form)
        for client in clients:
            client.close()
        assert len(admins(app)) == 1, (round_, form, statuses, admins(app))
        assert statuses[0] == 303 and statuses[1] in (403, 409), statuses


@pytest.mark.fresh_install
def test_six_set_up_forms_sent_at_once_create_exactly_one_admin(
    live_server: str, settings: Settings
) -> None:
    with httpx.Client(timeout=60, trust_env=False) as browser:
        form = browser.get(f"{live_server}/setup")
        assert form.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        cookies = dict(browser.cookies)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def set_up(i: int) -> None:
        with httpx.Client(timeout=60, trust_env=False, cookies=cookies) as client:
            barrier.wait()
            response = client.post(
                f"{live_server}/setup",
                follow_redirects=False,
                data={
                    "name": f"admin{i}",
                    "password": "a long passphrase",
                    "password2": "a long passphrase",
                    "csrf_token": csrf,
                },
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=set_up, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    db = create_engine(settings.database_url)
    try:
        with Session(db) as session:
            names = session.scalars(select(User.name)).all()
    finally:
        db.dispose()
    assert len(names) == 1, (names, statuses)
    assert sorted(statuses) == [303] + [409] * 5, statuses
