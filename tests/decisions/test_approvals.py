"""Approvals: propose, approve, reject with a comment; an approved decision is frozen (any
change makes it a draft again); the status moves only through the steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

ANSWERS = {"audit_key_usage": True}


def new_decision(client: TestClient) -> int:
    response = client.post("/api/decisions", json={"title": "Lake", "answers": ANSWERS})
    assert response.status_code == 201
    return int(response.json()["id"])


def step(client: TestClient, decision: int, action: str, **extra: Any) -> Any:
    body = {"action": action, **extra}
    return client.post(f"/api/decisions/{decision}/approvals", json=body)


def status_of(client: TestClient, decision: int) -> str:
    return str(client.get(f"/api/decisions/{decision}").json()["status"])


def test_propose_then_approve_records_who_when_version_and_rule_set(
    client: TestClient, auditor: TestClient
) -> None:
    decision = new_decision(client)
    assert step(client, decision, "propose", comment="ready").status_code == 201
    assert status_of(client, decision) == "proposed"
    approved = step(auditor, decision, "approve", comment="meets PCI DSS 3.5")
    assert approved.status_code == 201
    body = approved.json()
    assert body["action"] == "approve" and body["actor"] == "test-auditor"  # the signed-in user
    assert body["proposed_by"] == "test-admin"
    assert body["version"] == 1 and len(body["ruleset_sha256"]) == 64
    assert status_of(client, decision) == "approved"
    history = client.get(f"/api/decisions/{decision}/approvals").json()
    assert [h["action"] for h in history] == ["propose", "approve"]


def test_a_rejection_needs_a_comment_and_changes_nothing_without_one(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    decision = new_decision(client)
    step(client, decision, "propose")
    refused = step(client, decision, "reject")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "comment"]
    assert status_of(client, decision) == "proposed"
    assert rows("approvals") == 1
    assert step(client, decision, "reject", comment="no key policy attached").status_code == 201
    assert status_of(client, decision) == "rejected"
    assert step(client, decision, "propose", comment="key policy added").status_code == 201


def test_steps_out_of_order_are_conflicts(client: TestClient, rows: Callable[[str], int]) -> None:
    decision = new_decision(client)
    early = step(client, decision, "approve")
    assert early.status_code == 409
    assert "can be approved only when proposed" in early.json()["detail"]
    step(client, decision, "propose")
    assert step(client, decision, "propose").status_code == 409
    assert rows("approvals") == 1


def test_an_approved_decision_is_frozen_a_change_makes_it_a_draft_again(
    client: TestClient, auditor: TestClient
) -> None:
    decision = new_decision(client)
    step(client, decision, "propose")
    step(auditor, decision, "approve")
    changed = client.patch(
        f"/api/decisions/{decision}", json={"answers": {**ANSWERS, "dedicated_hsm": True}}
    )
    assert changed.status_code == 200
    assert changed.json()["status"] == "draft" and changed.json()["current_version"] == 2
    history = client.get(f"/api/decisions/{decision}/approvals").json()
    assert history[-1]["action"] == "approve" and history[-1]["version"] == 1
    step(client, decision, "propose")
    step(auditor, decision, "approve")
    retitled = client.patch(f"/api/decisions/{decision}", json={"title": "Lake (EU)"})
    assert retitled.json()["status"] == "draft"


def test_the_status_cannot_be_set_to_approved_by_an_edit(client: TestClient) -> None:
    decision = new_decision(client)
    refused = client.patch(f"/api/decisions/{decision}", json={"status": "approved"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "status"]
    assert status_of(client, decision) == "draft"
    assert (
        client.patch(f"/api/decisions/{decision}", json={"status": "superseded"}).json()["status"]
        == "superseded"
    )


def test_the_approval_section_of_the_page_proposes_and_approves(
    client: TestClient, auditor: TestClient
) -> None:
    decision = new_decision(client)
    page = client.get(f"/decisions/{decision}").text
    assert "Propose version 1 for approval" in page
    proposed = client.post(
        f"/decisions/{decision}/approvals",
        data={"action": "propose", "comment": ""},
        follow_redirects=False,
    )
    assert proposed.status_code == 303
    assert proposed.headers["location"].endswith(f"/decisions/{decision}#approval")
    page = client.get(f"/decisions/{decision}").text
    assert "Approve version 1" not in page and 'id="review-blocked"' in page  # the proposer
    page = auditor.get(f"/decisions/{decision}").text
    assert "Approve version 1" in page and "test-admin" in page
    commentless = auditor.post(
        f"/decisions/{decision}/approvals", data={"action": "reject", "comment": " "}
    )
    assert commentless.status_code == 422
    assert "comment is required to reject: say why" in commentless.text
    auditor.post(
        f"/decisions/{decision}/approvals",
        data={"action": "approve", "comment": "ok"},
    )
    page = client.get(f"/decisions/{decision}").text
    assert "is approved and frozen" in page
