"""The work behind the requests people wait on (issue 13): SQL statements per live-panel POST
and per result-page GET, counted on the app's own engine, and one evaluation per panel
request. Not a timed test: bench/web.py measures the time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.advisor.evaluate import Engine

HTMX = {"HX-Request": "true"}


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs (first word upper-cased)."""
    seen: list[str] = []
    db = client.app.state.db  # type: ignore[attr-defined]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper() + " " + statement)

    event.listen(db, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db, "before_cursor_execute", record)


def a_draft(client: TestClient) -> int:
    created = client.post("/decisions/new", data={"title": "Lake"}, follow_redirects=False)
    assert created.status_code == 303, created.text
    found = re.search(r"/decisions/(\d+)/edit", created.headers["location"])
    assert found, created.headers["location"]
    return int(found.group(1))


def panel(client: TestClient, decision: int, value: str) -> str:
    response = client.post(
        f"/decisions/{decision}/draft?step=1", data={"audit_key_usage": value}, headers=HTMX
    )
    assert response.status_code == 200, response.text
    assert 'id="panel"' in response.text
    return response.text


def queries(seen: list[str]) -> list[str]:
    """The statements that are not transaction control."""
    return [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT"))]


def test_a_panel_post_that_changes_the_draft_reads_once_and_writes_once(
    client: TestClient,
) -> None:
    decision = a_draft(client)
    panel(client, decision, "false")  # warm: the sign-in and the first draft
    with statements(client) as seen:
        page = panel(client, decision, "true")
    sent = queries(seen)
    kinds = [s.split(" ", 1)[0] for s in sent]
    # The signed-in session with its account (one statement), the decision (one), the draft.
    assert kinds == ["SELECT", "SELECT", "UPDATE"], sent
    assert "login_sessions" in sent[0] and "users" in sent[0]
    assert "FROM decisions" in sent[1]
    assert "UPDATE decisions" in sent[2] and "draft_answers" in sent[2]
    assert not any("audit" in s for s in sent), "a draft change alone is not audited"
    assert "Your last answer excluded" in page


def test_a_panel_post_that_changes_nothing_writes_nothing(client: TestClient) -> None:
    decision = a_draft(client)
    panel(client, decision, "true")
    with statements(client) as seen:
        panel(client, decision, "true")
    assert [s.split(" ", 1)[0] for s in queries(seen)] == ["SELECT", "SELECT"], seen


def test_a_panel_post_evaluates_the_answers_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = a_draft(client)
    panel(client, decision, "false")
    calls = {"evaluate": 0, "json": 0}
    evaluate, build = Engine.evaluate, Engine._build

    def counted_evaluate(self: Engine, answers: Any) -> Any:
        calls["evaluate"] += 1
        return evaluate(self, answers)

    def counted_build(self: Engine, *args: Any) -> Any:
        calls["json"] += 1
        return build(self, *args)

    monkeypatch.setattr(Engine, "evaluate", counted_evaluate)
    monkeypatch.setattr(Engine, "_build", counted_build)
    panel(client, decision, "true")
    # The new draft is evaluated and turned into JSON once; the draft before it is only
    # assessed (which options it excluded), to say what the last answer changed.
    assert calls == {"evaluate": 2, "json": 1}, calls


def test_the_result_page_answers_from_three_reads_when_nothing_changed(
    client: TestClient,
) -> None:
    made = client.post("/api/decisions", json={"title": "Lake", "answers": {}})
    decision = made.json()["id"]
    first = client.get(f"/decisions/{decision}")
    assert first.status_code == 200
    with statements(client) as seen:
        again = client.get(f"/decisions/{decision}")
    assert again.text == first.text
    sent = queries(seen)
    # The session with its account, the decision's revision, its probe runs' revision.
    assert len(sent) == 3, sent
    assert all(s.startswith("SELECT") for s in sent), sent
