"""The JSON API against SQLite and PostgreSQL: decisions, versions, tickets, refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.support import CONTRACT_KEYS

JIRA = "https://acme.atlassian.net/browse/SEC-123"


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Payments data lake")
    response = client.post("/api/decisions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_recommendations_endpoint_returns_the_contract_json(client: TestClient) -> None:
    response = client.post("/api/recommendations", json={"audit_key_usage": True})
    assert response.status_code == 200
    data = response.json()
    assert list(data) == CONTRACT_KEYS
    assert data["recommendation"]["option"] == "sse-kms-cmk"
    assert any(e["option"] == "sse-s3" for e in data["excluded"])


def test_recommendations_endpoint_names_each_refused_answer(client: TestClient) -> None:
    response = client.post(
        "/api/recommendations", json={"fips_validation": "level-9", "nonsense": 1}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {
        ("body", "answers", "fips_validation"),
        ("body", "answers", "nonsense"),
    }
    assert {"level-9", 1} == {d["input"] for d in detail}


def test_create_decision_returns_201_with_its_first_version(client: TestClient) -> None:
    created = create(
        client,
        answers={"audit_key_usage": True},
        description="Card data",
        scope={"accounts": ["123456789012"], "buckets": ["payments-raw"], "tags": {"env": "prod"}},
    )
    assert created["id"] > 0
    assert created["status"] == "draft"
    assert created["current_version"] == 1
    assert created["current_option"] == "sse-kms-cmk"
    assert created["current"]["result"]["recommendation"]["option"] == "sse-kms-cmk"
    assert created["current"]["ruleset_sha256"] == created["current"]["result"]["ruleset"]["sha256"]
    again = client.get(f"/api/decisions/{created['id']}").json()
    assert again["scope"]["buckets"] == ["payments-raw"]
    assert again["current"]["answers"]["audit_key_usage"] is True


def test_a_refused_decision_leaves_no_record(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    response = client.post(
        "/api/decisions", json={"title": "Bad", "answers": {"rotation": "hourly"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "answers", "rotation"]
    assert response.json()["detail"][0]["input"] == "hourly"
    assert rows("decisions") == 0
    assert rows("decision_versions") == 0


def test_schema_errors_name_the_field_and_value(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    response = client.post(
        "/api/decisions", json={"title": "", "scope": {"accounts": ["12"]}, "colour": "red"}
    )
    assert response.status_code == 422
    locs = {tuple(d["loc"]) for d in response.json()["detail"]}
    assert ("body", "title") in locs
    assert ("body", "scope", "accounts", 0) in locs
    assert ("body", "colour") in locs
    assert rows("decisions") == 0


def test_changing_answers_creates_a_new_version_and_keeps_the_old(client: TestClient) -> None:
    d = create(client, answers={"fips_validation": "fips-140-level-3"})
    assert d["current_option"] == "sse-kms-cmk"
    patched = client.patch(
        f"/api/decisions/{d['id']}",
        json={
            "answers": {"fips_validation": "fips-140-level-3", "dedicated_hsm": True},
            "note": "HSM",
        },
    ).json()
    assert patched["current_version"] == 2
    assert patched["current_option"] == "sse-kms-cloudhsm"
    versions = client.get(f"/api/decisions/{d['id']}/versions").json()
    assert [(v["number"], v["option"], v["note"]) for v in versions] == [
        (1, "sse-kms-cmk", None),
        (2, "sse-kms-cloudhsm", "HSM"),
    ]
    old = client.get(f"/api/decisions/{d['id']}/versions/1").json()
    assert old["result"]["recommendation"]["option"] == "sse-kms-cmk"
    diff = client.get(f"/api/decisions/{d['id']}/diff", params={"before": 1, "after": 2}).json()
    assert diff["option"] == {"before": "sse-kms-cmk", "after": "sse-kms-cloudhsm", "changed": True}
    assert diff["answers"] == [{"question": "dedicated_hsm", "before": False, "after": True}]
    assert "sse-kms-cmk" in diff["excluded"]["added"]


def test_saving_the_same_answers_does_not_create_a_version(client: TestClient) -> None:
    d = create(client, answers={"audit_key_usage": True})
    client.patch(f"/api/decisions/{d['id']}", json={"answers": {"audit_key_usage": True}})
    assert client.get(f"/api/decisions/{d['id']}").json()["current_version"] == 1


def test_patch_with_bad_answers_changes_nothing(client: TestClient) -> None:
    d = create(client, answers={"audit_key_usage": True})
    response = client.patch(
        f"/api/decisions/{d['id']}",
        json={"title": "Renamed", "answers": {"audit_key_usage": "yes"}},
    )
    assert response.status_code == 422
    again = client.get(f"/api/decisions/{d['id']}").json()
    assert again["title"] == "Payments data lake"
    assert again["current_version"] == 1


def test_patch_fields_and_status(client: TestClient) -> None:
    d = create(client)
    patched = client.patch(
        f"/api/decisions/{d['id']}", json={"status": "superseded", "owner": "cloud-security"}
    ).json()
    assert (patched["status"], patched["owner"]) == ("superseded", "cloud-security")
    bad = client.patch(f"/api/decisions/{d['id']}", json={"status": "done"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["input"] == "done"


def test_reevaluation_reports_no_change_under_the_same_rule_set(client: TestClient) -> None:
    d = create(client, answers={"audit_key_usage": True})
    found = client.get(f"/api/decisions/{d['id']}/reevaluation").json()
    assert found["version"] == 1
    assert found["diff"]["outcome_changed"] is False
    assert client.get(f"/api/decisions/{d['id']}").json()["current_version"] == 1


def test_link_a_jira_ticket_and_find_the_decision_by_its_key(client: TestClient) -> None:
    d = create(client)
    other = create(client, title="Logs bucket")
    response = client.post(f"/api/decisions/{d['id']}/tickets", json={"url": JIRA})
    assert response.status_code == 201
    assert (response.json()["system"], response.json()["key"]) == ("jira", "SEC-123")
    github = client.post(
        f"/api/decisions/{other['id']}/tickets",
        json={"url": "https://github.com/acme/infra/issues/42"},
    ).json()
    assert (github["system"], github["key"]) == ("github", "acme/infra#42")
    found = client.get("/api/decisions", params={"ticket": "sec-123"}).json()
    assert [x["id"] for x in found] == [d["id"]]
    found = client.get("/api/decisions", params={"ticket": "acme/infra#42"}).json()
    assert [x["id"] for x in found] == [other["id"]]


def test_ticket_urls_other_than_http_are_refused(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    d = create(client)
    response = client.post(f"/api/decisions/{d['id']}/tickets", json={"url": "javascript:alert(1)"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "url"]
    assert response.json()["detail"][0]["input"] == "javascript:alert(1)"
    assert rows("ticket_links") == 0
    other = client.post(
        f"/api/decisions/{d['id']}/tickets", json={"url": "https://wiki.example.com/x"}
    )
    assert other.json()["system"] == "other"


def test_a_ticket_linked_twice_is_a_conflict(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    d = create(client)
    assert client.post(f"/api/decisions/{d['id']}/tickets", json={"url": JIRA}).status_code == 201
    again = client.post(f"/api/decisions/{d['id']}/tickets", json={"url": JIRA})
    assert again.status_code == 409
    assert rows("ticket_links") == 1


def test_unlink_a_ticket(client: TestClient) -> None:
    d = create(client)
    link = client.post(f"/api/decisions/{d['id']}/tickets", json={"url": JIRA}).json()
    assert client.delete(f"/api/decisions/{d['id']}/tickets/{link['id']}").status_code == 204
    assert client.get(f"/api/decisions/{d['id']}").json()["tickets"] == []
    assert client.delete(f"/api/decisions/{d['id']}/tickets/{link['id']}").status_code == 404


def test_list_filters_by_status_and_text(client: TestClient, auditor: TestClient) -> None:
    a = create(client, title="Payments lake")
    create(client, title="Marketing exports")
    for who, action in ((client, "propose"), (auditor, "approve")):
        who.post(f"/api/decisions/{a['id']}/approvals", json={"action": action})
    assert [
        d["id"] for d in client.get("/api/decisions", params={"status": "approved"}).json()
    ] == [a["id"]]
    assert [d["title"] for d in client.get("/api/decisions", params={"q": "MARKET"}).json()] == [
        "Marketing exports"
    ]
    assert client.get("/api/decisions", params={"status": "done"}).status_code == 422


def test_text_search_takes_like_wildcards_literally(client: TestClient) -> None:
    create(client, title="100% encrypted", description="all of it")
    create(client, title="Backups_2026", description="nightly")
    create(client, title="Plain", description="a/b path")
    create(client, title="Other", description="nothing special")
    expected = {
        "%": ["100% encrypted"],
        "_": ["Backups_2026"],
        "/": ["Plain"],
        "0%": ["100% encrypted"],
    }
    for q, titles in expected.items():
        found = [d["title"] for d in client.get("/api/decisions", params={"q": q}).json()]
        assert found == titles, q
        page = client.get("/decisions", params={"q": q}).text
        assert [t for t in ("100% encrypted", "Backups_2026", "Plain", "Other") if t in page] == (
            titles
        ), q


def test_unknown_decision_is_404_with_a_message(client: TestClient) -> None:
    response = client.get("/api/decisions/4242")
    assert response.status_code == 404
    assert response.json() == {"detail": "decision 4242 does not exist"}


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/recommendations",
        "/api/decisions",
        "/api/decisions/{decision_id}",
        "/api/decisions/{decision_id}/versions",
        "/api/decisions/{decision_id}/tickets",
        "/api/decisions/{decision_id}/tickets/{link_id}",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_text_with_a_nul_character_is_refused_naming_the_field(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    # PostgreSQL cannot store NUL; found by schemathesis as a 500, now a 422 on both databases.
    refused = client.post("/api/decisions", json={"title": "a\u0000b", "answers": {}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "title"]
    assert rows("decisions") == 0
    assert client.get("/api/decisions", params={"q": "x\u0000"}).status_code == 422
    page = client.post("/decisions/new", data={"title": "a\u0000b"})
    assert page.status_code == 422
    assert rows("decisions") == 0
