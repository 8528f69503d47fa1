"""The report model assembled from a decision version: what was decided, why, on which facts,
who approved it, and whether the buckets complied (latest run compared with the previous)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.core.config import Settings
from app.core.errors import NotFound
from app.decisions.models import DecisionVersion
from app.decisions.service import start_draft
from app.probe.records import ProbeRun
from app.reports.digest import digest_of
from tests.reports.conftest import BUCKETS, NOW, ReportOf, Seeded
from tests.reports.factory import AUDIT, T0, BucketSpec, add_run, make_decision, new_version


def test_report_holds_what_was_decided_why_and_who_approved_it(
    seeded: Seeded, report_of: ReportOf, engine: Engine
) -> None:
    r = report_of(seeded.with_evidence)
    d = r.decision
    assert (d.title, d.owner, d.status, d.version, d.latest_version) == (
        "Payments data lake",
        "Grace Hopper",
        "approved",
        1,
        1,
    )
    assert d.scope_lines == ["accounts: 123456789012", "buckets: payments-raw", "tags: env=prod"]
    assert not d.superseded
    steps = [(s.action, s.actor, s.comment, s.for_this_version) for s in r.approvals.steps]
    assert steps == [
        ("propose", "Grace Hopper", "Audit of key use is required by PCI DSS 10.2.", True),
        ("approve", "Ada Auditor", "Approved for the Q4 PCI assessment.", True),
    ]
    assert r.approvals.in_force is not None and r.approvals.in_force.actor == "Ada Auditor"
    assert r.approvals.summary.startswith("Version 1 approved by Ada Auditor on ")
    assert all(s.ruleset_sha256 == engine.ruleset.sha256 for s in r.approvals.steps)
    # Every question with its text and the answer given.
    assert [q.id for q in r.questions] == list(engine.ruleset.questions)
    audit = next(q for q in r.questions if q.id == "audit_key_usage")
    assert (audit.answer, audit.answer_text, audit.is_default) == (True, "yes", False)
    assert audit.text == engine.ruleset.questions["audit_key_usage"].text
    frameworks = next(q for q in r.questions if q.id == "compliance_frameworks")
    assert frameworks.answer == ["pci-dss"] and "PCI DSS" in frameworks.answer_text
    # The recommendation with its configuration, the ranking, exclusions and warnings.
    assert r.recommendation is not None and r.recommendation.option == "sse-kms-cmk"
    rules = r.recommendation.configuration["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert '"SSEAlgorithm": "aws:kms"' in r.recommendation.configuration_json
    assert r.ranking[0].option == "sse-kms-cmk" and r.ranking[0].position == 1
    assert r.ranking[0].title == "SSE-KMS with a customer managed key"
    sse_s3 = next(e for e in r.excluded if e.option == "sse-s3")
    assert sse_s3.reasons[0].question == "audit_key_usage" and sse_s3.reasons[0].facts
    assert r.warnings and r.conflicts == []
    assert [(t.system, t.key) for t in r.tickets] == [("jira", "SEC-42")]
    assert (r.ruleset.version, r.ruleset.sha256) == (engine.ruleset.version, engine.ruleset.sha256)
    assert r.ruleset.same_as_current
    assert r.report.generated_at == NOW and r.report.generator.startswith("atrest")


def test_facts_carry_source_date_and_age_and_old_or_unverified_ones_are_marked(
    session: Session, engine: Engine, report_of: ReportOf, settings: Settings
) -> None:
    # Customer-generated material with immediate shredding cites an unverified fact.
    decision = make_decision(
        session,
        engine,
        answers={"key_material": "customer-generated", "crypto_shredding": "immediate"},
    )
    strict = settings.model_copy(update={"report_fact_max_age_days": 30})
    facts = {f.id: f for f in report_of(decision, settings=strict).facts}
    assert facts and all(f.source.startswith("https://") for f in facts.values())
    unverified = facts["cloudhsm-key-store-deletion"]
    assert not unverified.verified and "unverified" in unverified.marks
    assert unverified.checked is None and unverified.age_days is None and unverified.stale
    for f in facts.values():
        if f.checked is None:
            assert f.stale and f.age_days is None
            continue
        # Freshness is measured from when the source was last checked, never from as_of.
        assert f.age_days == (NOW.date() - f.checked).days
        assert f.stale == (f.age_days > 30)
        assert ("not checked for more than 30 days" in f.marks) == f.stale
    lenient = settings.model_copy(update={"report_fact_max_age_days": 100_000})
    assert all(f.stale == (f.checked is None) for f in report_of(decision, settings=lenient).facts)


def test_a_long_standing_fact_checked_recently_is_not_stale(
    session: Session, engine: Engine, report_of: ReportOf, settings: Settings
) -> None:
    """Bucket Keys date from 2020; a 365-day limit must not call them stale when checked."""
    decision = make_decision(
        session, engine, answers={"audit_key_usage": True, "request_volume": "high"}
    )
    facts = {f.id: f for f in report_of(decision, settings=settings).facts}
    bucket_keys = facts["bucket-keys-fewer-requests"]
    assert bucket_keys.as_of.year == 2020
    assert (NOW.date() - bucket_keys.as_of).days > settings.report_fact_max_age_days
    assert bucket_keys.checked is not None and not bucket_keys.stale
    assert not any(mark.startswith("not checked") for mark in bucket_keys.marks)


def test_a_result_saved_before_checked_dates_marks_its_facts_not_recorded() -> None:
    from app.reports.build import _facts

    saved = [
        {"id": "f", "text": "t", "source": "https://x", "as_of": "2020-12-01", "verified": True}
    ]
    (fact,) = _facts(saved, NOW, 365)
    assert fact.checked is None and fact.stale and fact.age_days is None
    assert fact.marks == ["check date not recorded"]


def test_probe_evidence_is_the_latest_finished_run_compared_with_the_previous_one(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    runs = session.scalars(
        select(ProbeRun).where(ProbeRun.decision_id == seeded.with_evidence).order_by(ProbeRun.id)
    ).all()
    # A run still going is not evidence.
    session.add(
        ProbeRun(
            decision_id=seeded.with_evidence,
            decision_version=1,
            target_name="prod",
            target_title="Production account",
            option="sse-kms-cmk",
            configuration={},
            status="running",
            done=0,
        )
    )
    session.commit()
    p = report_of(seeded.with_evidence).probe
    assert p is not None
    assert p.run_id == runs[-1].id and p.target == "prod" and p.account == "123456789012"
    assert p.finished_at == T0 and p.checked_version == 1 and p.note is None
    assert p.summary["buckets"] == BUCKETS == len(p.buckets)
    assert p.verdict == "not compliant"
    assert p.verdict_text.startswith(f"{p.summary['fail']} of {BUCKETS} buckets fail")
    # Worst first; every bucket's findings in check order, with what was expected and seen.
    order = ["error", "fail", "unknown", "warn", "pass"]
    assert [order.index(b.status) for b in p.buckets] == sorted(
        order.index(b.status) for b in p.buckets
    )
    curated = next(b for b in p.buckets if b.bucket == "payments-curated")
    assert curated.status == "fail" and curated.problems == "tls-only (fail)"
    tls = next(f for f in curated.findings if f.check == "tls-only")
    assert (tls.expected, tls.actual, tls.change) == (
        "deny aws:SecureTransport false",
        "no deny",
        "new",
    )
    assert [t.key for t in tls.tickets] == ["acme/infra#7"]
    assert len(curated.findings) == 11
    assert "payments-raw" in p.passed_buckets
    # Per check tallies add up to the findings.
    assert sum(sum(t.counts.values()) for t in p.checks) == sum(len(b.findings) for b in p.buckets)
    # Alike findings grouped, worst first, naming their buckets.
    group = next(
        g for g in p.problem_groups if g.check == "tls-only" and "payments-curated" in g.buckets
    )
    assert group.tickets == ["payments-curated: acme/infra#7"] and group.new == 1
    assert sum(len(g.buckets) for g in p.problem_groups) == sum(
        1 for b in p.buckets for f in b.findings if f.needs_action
    )
    c = p.comparison
    assert c is not None and c.previous_run_id == runs[0].id
    assert c.new == 1 and c.unchanged > 0
    assert [(x.bucket, x.check, x.previous_status) for x in c.fixed] == [
        ("payments-raw", "default-encryption", "fail")
    ]


def test_a_decision_without_a_finished_run_has_no_probe_evidence(
    seeded: Seeded, report_of: ReportOf
) -> None:
    r = report_of(seeded.without_evidence)
    assert r.probe is None
    assert r.approvals.steps == [] and r.approvals.in_force is None
    assert "no approval step" in r.approvals.summary
    assert r.tickets == []


def test_an_earlier_version_is_reported_with_its_own_answers_and_marked_superseded(
    seeded: Seeded, report_of: ReportOf, session: Session, engine: Engine
) -> None:
    new_version(session, engine, seeded.with_evidence, {**AUDIT, "dedicated_hsm": True})
    session.commit()
    latest, first = report_of(seeded.with_evidence), report_of(seeded.with_evidence, 1)
    assert (latest.decision.version, first.decision.version) == (2, 1)
    assert first.decision.superseded and not latest.decision.superseded
    hsm = {
        r.decision.version: next(q for q in r.questions if q.id == "dedicated_hsm")
        for r in (latest, first)
    }
    assert hsm[2].answer is True and hsm[1].answer is False
    assert first.approvals.in_force is not None  # version 1 was approved
    assert latest.approvals.in_force is None
    assert not any(s.for_this_version for s in latest.approvals.steps)
    # The latest run checked version 1: the report on version 2 says so.
    assert latest.probe is not None and latest.probe.checked_version == 1
    assert latest.probe.note is not None and "version 1" in latest.probe.note


def test_a_conflicting_decision_has_no_recommendation_and_lists_the_conflict(
    session: Session, engine: Engine, report_of: ReportOf
) -> None:
    decision = make_decision(
        session,
        engine,
        answers={"audit_key_usage": True, "customer_supplied_keys": True},
        approve=False,
    )
    r = report_of(decision)
    assert r.recommendation is None and r.ranking == []
    assert r.conflicts[0].questions == ["audit_key_usage", "customer_supplied_keys"]
    assert len(r.excluded) == len(engine.ruleset.options)


def test_a_missing_decision_or_version_is_not_found(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    with pytest.raises(NotFound, match="decision 9999 does not exist"):
        report_of(9999)
    with pytest.raises(NotFound, match=rf"decision {seeded.with_evidence} has no version 5 "):
        report_of(seeded.with_evidence, 5)
    draft = start_draft(session=session, title="Half answered")
    with pytest.raises(NotFound, match="has no saved version yet"):
        report_of(draft.id)


def test_the_digest_covers_the_whole_report_and_is_stable(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    a, b = report_of(seeded.with_evidence), report_of(seeded.with_evidence)
    assert a.digest.value == b.digest.value == digest_of(a.model_dump(mode="json"))
    later = report_of(seeded.with_evidence, now=NOW + dt.timedelta(seconds=1))
    assert later.digest.value != a.digest.value
    # A stored result as older versions kept it (no `verified` key) still reports.
    version = session.scalar(
        select(DecisionVersion).where(DecisionVersion.decision_id == seeded.with_evidence)
    )
    assert version is not None
    version.result = {
        **version.result,
        "facts": [{k: v for k, v in f.items() if k != "verified"} for f in version.result["facts"]],
    }
    session.commit()
    assert all(f.verified for f in report_of(seeded.with_evidence).facts)


def test_a_run_with_only_passing_buckets_is_compliant(
    session: Session, engine: Engine, report_of: ReportOf
) -> None:
    decision = make_decision(session, engine, title="Clean", approve=False, ticket=None)
    add_run(
        session,
        decision_id=decision,
        version=1,
        buckets=[BucketSpec("a-clean"), BucketSpec("b-clean")],
    )
    warned = make_decision(session, engine, title="Warned", approve=False, ticket=None)
    add_run(
        session,
        decision_id=warned,
        version=1,
        buckets=[BucketSpec("c-warn", problems=("sse-c-blocked",))],
    )
    session.commit()
    clean = report_of(decision).probe
    assert clean is not None and clean.verdict == "compliant" and clean.comparison is None
    assert clean.passed_buckets == ["a-clean", "b-clean"] and clean.problem_groups == []
    warn = report_of(warned).probe
    assert (
        warn is not None and warn.verdict == "compliant" and "1 has warnings" in warn.verdict_text
    )
    assert warn.buckets[0].needs_action and warn.buckets[0].findings[6].change is None
