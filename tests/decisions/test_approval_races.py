"""Approval steps cannot race an edit or each other: a step is decided on the version and
revision it was read at, atomically. Two app instances (two engines, two connection pools, as
two server processes have) on one database send the requests at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.support import signed_in_client

TRIES = 8


class Pair:
    """An auditor on one app instance and an architect on another, one database."""

    def __init__(self, settings: Settings) -> None:
        self.apps = [create_app(settings), create_app(settings)]
        self.admin = signed_in_client(self.apps[0], role="admin")
        self.auditors = [
            signed_in_client(self.apps[i], role="auditor", name=f"auditor-{i}") for i in (0, 1)
        ]
        self.architect = signed_in_client(self.apps[1], role="architect", name="architect")

    def close(self) -> None:
        for c in (self.admin, *self.auditors, self.architect):
            c.close()
        for a in self.apps:
            a.state.db.dispose()

    def proposed(self) -> dict[str, Any]:
        made = self.admin.post("/api/decisions", json={"title": "Lake", "answers": {}})
        assert made.status_code == 201, made.text
        d = made.json()
        assert self.step(self.architect, d["id"], "propose").status_code == 201
        return dict(self.admin.get(f"/api/decisions/{d['id']}").json())

    @staticmethod
    def step(client: TestClient, decision: int, action: str, **extra: Any) -> Any:
        body = {"action": action, "comment": "looked at it", **extra}
        return client.post(f"/api/decisions/{decision}/approvals", json=body)

    def state(self, decision: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        d = self.admin.get(f"/api/decisions/{decision}").json()
        steps = self.admin.get(f"/api/decisions/{decision}/approvals").json()
        return d, steps


@pytest.fixture
def pair(settings: Settings) -> Iterator[Pair]:
    p = Pair(settings)
    try:
        yield p
    finally:
        p.close()


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; their responses in call order."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def assert_consistent(d: dict[str, Any], steps: list[dict[str, Any]]) -> None:
    """An approved decision's current version carries the approval; the steps are a chain."""
    if d["status"] == "approved":
        last = [s for s in steps if s["version"] == d["current_version"]]
        assert last and last[-1]["action"] == "approve", (d, steps)
    decided = [s["action"] for s in steps if s["action"] != "propose"]
    proposals = [s for s in steps if s["action"] == "propose"]
    assert len(decided) <= len(proposals), steps  # each proposal decided at most once


def test_an_approve_and_an_answers_edit_at_once_never_approve_the_unseen_version(
    pair: Pair,
) -> None:
    for i in range(TRIES):
        d = pair.proposed()
        approve, edit = at_once(
            partial(pair.step, pair.auditors[0], d["id"], "approve"),
            partial(
                pair.architect.patch,
                f"/api/decisions/{d['id']}",
                json={"answers": {"audit_key_usage": True}, "owner": f"try-{i}"},
            ),
        )
        assert edit.status_code == 200, edit.text  # no revision given: the edit always lands
        assert approve.status_code in (201, 409), approve.text
        after, steps = pair.state(d["id"])
        assert after["current_version"] == 2
        assert_consistent(after, steps)
        if approve.status_code == 201:
            # The approval landed first and is for version 1; the edit then reopened it.
            assert steps[-1]["version"] == 1 and after["status"] == "draft"
        else:
            detail = approve.json()["detail"]
            assert "changed while you were deciding" in detail or "is draft" in detail
            assert after["status"] == "draft" and [s["action"] for s in steps] == ["propose"]


def test_an_approve_and_an_edit_on_the_same_revision_exactly_one_wins(pair: Pair) -> None:
    for _ in range(TRIES):
        d = pair.proposed()
        approve, edit = at_once(
            partial(
                pair.step,
                pair.auditors[0],
                d["id"],
                "approve",
                version=d["current_version"],
                revision=d["revision"],
            ),
            partial(
                pair.architect.patch,
                f"/api/decisions/{d['id']}",
                json={"answers": {"audit_key_usage": True}, "revision": d["revision"]},
            ),
        )
        assert sorted([approve.status_code, edit.status_code]) in ([200, 409], [201, 409]), (
            approve.text,
            edit.text,
        )
        after, steps = pair.state(d["id"])
        assert_consistent(after, steps)
        if approve.status_code == 201:
            assert (after["status"], after["current_version"]) == ("approved", 1)
        else:
            assert (after["status"], after["current_version"]) == ("draft", 2)
            assert [s["action"] for s in steps] == ["propose"]


def test_an_approve_and_a_reject_at_once_exactly_one_wins(pair: Pair) -> None:
    for _ in range(TRIES):
        d = pair.proposed()
        approve, reject = at_once(
            partial(pair.step, pair.auditors[0], d["id"], "approve"),
            partial(pair.step, pair.auditors[1], d["id"], "reject"),
        )
        assert sorted([approve.status_code, reject.status_code]) == [201, 409], (
            approve.text,
            reject.text,
        )
        after, steps = pair.state(d["id"])
        assert [s["action"] for s in steps][:1] == ["propose"] and len(steps) == 2
        winner = "approve" if approve.status_code == 201 else "reject"
        assert steps[-1]["action"] == winner
        assert after["status"] == {"approve": "approved", "reject": "rejected"}[winner]


def test_a_step_on_a_version_the_decision_has_left_is_refused(pair: Pair) -> None:
    d = pair.proposed()
    pair.architect.patch(f"/api/decisions/{d['id']}", json={"answers": {"audit_key_usage": True}})
    pair.step(pair.architect, d["id"], "propose")
    stale = pair.step(pair.auditors[0], d["id"], "approve", version=1)
    assert stale.status_code == 409 and "version 1 was replaced by version 2" in stale.text
    _, steps = pair.state(d["id"])
    assert [s["action"] for s in steps] == ["propose", "propose"]


def test_the_approval_form_approves_only_what_the_page_showed(pair: Pair) -> None:
    d = pair.proposed()
    page = pair.auditors[0].get(f"/decisions/{d['id']}").text
    assert 'name="version" value="1"' in page
    assert f'name="revision" value="{d["revision"]}"' in page
    # The architect edits the details (same version) and proposes again after the page loaded.
    pair.architect.patch(f"/api/decisions/{d['id']}", json={"owner": "someone else"})
    pair.step(pair.architect, d["id"], "propose")
    stale = pair.auditors[0].post(
        f"/decisions/{d['id']}/approvals",
        data={"action": "approve", "version": "1", "revision": str(d["revision"])},
    )
    assert stale.status_code == 409 and "reload it and approve again" in stale.text
    after, steps = pair.state(d["id"])
    assert after["status"] == "proposed" and [s["action"] for s in steps] == ["propose"] * 2
    bad = pair.auditors[0].post(
        f"/decisions/{d['id']}/approvals", data={"action": "approve", "revision": "²"}
    )
    assert bad.status_code == 422 and "must be a whole number" in bad.text
