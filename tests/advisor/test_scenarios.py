"""Behaviour of the engine on answer sets taken from the source material and the contract."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from app.advisor.evaluate import Engine, Result
from app.advisor.loader import RuleSet

CONTRACT_KEYS = {
    "ruleset",
    "answers",
    "recommendation",
    "ranking",
    "excluded",
    "conflicts",
    "warnings",
    "facts",
}

CLOUDHSM_SCENARIO = {
    "fips_validation": "fips-140-level-3",
    "dedicated_hsm": True,
    "key_policy_control": True,
    "audit_key_usage": True,
}
CONFLICT = {"audit_key_usage": True, "customer_supplied_keys": True}

# One natural answer set per option, read off the hard and soft rules.
WINNING_ANSWERS: dict[str, dict[str, Any]] = {
    "sse-s3": {},
    "sse-kms-aws-managed": {
        "audit_key_usage": True,
        "cost_priority": "high",
        "ops_capacity": "minimal",
    },
    "sse-kms-cmk": {"audit_key_usage": True},
    "sse-kms-imported": {"key_material": "customer-generated"},
    "sse-kms-cloudhsm": {"dedicated_hsm": True},
    "sse-kms-xks": {"key_material": "customer-held-outside-aws"},
    "dsse-kms": {"dual_layer": True},
    "sse-c": {"customer_supplied_keys": True},
    "client-side-kms": {"dual_layer": True, "bucket_type": "directory"},
    "client-side-cloudhsm": {"dedicated_hsm": True, "dual_layer": True},
    "client-side-own-keys": {"aws_never_sees_plaintext": True},
}

SHAPE_SCENARIOS: dict[str, dict[str, Any]] = {
    "no-requirements": {},
    "audit": {"audit_key_usage": True},
    "cloudhsm": CLOUDHSM_SCENARIO,
    "fedramp-high": {"compliance_frameworks": ["fedramp-high", "pci-dss"]},
    "conflict": CONFLICT,
    "everything": {
        "audit_key_usage": True,
        "rotation": "on-demand",
        "crypto_shredding": "within-30-days",
        "request_volume": "very-high",
        "cost_priority": "low",
        "compliance_frameworks": ["gdpr", "hipaa", "cjis"],
    },
}


def _excluded(result: Result) -> dict[str, list[dict[str, Any]]]:
    return {e["option"]: e["reasons"] for e in result.data["excluded"]}


def _warning_ids(result: Result) -> list[str]:
    return [w["id"] for w in result.data["warnings"]]


def _rule(config: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = config["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule


def test_audit_requirement_excludes_sse_s3(engine: Engine) -> None:
    result = engine.evaluate({"audit_key_usage": True})
    assert result.option == "sse-kms-cmk"
    reasons = _excluded(result)["sse-s3"]
    assert {"rule": "audit-needs-kms", "question": "audit_key_usage"}.items() <= reasons[0].items()
    assert any(r["rule"] == "audit-needs-kms" for r in reasons)


def test_level_3_with_dedicated_hsm_recommends_cloudhsm_key_store(engine: Engine) -> None:
    result = engine.evaluate(CLOUDHSM_SCENARIO)
    assert result.option == "sse-kms-cloudhsm"
    config = result.data["recommendation"]["configuration"]
    assert config["kms_key"]["Origin"] == "AWS_CLOUDHSM"
    assert config["require_audit_trail"] is True


def test_level_3_alone_stays_with_kms_and_warns_that_kms_is_level_3(engine: Engine) -> None:
    result = engine.evaluate({"fips_validation": "fips-140-level-3"})
    assert result.option == "sse-kms-cmk"
    assert "kms-is-fips-level-3" in _warning_ids(result)


def test_no_requirement_recommends_sse_s3_with_sse_c_blocked(engine: Engine) -> None:
    result = engine.evaluate({})
    assert result.option == "sse-s3"
    rule = _rule(result.data["recommendation"]["configuration"])
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
    assert result.data["excluded"] == []
    assert result.data["conflicts"] == []


def test_supplied_keys_recommend_sse_c_and_unblock_it(engine: Engine) -> None:
    result = engine.evaluate({"customer_supplied_keys": True})
    assert result.option == "sse-c"
    rule = _rule(result.data["recommendation"]["configuration"])
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
    assert "sse-c-blocked-by-default" in _warning_ids(result)


def test_audit_with_supplied_keys_is_a_conflict_that_says_what_to_relax(engine: Engine) -> None:
    result = engine.evaluate(CONFLICT)
    assert result.data["recommendation"] is None
    assert result.option is None
    assert result.data["ranking"] == []
    conflicts = result.data["conflicts"]
    assert len(conflicts) == 1
    assert conflicts[0]["questions"] == ["audit_key_usage", "customer_supplied_keys"]
    text = conflicts[0]["text"]
    # In words: the questions as asked and the answers as labelled, never their ids.
    audit = engine.ruleset.questions["audit_key_usage"].text
    supplied = engine.ruleset.questions["customer_supplied_keys"].text
    assert text.startswith(f"The answer \u201cyes\u201d to \u201c{audit}\u201d and")
    assert f"answer \u201cno\u201d to \u201c{audit}\u201d to get SSE-C" in text
    assert f"answer \u201cno\u201d to \u201c{supplied}\u201d to get SSE-KMS" in text
    assert "audit_key_usage" not in text and "customer_supplied_keys" not in text
    assert "true" not in text
    assert [r["question"] for r in conflicts[0]["relax"]] == conflicts[0]["questions"]
    assert len(result.data["excluded"]) == len(engine.option_ids)


def test_fedramp_high_implies_fips_and_excludes_sse_s3(engine: Engine) -> None:
    result = engine.evaluate({"compliance_frameworks": ["fedramp-high"]})
    assert "fedramp-needs-validated-modules" in result.fired["implication"]
    reasons = _excluded(result)["sse-s3"]
    fips = [r for r in reasons if r["rule"] == "fips-needs-validated-module"]
    assert len(fips) == 1
    assert fips[0]["implied_by"] == {
        "rule": "fedramp-needs-validated-modules",
        "question": "compliance_frameworks",
    }
    # The echoed answers are the ones given, not the implied ones.
    assert result.data["answers"]["fips_validation"] == "none"


def test_direct_fips_answer_carries_no_implied_by(engine: Engine) -> None:
    result = engine.evaluate({"fips_validation": "fips-140-validated"})
    reasons = _excluded(result)["sse-s3"]
    assert all("implied_by" not in r for r in reasons)


def test_cnssp_15_recommends_dual_layer_dsse_kms(engine: Engine) -> None:
    result = engine.evaluate({"compliance_frameworks": ["cnssp-15"]})
    assert result.option == "dsse-kms"
    assert "cnssp-15-needs-two-layers" in result.fired["implication"]


@pytest.mark.parametrize("option", sorted(WINNING_ANSWERS))
def test_every_option_wins_for_some_natural_answers(
    engine: Engine, ruleset: RuleSet, option: str
) -> None:
    result = engine.evaluate(WINNING_ANSWERS[option])
    assert result.option == option, result.data["ranking"][:3]
    assert result.data["recommendation"]["title"] == ruleset.options[option].title


def test_winning_answers_cover_every_option(ruleset: RuleSet) -> None:
    assert set(WINNING_ANSWERS) == set(ruleset.options)


@pytest.mark.parametrize("answers", SHAPE_SCENARIOS.values(), ids=SHAPE_SCENARIOS.keys())
def test_result_has_the_contract_shape(
    engine: Engine, ruleset: RuleSet, answers: dict[str, Any]
) -> None:
    data = engine.evaluate(answers).data
    assert list(data) == [
        "ruleset",
        "answers",
        "recommendation",
        "ranking",
        "excluded",
        "conflicts",
        "warnings",
        "facts",
    ]
    assert set(data) == CONTRACT_KEYS
    assert data["ruleset"]["version"] == ruleset.version
    assert re.fullmatch(r"[0-9a-f]{64}", data["ruleset"]["sha256"])
    assert data["ruleset"]["sha256"] == ruleset.sha256
    assert list(data["answers"]) == list(ruleset.questions)
    if data["recommendation"] is not None:
        assert {"option", "title", "configuration", "rationale"} <= set(data["recommendation"])
        assert data["recommendation"]["rationale"]
    for fact in data["facts"]:
        assert set(fact) == {"id", "text", "source", "as_of", "checked", "verified"}
        assert fact["source"].startswith("https://")
        assert dt.date.fromisoformat(fact["as_of"]).isoformat() == fact["as_of"]
        assert isinstance(fact["verified"], bool)
        # checked: when the source was last confirmed; a verified fact always has one.
        if fact["verified"] or fact["checked"] is not None:
            assert dt.date.fromisoformat(fact["checked"]) >= dt.date.fromisoformat(fact["as_of"])
    for warning in data["warnings"]:
        assert {"id", "text"} <= set(warning)
    for excluded in data["excluded"]:
        assert excluded["reasons"]
        for reason in excluded["reasons"]:
            assert {"rule", "question", "text"} <= set(reason)
    for conflict in data["conflicts"]:
        assert {"questions", "text"} <= set(conflict)


@pytest.mark.parametrize("answers", SHAPE_SCENARIOS.values(), ids=SHAPE_SCENARIOS.keys())
def test_ranking_lists_only_remaining_options_best_first(
    engine: Engine, answers: dict[str, Any]
) -> None:
    data = engine.evaluate(answers).data
    ranked = [r["option"] for r in data["ranking"]]
    excluded = {e["option"] for e in data["excluded"]}
    assert excluded.isdisjoint(ranked)
    assert sorted(excluded | set(ranked)) == sorted(engine.option_ids)
    scores = [r["score"] for r in data["ranking"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
