"""The report's digest: a JSON report verifies, and any one-byte change of its content fails."""

from __future__ import annotations

import json
import string

import pytest
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.reports import render
from app.reports.digest import canonical_json, digest_of, verify_report
from tests.reports.conftest import ReportOf
from tests.reports.factory import BucketSpec, add_run, make_decision


@pytest.fixture
def report_json(session: Session, engine: Engine, report_of: ReportOf) -> str:
    """The JSON report of a small decision with approvals, a ticket and one probe run."""
    decision = make_decision(session, engine, title="Ünïcode lake: café ☕")
    add_run(
        session,
        decision_id=decision,
        version=1,
        buckets=[BucketSpec("a-bucket", problems=("tls-only",)), BucketSpec("b-bucket")],
    )
    session.commit()
    return render(report_of(decision), "json").decode("utf-8")


def _one_byte_changed(text: str, position: int) -> str:
    """`text` with the character at `position` replaced by another of the same class."""
    char = text[position]
    pool = string.digits if char.isdigit() else string.ascii_lowercase
    other = pool[(pool.index(char.lower()) + 1) % len(pool)] if char.lower() in pool else "x"
    return text[:position] + other + text[position + 1 :]


def test_a_json_report_verifies(report_json: str) -> None:
    outcome = verify_report(report_json)
    assert outcome.intact, outcome.message
    assert outcome.recorded == outcome.computed == json.loads(report_json)["digest"]["value"]


def test_every_one_byte_change_of_the_content_fails(report_json: str) -> None:
    # Every letter and digit (names, values, numbers, the digest itself), one at a time.
    positions = [i for i, c in enumerate(report_json) if c.isascii() and c.isalnum()]
    assert len(positions) > 5000
    for position in positions[::3]:
        outcome = verify_report(_one_byte_changed(report_json, position))
        assert not outcome.intact, f"a change at byte {position} went unnoticed"
        assert outcome.status in ("tampered", "malformed")


def test_a_changed_value_is_a_digest_mismatch(report_json: str) -> None:
    changed = report_json.replace("Ada Auditor", "Ada Auditer", 1)
    outcome = verify_report(changed)
    assert outcome.status == "tampered"
    assert outcome.message.startswith("digest mismatch: the report records sha256 ")
    data = json.loads(report_json)
    data["approvals"]["steps"][1]["comment"] = "Approved."
    data["digest"]["value"] = digest_of(data)  # re-sealed by whoever changed it: intact again
    assert verify_report(json.dumps(data)).intact


def test_layout_does_not_matter_but_content_does(report_json: str) -> None:
    data = json.loads(report_json)
    assert verify_report(canonical_json(data)).intact  # no whitespace at all
    assert verify_report(json.dumps(data, indent=7, sort_keys=True, ensure_ascii=True)).intact
    reordered = dict(reversed(list(data.items())))
    assert verify_report(json.dumps(reordered)).intact


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1', "not valid JSON"),
        ("[1, 2]", "the top level is not an object"),
        ('{"report": {}}', "no digest.value field"),
        ('{"digest": {"algorithm": "md5", "value": "00"}}', "unknown digest algorithm 'md5'"),
        ('{"a": NaN, "digest": {"algorithm": "sha256", "value": "0"}}', "NaN is not a JSON number"),
    ],
)
def test_what_is_not_a_report_is_malformed(text: str, message: str) -> None:
    outcome = verify_report(text)
    assert outcome.status == "malformed" and message in outcome.message


def test_a_repeated_key_is_refused(report_json: str) -> None:
    # A reader keeping the first value would see another title than the one hashed.
    sneaky = report_json.replace('"title": ', '"title": "Other lake", "title": ', 1)
    outcome = verify_report(sneaky)
    assert outcome.status == "malformed" and "'title' appears twice" in outcome.message
    assert not verify_report(b"\xff\xfe not utf-8").intact
