"""Bad input is a 4xx naming the field, never a 500: NUL characters (PostgreSQL cannot store
them), lone surrogates (not Unicode text), over-long names, digits that are not ASCII, the last
day there is; and a 500, when one happens, carries the headers of every other answer."""

from __future__ import annotations

import csv
import io
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.accounts.limiter import SIGNIN_LIMITER
from app.core.config import Settings
from app.core.inputs import parse_id
from app.main import create_app
from app.probe.records import ProbeBucket, ProbeRun
from tests.support import signed_in_client

JSON = {"content-type": "application/json"}


@dataclass
class World:
    """The app signed in as an admin, an anonymous visitor, and things to point at."""

    app: FastAPI
    admin: TestClient
    anonymous: TestClient
    decision: int
    run: int


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    SIGNIN_LIMITER._failures.clear()  # process-wide: other tests' failed sign-ins count too
    app = create_app(settings)
    with signed_in_client(app, role="admin", name="ada") as admin:
        decision = admin.post("/api/decisions", json={"title": "Lake", "answers": {}}).json()["id"]
        assert admin.post(
            f"/api/decisions/{decision}/approvals", json={"action": "propose"}
        ).is_success
        with Session(app.state.db) as session:
            run = ProbeRun(
                decision_id=decision,
                decision_version=1,
                target_name="t",
                target_title="t",
                option="sse-s3",
                configuration={},
                status="done",
            )
            session.add(run)
            session.flush()
            session.add(
                ProbeBucket(run_id=run.id, bucket="logs-1", region="eu-west-1", status="pass")
            )
            session.commit()
            run_id = run.id
        anonymous = TestClient(
            app, headers={"X-CSRF-Token": "anon-csrf"}, cookies={"atrest_csrf": "anon-csrf"}
        )
        with anonymous:
            yield World(app, admin, anonymous, decision, run_id)
    app.state.db.dispose()
    SIGNIN_LIMITER._failures.clear()


def refusals(world: World, bad: str) -> dict[str, Any]:
    """The same bad text in every kind of place a request carries text, with the field name
    each answer must give."""
    d, r = world.decision, world.run
    a, anon = world.admin, world.anonymous
    return {
        "name": lambda: anon.post("/signin", data={"name": f"ada{bad}", "password": "x"}),
        "comment": lambda: a.post(
            f"/decisions/{d}/approvals", data={"action": "reject", "comment": f"no{bad}"}
        ),
        "label": lambda: a.post("/tokens", data={"label": f"ci{bad}"}),
        "bucket": lambda: a.post(
            f"/decisions/{d}/findings/tickets",
            data={"bucket": f"logs{bad}", "check": "tls-only", "url": "https://x", "run_id": r},
        ),
        "url": lambda: a.post(
            f"/decisions/{d}/findings/tickets",
            data={"bucket": "logs-1", "check": "tls-only", "url": f"https://x/{bad}"},
        ),
        "q": lambda: a.get(f"/decisions/{d}/probes/{r}", params={"q": f"logs{bad}"}),
        "ticket": lambda: a.get("/api/decisions", params={"ticket": f"SEC-1{bad}"}),
        "title": lambda: a.post("/decisions/new", data={"title": f"Lake{bad}"}),
    }


def test_a_nul_character_anywhere_is_a_422_naming_the_field(world: World) -> None:
    answers = {field: call() for field, call in refusals(world, "\x00").items()}
    # A user's name in a path (the form is fine), and a JSON body.
    answers["name (path)"] = world.admin.post("/users/ada%00x", data={"role": "viewer"})
    answers["description"] = world.admin.patch(
        f"/api/decisions/{world.decision}", json={"description": "a\u0000b"}
    )
    wrong = {f: (r.status_code, r.text[:200]) for f, r in answers.items() if r.status_code != 422}
    assert wrong == {}
    unnamed = []
    for field, response in answers.items():
        name = field.split()[0]
        if response.headers["content-type"].startswith("application/json"):
            (problem,) = response.json()["detail"]
            named = problem["loc"][-1] == name and "\\u0000" in problem["input"]
        else:  # a page says it in words
            named = f"{name}: must not contain a NUL character" in response.text
        if not named:
            unnamed.append(field)
    assert unnamed == []
    api = world.admin.get("/api/decisions", params={"q": "x\x00"}).json()["detail"]
    assert api == [
        {
            "loc": ["query", "q"],
            "msg": "must not contain a NUL character (\\u0000)",
            "input": "x\\u0000",
            "type": "value_error",
        }
    ]


