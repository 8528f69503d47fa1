"""The decision page's probe runs table counts warnings beside pass, fail, unknown and error."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.reports.factory import BucketSpec, add_run


def test_the_runs_table_has_a_warn_column(client: TestClient) -> None:
    d = client.post("/api/decisions", json={"title": "Lake", "answers": {}}).json()["id"]
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        add_run(
            session,
            decision_id=d,
            version=1,
            buckets=[BucketSpec("logs", problems=("sse-c-blocked",)), BucketSpec("data")],
        )
        session.commit()
    page = client.get(f"/decisions/{d}").text
    header = re.search(r"<table class=\"runs\">.*?</thead>", page, re.S)
    assert header is not None and "<th>Warn</th>" in header.group(0)
    cells = re.findall(r"<td>(\d*)</td>", page.split('<table class="runs">', 1)[1])
    assert cells[:5] == ["2", "1", "0", "1", "0"]  # buckets, pass, fail, warn, unknown
