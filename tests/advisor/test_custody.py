"""Where a key is held and used decides what it can satisfy (issue 11's advisor errors).

Each class of wrong answer found against AWS documentation has a test here: SSE-C under a
single-tenant HSM requirement, keys in CloudHSM under immediate shredding, CloudHSM audit logs
taken for a key-use trail, patches that give a directory bucket a configuration it cannot
hold, access-log target buckets, FedRAMP 20x. The `rules check` properties that prove the
first four over the whole answer space are tested on rule sets broken on purpose.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from pydantic import ValidationError

from app.advisor.bucket_types import configuration_problems
from app.advisor.evaluate import Engine
from app.advisor.loader import RuleSet
from app.advisor.schema import SHARED_AWS_PLACES, ConfigurePatch, Fact, HardRule
from app.advisor.verify import _bucket_type_check, _custody_checks, _Space

PREFERENCES: list[dict[str, Any]] = [
    {"cost_priority": c, "ops_capacity": o}
    for c, o in itertools.product(
        ["medium", "low", "high"], ["standard", "minimal", "dedicated-team"]
    )
]


def _excluded(engine: Engine, answers: dict[str, Any]) -> set[str]:
    return {e["option"] for e in engine.evaluate(answers).data["excluded"]}


def _cloudhsm_options(ruleset: RuleSet) -> list[str]:
    return [o.id for o in ruleset.options.values() if o.custody.held_in == "cloudhsm"]


# -- 1. a single-tenant HSM requirement ------------------------------------------------------


@pytest.mark.parametrize(
    "prefs", PREFERENCES, ids=lambda p: f"{p['cost_priority']}-{p['ops_capacity']}"
)
def test_a_dedicated_hsm_is_never_answered_with_sse_c(
    engine: Engine, prefs: dict[str, Any]
) -> None:
    """SSE-C sends the key to S3, which uses it in its own memory: not a single-tenant HSM."""
    result = engine.evaluate({"dedicated_hsm": True, **prefs})
    assert result.option in {
        "sse-kms-cloudhsm",
        "sse-kms-xks",
        "client-side-cloudhsm",
        "client-side-own-keys",
    }
    excluded = {e["option"]: e["reasons"] for e in result.data["excluded"]}
    assert "sse-c" in excluded
    reason = next(
        r for r in excluded["sse-c"] if r["rule"] == "dedicated-hsm-needs-cloudhsm-or-own-hsm"
    )
    assert "SSE-C" in reason["text"] and "sse-c-aws-sees-key" in reason["facts"]


def test_every_option_whose_key_s3_or_kms_holds_or_uses_is_excluded_by_a_dedicated_hsm(
    engine: Engine, ruleset: RuleSet
) -> None:
    shared = {
        o.id
        for o in ruleset.options.values()
        if o.custody.held_in in SHARED_AWS_PLACES or o.custody.used_in in SHARED_AWS_PLACES
    }
    assert {"sse-c", "sse-s3", "sse-kms-cmk"} <= shared
    assert shared <= _excluded(engine, {"dedicated_hsm": True})


# -- 2. keys in CloudHSM cannot be shredded at once ------------------------------------------


def test_immediate_shredding_excludes_every_option_whose_keys_live_in_cloudhsm(
    engine: Engine, ruleset: RuleSet
) -> None:
    cloudhsm = _cloudhsm_options(ruleset)
    assert cloudhsm == ["sse-kms-cloudhsm", "client-side-cloudhsm"]
    for extra in ({}, {"dedicated_hsm": True}, {"dedicated_hsm": True, "dual_layer": True}):
        result = engine.evaluate({"crypto_shredding": "immediate", **extra})
        assert result.option not in cloudhsm
        reasons = {e["option"]: e["reasons"] for e in result.data["excluded"]}
        for oid in cloudhsm:
            rule = next(
                r
                for r in reasons[oid]
                if r["rule"] == "immediate-shredding-needs-instant-revocation"
            )
            assert "cloudhsm-backup-retention" in rule["facts"]


def test_no_option_whose_keys_live_in_cloudhsm_calls_its_shredding_immediate(
    ruleset: RuleSet,
) -> None:
    for oid in _cloudhsm_options(ruleset):
        shredding = ruleset.options[oid].properties.crypto_shredding
        assert "immediate" not in shredding.summary.lower().replace("not immediate", "")
        assert "cloudhsm-backup-retention" in shredding.facts, oid


def test_the_backup_fact_states_the_restore_window_and_the_retention_range(
    ruleset: RuleSet,
) -> None:
    retention = ruleset.facts["cloudhsm-backup-retention"]
    restore = ruleset.facts["cloudhsm-backup-delete-restore"]
    assert "from 7 to 379" in retention.text and "7 days" in restore.text
    assert restore.source.endswith("API_DeleteBackup.html")


# -- 3. CloudHSM audit logs are not a key-use audit trail ------------------------------------


def test_key_use_audit_excludes_client_side_cloudhsm_and_says_why(engine: Engine) -> None:
    for extra in ({}, {"dedicated_hsm": True}, {"dedicated_hsm": True, "dual_layer": True}):
        result = engine.evaluate({"audit_key_usage": True, **extra})
        reasons = {e["option"]: e["reasons"] for e in result.data["excluded"]}
        rule = next(r for r in reasons["client-side-cloudhsm"] if r["rule"] == "audit-needs-kms")
        assert "management commands" in rule["text"] and "HSM users" in rule["text"]
        assert "cloudhsm-audit-logs-management-only" in rule["facts"]
    # Dedicated HSM + audit: the CloudHSM key store, whose every use is a KMS call in CloudTrail.
    assert (
        engine.evaluate({"audit_key_usage": True, "dedicated_hsm": True}).option
        == "sse-kms-cloudhsm"
    )


def test_no_option_claims_cloudhsm_audit_logs_record_key_use(ruleset: RuleSet) -> None:
    for option in ruleset.options.values():
        texts = [
            option.properties.audit_trail.summary,
            option.properties.audit_trail.detail,
            *option.rationale,
        ]
        for text in texts:
            lowered = text.lower()
            assert "cloudhsm audit logs" not in lowered or "not" in lowered, (option.id, text)
            assert "logs key use" not in lowered, (option.id, text)


def test_the_client_side_cloudhsm_warning_says_its_logs_are_not_a_key_use_trail(
    engine: Engine,
) -> None:
    result = engine.evaluate({"dedicated_hsm": True, "dual_layer": True})
    assert result.option == "client-side-cloudhsm"
    text = next(
        w["text"] for w in result.data["warnings"] if w["id"] == "cloudhsm-audit-is-not-cloudtrail"
    )
    assert "no key-use record" in text and "management commands" in text


# -- 4. directory buckets ---------------------------------------------------------------------


@pytest.mark.parametrize("volume", ["low", "high", "very-high"])
def test_per_object_audit_never_disables_bucket_keys_on_a_directory_bucket(
    engine: Engine, volume: str
) -> None:
    result = engine.evaluate(
        {"audit_key_usage": True, "request_volume": volume, "bucket_type": "directory"}
    )
    rec = result.data["recommendation"]
    assert rec["option"] == "sse-kms-cmk"
    rule = rec["configuration"]["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BucketKeyEnabled"] is True
    assert "BlockedEncryptionTypes" not in rule
    key = rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert "ARN" in key and "not an alias" in key
    assert configuration_problems(rec["configuration"], "directory") == []
    assert "per-object-audit-at-low-volume" not in result.fired["configure"]
    assert "directory-bucket-kms" in result.fired["configure"]
    assert "directory-bucket-keys-coarsen-audit" in {w["id"] for w in result.data["warnings"]}


def test_general_purpose_buckets_still_get_per_object_audit_at_low_volume(engine: Engine) -> None:
    result = engine.evaluate({"audit_key_usage": True})
    rule = result.data["recommendation"]["configuration"]["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule["BucketKeyEnabled"] is False
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}


def test_every_option_recommended_for_a_directory_bucket_fits_it(engine: Engine) -> None:
    seen = set()
    for answers in (
        {"bucket_type": "directory"},
        {"bucket_type": "directory", "key_policy_control": True},
        {"bucket_type": "directory", "key_material": "customer-generated"},
        {"bucket_type": "directory", "dedicated_hsm": True},
        {"bucket_type": "directory", "key_material": "customer-held-outside-aws"},
        {"bucket_type": "directory", "dual_layer": True},
        {"bucket_type": "directory", "aws_never_sees_plaintext": True},
    ):
        rec = engine.evaluate(answers).data["recommendation"]
        seen.add(rec["option"])
        assert configuration_problems(rec["configuration"], "directory") == [], rec["option"]
    assert len(seen) >= 6


@pytest.mark.parametrize(
    ("rule", "bucket_type", "expected"),
    [
        (
            {
                "BucketKeyEnabled": False,
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "arn:aws:kms:eu-west-1:111122223333:key/k",
                },
            },
            "directory",
            "BucketKeyEnabled must be true",
        ),
        (
            {
                "BucketKeyEnabled": True,
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "alias/data",
                },
            },
            "directory",
            "names an alias",
        ),
        (
            {
                "BucketKeyEnabled": True,
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "arn:aws:kms:eu-west-1:111122223333:alias/data",
                },
            },
            "directory",
            "names an alias",
        ),
        (
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}},
            "directory",
            "not accepted by directory buckets",
        ),
        (
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
            },
            "directory",
            "general purpose buckets only",
        ),
        (
            {
                "BucketKeyEnabled": True,
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
            },
            "directory",
            "needs a customer managed key",
        ),
        (
            {
                "BucketKeyEnabled": True,
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"},
            },
            "general-purpose",
            "DSSE-KMS does not use S3 Bucket Keys",
        ),
        (
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BlockedEncryptionTypes": {"EncryptionType": ["SSE-KMS"]},
            },
            "general-purpose",
            "SSE-C or NONE",
        ),
    ],
)
def test_configurations_a_bucket_type_cannot_hold_are_named(
    rule: dict[str, Any], bucket_type: str, expected: str
) -> None:
    problems = configuration_problems(
        {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}, bucket_type
    )
    assert any(expected in p for p in problems), problems


def test_the_bucket_type_property_holds_on_the_real_rule_set(engine: Engine) -> None:
    check = _bucket_type_check(engine)
    assert check.ok, check.counterexample
    assert "configurations" in check.detail


def test_the_bucket_type_property_catches_a_patch_that_disables_bucket_keys_on_directory_buckets(
    ruleset: RuleSet,
) -> None:
    """The rule set as it was: per-object audit had no bucket-type condition.

    It is moved last, so that no directory patch after it sets Bucket Keys back on.
    """
    patches = [p for p in ruleset.configure if p.id != "per-object-audit-at-low-volume"]
    old = next(p for p in ruleset.configure if p.id == "per-object-audit-at-low-volume")
    when = {k: v for k, v in old.when.items() if k != "bucket_type"}
    patches.append(ConfigurePatch.model_validate({**old.model_dump(by_alias=True), "when": when}))
    broken = Engine(dataclasses.replace(ruleset, configure=tuple(patches)))
    check = _bucket_type_check(broken)
    assert not check.ok
    assert check.counterexample is not None
    assert check.counterexample["answers"]["bucket_type"] == "directory"
    assert "per-object-audit-at-low-volume" in check.counterexample["patches"]
    assert any("BucketKeyEnabled must be true" in p for p in check.counterexample["problems"])


# -- the custody properties of `rules check` ---------------------------------------------------


def _custody(engine: Engine, answers: dict[str, Any]) -> dict[str, Any]:
    """The custody checks over one enumerated combination (the full run covers them all)."""
    space = _Space(engine)
    given = dict(engine.defaults)
    given.update(engine.normalize(answers))
    combo = tuple(given[q] for q in space.questions)
    checks = _custody_checks(engine, space, {combo: engine.assess(given).excluded})
    return {c.name: c for c in checks}


def test_custody_properties_hold_for_the_real_rule_set(engine: Engine) -> None:
    for answers, name in (
        ({"dedicated_hsm": True}, "custody: single-tenant HSM"),
        ({"audit_key_usage": True}, "custody: key-use audit trail"),
        ({"crypto_shredding": "immediate"}, "custody: immediate shredding"),
    ):
        check = _custody(engine, answers)[name]
        assert check.ok, check.counterexample


@pytest.mark.parametrize(
    ("rule_id", "dropped", "answers", "name"),
    [
        (
            "dedicated-hsm-needs-cloudhsm-or-own-hsm",
            "sse-c",
            {"dedicated_hsm": True},
            "custody: single-tenant HSM",
        ),
        (
            "audit-needs-kms",
            "client-side-cloudhsm",
            {"audit_key_usage": True},
            "custody: key-use audit trail",
        ),
        (
            "immediate-shredding-needs-instant-revocation",
            "client-side-cloudhsm",
            {"crypto_shredding": "immediate"},
            "custody: immediate shredding",
        ),
    ],
)
def test_custody_properties_catch_the_rule_sets_as_they_were(
    ruleset: RuleSet, rule_id: str, dropped: str, answers: dict[str, Any], name: str
) -> None:
    hard = []
    for rule in ruleset.hard:
        if rule.id == rule_id:
            data = rule.model_dump(by_alias=True)
            data["excludes"] = [o for o in rule.excludes if o != dropped]
            rule = HardRule.model_validate(data)
        hard.append(rule)
    broken = Engine(dataclasses.replace(ruleset, hard=tuple(hard)))
    check = _custody(broken, answers)[name]
    assert not check.ok
    assert check.counterexample is not None and check.counterexample["not_excluded"] == [dropped]


# -- access-log targets, FedRAMP 20x, Redshift -------------------------------------------------


def test_a_bucket_receiving_access_logs_gets_sse_s3_only(engine: Engine) -> None:
    result = engine.evaluate({"access_log_target": True})
    assert result.option == "sse-s3"
    assert [r["option"] for r in result.data["ranking"]] == ["sse-s3"]
    reasons = {e["option"]: e["reasons"] for e in result.data["excluded"]}
    assert "access-log-target-sse-s3-only" in reasons["sse-kms-cmk"][0]["facts"]
    # Asking for key-use audit on a log target is a conflict, not a silent SSE-KMS.
    conflict = engine.evaluate({"access_log_target": True, "audit_key_usage": True})
    assert conflict.option is None
    assert conflict.data["conflicts"][0]["questions"] == ["audit_key_usage", "access_log_target"]


def test_fedramp_20x_moderate_recommends_but_does_not_imply_fips(engine: Engine) -> None:
    moderate_20x = engine.evaluate({"compliance_frameworks": ["fedramp-20x-moderate"]})
    assert moderate_20x.data["answers"]["fips_validation"] == "none"
    assert moderate_20x.option == "sse-s3"
    assert "fedramp-20x-moderate-recommends-validated-modules" in {
        w["id"] for w in moderate_20x.data["warnings"]
    }
    rev5 = engine.evaluate({"compliance_frameworks": ["fedramp-moderate"]})
    assert "fedramp-needs-validated-modules" in rev5.fired["implication"]
    assert "sse-s3" in {e["option"] for e in rev5.data["excluded"]}


def test_analytics_exclusion_cites_redshift_copy(engine: Engine) -> None:
    result = engine.evaluate({"native_aws_analytics": True})
    reasons = {e["option"]: e["reasons"] for e in result.data["excluded"]}
    assert "redshift-copy-encryption-support" in reasons["sse-c"][0]["facts"]


# -- facts are dated by when they were last checked ---------------------------------------------


def test_a_verified_fact_needs_a_checked_date() -> None:
    base = {
        "id": "f-one",
        "text": "A claim long enough.",
        "source": "https://example.org/",
        "as_of": "2020-12-01",
    }
    with pytest.raises(ValidationError, match="checked"):
        Fact.model_validate(base)
    with pytest.raises(ValidationError, match="earlier than 'as_of'"):
        Fact.model_validate({**base, "checked": "2019-01-01"})
    assert Fact.model_validate({**base, "verified": False}).checked is None
    assert Fact.model_validate({**base, "checked": "2026-12-03"}).checked == dt.date(2026, 12, 3)


def test_every_fact_in_a_result_carries_as_of_and_checked(engine: Engine, ruleset: RuleSet) -> None:
    facts = engine.evaluate({"audit_key_usage": True}).data["facts"]
    assert facts
    for fact in facts:
        source = ruleset.facts[fact["id"]]
        assert fact["as_of"] == source.as_of.isoformat()
        assert fact["checked"] == (None if source.checked is None else source.checked.isoformat())
    # Bucket Keys date from 2020 and are current: as_of is old, checked is recent.
    bucket_keys = ruleset.facts["bucket-keys-fewer-requests"]
    assert bucket_keys.as_of.year == 2020 and bucket_keys.checked is not None
    assert bucket_keys.checked.year == 2026