def test_a_lone_surrogate_in_any_json_string_or_key_is_a_422_naming_it(world: World) -> None:
    bodies = {
        ("body", "title"): b'{"title": "\\ud800", "answers": {}}',
        ("body", "answers", "rotation"): b'{"title": "t", "answers": {"rotation": "x\\udfff"}}',
        ("body", "answers", "compliance_frameworks", 1): (
            b'{"title": "t", "answers": {"compliance_frameworks": ["gdpr", "\\udc00"]}}'
        ),
        ("body", "x\\ud83d"): b'{"title": "t", "answers": {}, "x\\ud83d": 1}',
    }
    for loc, body in bodies.items():
        response = world.admin.post("/api/decisions", content=body, headers=JSON)
        assert response.status_code == 422, (loc, response.text)
        (problem,) = response.json()["detail"]
        assert tuple(problem["loc"]) == loc
        assert "lone surrogate" in problem["msg"]
        assert "\\ud" in problem["input"] or "\\udc00" in problem["input"]
    # A page's JSON (the questionnaire's draft) and a token-signed API call alike.
    patch = world.admin.patch(
        f"/api/decisions/{world.decision}", content=b'{"title": "\\ud800"}', headers=JSON
    )
    assert patch.status_code == 422
    listed = world.admin.get("/api/decisions").json()
    assert [d["title"] for d in listed] == ["Lake"]


def test_a_sign_in_name_longer_than_any_account_is_refused_and_recorded_cut(
    world: World,
) -> None:
    for length in (65, 196, 5000):
        response = world.anonymous.post("/signin", data={"name": "a" * length, "password": "x"})
        assert response.status_code == 422, response.text[:300]
        assert f"name: {length} characters is longer than an account name can be" in response.text
    at_most = world.anonymous.post("/signin", data={"name": "a" * 64, "password": "x"})
    assert at_most.status_code == 401 and "Wrong name or password" in at_most.text
    with Session(world.app.state.db) as session:
        subjects = session.scalars(
            text("SELECT subject FROM audit_entries WHERE action = 'signin.failed' ORDER BY seq")
        ).all()
    assert len(subjects) == 4
    assert all(len(s) <= 200 for s in subjects)
    assert subjects[2] == "user " + "a" * 64 + "… (5000 characters)"


def test_a_run_id_in_digits_that_are_not_ascii_is_a_422_naming_it(world: World) -> None:
    for raw in ("²", "٣", "1²", "99999999999"):
        response = world.admin.post(
            f"/decisions/{world.decision}/findings/tickets",
            data={
                "bucket": "logs-1",
                "check": "tls-only",
                "url": "https://github.com/acme/infra/issues/4",
                "run_id": raw,
            },
        )
        assert response.status_code == 422, (raw, response.text[:300])
        assert "run_id: must be a run id" in response.text
    assert parse_id("²") is None and parse_id("٣") is None and parse_id("0") is None
    assert parse_id("2147483648") is None and parse_id("2147483647") == 2_147_483_647


def test_an_export_until_the_last_day_there_is_holds_every_decision(world: World) -> None:
    response = world.admin.get("/decisions.csv", params={"until": "9999-12-31"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == [world.decision]
    assert world.admin.get("/decisions.json", params={"since": "9999-12-31"}).json() == []
    assert len(world.admin.get("/decisions.json", params={"until": "9999-12-31"}).json()) == 1


def test_a_500_carries_the_security_headers_and_the_request_id(world: World) -> None:
    @world.app.get("/api/fails", include_in_schema=False)
    def fails() -> None:
        raise RuntimeError("a bug")

    @world.app.get("/fails", include_in_schema=False)
    def page_fails() -> None:
        raise RuntimeError("a bug")

    with TestClient(world.app, raise_server_exceptions=False) as client:
        ordinary = client.get("/healthz")
        for path in ("/api/fails", "/fails"):
            response = client.get(path, headers={"X-Request-ID": "req-500"})
            assert response.status_code == 500
            assert response.headers["x-request-id"] == "req-500"
            for header in ("content-security-policy", "x-content-type-options", "x-frame-options"):
                assert response.headers[header] == ordinary.headers[header], header
    assert client.get("/api/fails").json() == {"detail": "Internal Server Error"}
    with pytest.raises(RuntimeError):  # and the server still sees (and logs) the failure
        TestClient(world.app).get("/fails")


def test_database_errors_never_carry_the_statement_parameters(world: World) -> None:
    secret = "3f1c0ffee-token-digest"
    with pytest.raises(DBAPIError) as caught, world.app.state.db.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": secret})
    logged = "".join(traceback.format_exception(caught.value))
    assert "no_such_table" in logged
    assert secret not in logged
