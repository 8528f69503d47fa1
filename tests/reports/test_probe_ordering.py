"""The probe's results and runs say what needs action first: worst status, then the most
severe finding (a key problem before a missing TLS deny), then the name; the runs table
counts warnings."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.probe import service
from tests.reports.factory import BucketSpec, add_run, make_decision


def test_within_a_status_the_most_severe_finding_comes_first(
    session: Session, engine: Engine
) -> None:
    decision = make_decision(session, engine)
    run = add_run(
        session,
        decision_id=decision,
        version=1,
        buckets=[
            BucketSpec("a-medium", problems=("tls-only",)),  # fail, medium
            BucketSpec("m-fine"),
            BucketSpec("z-high", problems=("default-encryption",)),  # fail, high
            BucketSpec("b-warn", problems=("sse-c-blocked",)),  # warn, medium
        ],
    )
    session.commit()
    results = service.run_results(session=session, run=run, filters=service.Filters())
    assert [b.bucket for b in results.buckets] == ["z-high", "a-medium", "b-warn", "m-fine"]
