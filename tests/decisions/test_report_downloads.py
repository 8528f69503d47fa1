"""Report downloads from the decision page: every format for auditors, 403 for architects."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app.reports import verify_report
from tests.support import signed_in_client


def test_auditors_download_every_format_and_the_json_verifies(client: TestClient) -> None:
    decision = client.post(
        "/api/decisions", json={"title": "Lake", "answers": {"audit_key_usage": True}}
    ).json()["id"]
    page = client.get(f"/decisions/{decision}").text
    assert f"/decisions/{decision}/report.pdf" in page
    app = client.app
    with signed_in_client(app, role="auditor", name="aud") as auditor:
        for fmt, media in (
            ("pdf", "application/pdf"),
            ("md", "text/markdown"),
            ("json", "application/json"),
            ("csv", "text/csv"),
        ):
            response = auditor.get(f"/decisions/{decision}/report.{fmt}")
            assert response.status_code == 200, fmt
            assert response.headers["content-type"].startswith(media)
            assert f"atrest-decision-{decision}-v1.{fmt}" in response.headers["content-disposition"]
        body = auditor.get(f"/decisions/{decision}/report.json").content
        assert json.loads(body)["decision"]["title"] == "Lake"
        assert verify_report(body.decode()).intact
        assert auditor.get(f"/decisions/{decision}/report.pdf").content.startswith(b"%PDF")
        assert auditor.get(f"/decisions/{decision}/report.json?version=9").status_code == 404
        assert auditor.get(f"/decisions/{decision}/report.xml").status_code == 422
    with signed_in_client(app, role="architect", name="ari") as architect:
        assert architect.get(f"/decisions/{decision}/report.pdf").status_code == 403
        assert (
            f"/decisions/{decision}/report.pdf" not in architect.get(f"/decisions/{decision}").text
        )


def test_a_download_that_asks_for_it_comes_with_its_ready_cookie(client: TestClient) -> None:
    decision = client.post("/api/decisions", json={"title": "Lake", "answers": {}}).json()["id"]
    asked = client.get(f"/decisions/{decision}/report.md", params={"ready": "abc123"})
    assert asked.status_code == 200
    assert "atrest_report_ready=abc123" in asked.headers["set-cookie"]
    assert "SameSite=strict" in asked.headers["set-cookie"]
    plain = client.get(f"/decisions/{decision}/report.md")
    assert "atrest_report_ready" not in plain.headers.get("set-cookie", "")
    bad = client.get(f"/decisions/{decision}/report.md", params={"ready": "<script>"})
    assert bad.status_code == 422
    page = client.get(f"/decisions/{decision}").text
    assert 'data-preparing="Preparing the PDF' in page
