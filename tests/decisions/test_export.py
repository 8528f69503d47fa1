"""The bulk export of decisions (CSV and JSON) for audit sampling, filtered by status and day."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_module
import io

from fastapi.testclient import TestClient

from app.decisions.export import FIELDS


def make(client: TestClient, title: str) -> int:
    response = client.post(
        "/api/decisions", json={"title": title, "answers": {"audit_key_usage": True}}
    )
    return int(response.json()["id"])


def test_csv_has_one_row_per_decision_with_the_approval(
    client: TestClient, auditor: TestClient
) -> None:
    a, b = make(client, "Payments lake"), make(client, "Marketing, exports")
    client.post(
        f"/api/decisions/{a}/tickets", json={"url": "https://acme.atlassian.net/browse/SEC-9"}
    )
    for who, action in ((client, "propose"), (auditor, "approve")):
        who.post(f"/api/decisions/{a}/approvals", json={"action": action})
    response = client.get("/decisions.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == FIELDS and "probe_warn" in FIELDS
    assert all(r["created_at"].endswith("Z") and r["updated_at"].endswith("Z") for r in rows)
    by_id = {int(r["id"]): r for r in rows}
    assert set(by_id) == {a, b}
    assert by_id[a]["status"] == "approved" and by_id[a]["approved_by"] == "test-auditor"
    assert by_id[a]["proposed_by"] == "test-admin"
    assert by_id[a]["approved_version"] == "1" and by_id[a]["tickets"] == "SEC-9"
    assert by_id[a]["option"] == "sse-kms-cmk" and by_id[a]["ruleset_version"]
    assert by_id[b]["title"] == "Marketing, exports" and by_id[b]["approved_by"] == ""


def test_json_is_filtered_by_status_and_day(client: TestClient, auditor: TestClient) -> None:
    a, b = make(client, "One"), make(client, "Two")
    for who, action in ((client, "propose"), (auditor, "approve")):
        who.post(f"/api/decisions/{a}/approvals", json={"action": action})
    approved = client.get("/decisions.json", params={"status": "approved"}).json()
    assert [r["id"] for r in approved] == [a]
    today = dt.datetime.now(dt.UTC).date()
    same_day = client.get("/decisions.json", params={"since": today.isoformat()}).json()
    assert {r["id"] for r in same_day} == {a, b}
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert client.get("/decisions.json", params={"since": tomorrow}).json() == []
    assert client.get("/decisions.json", params={"until": today.isoformat()}).json() != []


def test_bad_filters_are_refused_with_the_field_named(client: TestClient) -> None:
    bad_day = client.get("/decisions.json", params={"since": "last tuesday"})
    assert bad_day.status_code == 422
    assert "since" in bad_day.text
    assert client.get("/decisions.json", params={"status": "done"}).status_code == 422
    assert client.get("/decisions.xml").status_code == 422


def test_the_list_page_offers_the_export(client: TestClient) -> None:
    page = client.get("/decisions").text
    assert (
        "Export for audit sampling" in page
        and "/decisions.csv" in page
        and "/decisions.json" in page
    )


def test_empty_days_are_no_bound_and_a_refused_value_comes_back_beside_its_field(
    client: TestClient,
) -> None:
    make(client, "One")
    empty = client.get("/decisions.csv", params={"status": "", "since": "", "until": ""})
    assert empty.status_code == 200 and len(list(csv.DictReader(io.StringIO(empty.text)))) == 1
    backwards = client.get("/decisions.json", params={"since": "2026-06-30", "until": "2026-01-01"})
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "until"]
    html = {"Accept": "text/html,application/xhtml+xml"}
    page = client.get("/decisions.csv", params={"since": "2026-13-01", "until": ""}, headers=html)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    shown = html_module.unescape(page.text)
    assert 'id="export" open' in shown and "'2026-13-01' is not a day" in shown
    assert 'value="2026-13-01"' in page.text  # what was typed stays in the field


def test_a_page_route_refuses_a_bad_query_with_a_page_not_json(client: TestClient) -> None:
    d = make(client, "One")
    response = client.get(f"/decisions/{d}/diff", params={"before": "x", "after": 1})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "before" in response.text
    api = client.get(f"/api/decisions/{d}/diff", params={"before": "x", "after": 1})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "before"]
