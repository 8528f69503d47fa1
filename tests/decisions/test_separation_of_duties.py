"""Separation of duties: the person who proposed a version, or who last changed the decision,
cannot approve it (admins included); the approval records the proposer, and so does the
export."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from tests.support import signed_in_client


def proposed(client: TestClient, by: TestClient) -> int:
    made = client.post("/api/decisions", json={"title": "Lake", "answers": {}})
    assert made.status_code == 201
    d = int(made.json()["id"])
    assert by.post(f"/api/decisions/{d}/approvals", json={"action": "propose"}).status_code == 201
    return d


def test_the_proposer_cannot_approve_their_own_proposal(
    client: TestClient, auditor: TestClient
) -> None:
    d = proposed(client, by=client)  # the admin creates and proposes
    own = client.post(f"/api/decisions/{d}/approvals", json={"action": "approve"})
    assert own.status_code == 403
    assert "you proposed version 1: another person must approve it" in own.json()["detail"]
    form = client.post(f"/decisions/{d}/approvals", data={"action": "approve"})
    assert form.status_code == 403 and "separation of duties" in form.text
    steps = client.get(f"/api/decisions/{d}/approvals").json()
    assert [s["action"] for s in steps] == ["propose"]
    page = client.get(f"/decisions/{d}").text
    assert 'id="review-blocked"' in page and "Approve version 1" not in page
    other = auditor.post(f"/api/decisions/{d}/approvals", json={"action": "approve"})
    assert other.status_code == 201, other.text
    assert other.json()["actor"] == "test-auditor" and other.json()["proposed_by"] == "test-admin"


def test_the_last_editor_cannot_approve_even_when_someone_else_proposed(
    client: TestClient, auditor: TestClient
) -> None:
    architect = signed_in_client(client.app, role="architect", name="ari")
    made = architect.post("/api/decisions", json={"title": "Lake", "answers": {}})
    d = int(made.json()["id"])
    # The admin changes the answers, the architect proposes: the admin may not approve.
    assert (
        client.patch(f"/api/decisions/{d}", json={"answers": {"audit_key_usage": True}}).status_code
        == 200
    )
    architect.post(f"/api/decisions/{d}/approvals", json={"action": "propose"})
    refused = client.post(f"/api/decisions/{d}/approvals", json={"action": "approve"})
    assert refused.status_code == 403
    assert "you made the last change to decision" in refused.json()["detail"]
    assert (
        auditor.post(f"/api/decisions/{d}/approvals", json={"action": "approve"}).status_code == 201
    )
    rows = list(csv.DictReader(io.StringIO(client.get("/decisions.csv").text)))
    row = next(r for r in rows if r["id"] == str(d))
    assert (row["approved_by"], row["proposed_by"]) == ("test-auditor", "ari")
    architect.close()


def test_the_proposer_may_still_reject_and_so_withdraw(client: TestClient) -> None:
    d = proposed(client, by=client)
    withdrawn = client.post(
        f"/api/decisions/{d}/approvals", json={"action": "reject", "comment": "not ready"}
    )
    assert withdrawn.status_code == 201 and withdrawn.json()["proposed_by"] == "test-admin"
