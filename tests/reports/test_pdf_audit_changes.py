"""The PDF's audit log lists each entry's changes field by field (before -> after), not JSON."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.audit.recorder import ACTOR_KEY
from app.decisions.approvals import record_step
from app.reports.pdf import CHANGE_FIELDS, field_changes, render_html
from tests.reports.conftest import ReportOf
from tests.reports.factory import make_decision


def test_field_changes_pairs_before_and_after_and_counts_the_rest() -> None:
    rows, more = field_changes({"status": "proposed"}, {"status": "approved"})
    assert rows == [("status", '"proposed"', '"approved"')] and more == 0
    created = {f"f{i}": i for i in range(CHANGE_FIELDS + 3)}
    rows, more = field_changes(None, created)
    assert len(rows) == CHANGE_FIELDS and more == 3 and rows[0] == ("f0", None, "0")
    rows, _ = field_changes({"key": "SEC-1"}, None)
    assert rows == [("key", '"SEC-1"', None)]


def test_the_audit_chapter_shows_a_status_change_as_before_arrow_after(
    session: Session, engine: Engine, report_of: ReportOf
) -> None:
    decision = make_decision(session, engine, approve=False, ticket=None)
    session.commit()
    for action, actor in (("propose", "Grace Hopper"), ("approve", "Ada Auditor")):
        session.info[ACTOR_KEY] = actor
        record_step(
            session=session, engine=engine, decision_id=decision, action=action, actor=actor
        )
        session.commit()
    html = render_html(report_of(decision))
    chapter = html.split('<section id="audit"', 1)[1]
    assert re.search(
        r"<th>status</th><td><span class=\"json\">&#34;proposed&#34;</span> &rarr; "
        r"<span class=\"json\">&#34;approved&#34;</span>",
        chapter,
    ), chapter[:2000]
    assert '<span class="label">before</span>' not in chapter  # no whole-JSON blobs
