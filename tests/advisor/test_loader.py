"""The loader reads the real rules/, and refuses broken copies with a precise message."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.advisor.loader import RuleSetError, default_rules_dir, load_ruleset

CONTRACT_OPTIONS = [
    "sse-s3",
    "sse-kms-aws-managed",
    "sse-kms-cmk",
    "sse-kms-imported",
    "sse-kms-cloudhsm",
    "sse-kms-xks",
    "dsse-kms",
    "sse-c",
    "client-side-kms",
    "client-side-cloudhsm",
    "client-side-own-keys",
]
CONTRACT_QUESTIONS = [
    "audit_key_usage",
    "key_policy_control",
    "cross_account_access",
    "fips_validation",
    "dedicated_hsm",
    "key_material",
    "aws_never_sees_plaintext",
    "dual_layer",
    "native_aws_analytics",
    "customer_supplied_keys",
    "rotation",
    "crypto_shredding",
    "request_volume",
    "cost_priority",
    "ops_capacity",
    "bucket_type",
    "compliance_frameworks",
]


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the real rules/ folder, free to break."""
    return Path(shutil.copytree(default_rules_dir(), tmp_path / "rules"))


def edit(root: Path, rel: str, change: Callable[[Any], None]) -> None:
    """Load one rule file of the copy, let `change` mutate it, and write it back."""
    path = root / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def load_error(root: Path) -> str:
    with pytest.raises(RuleSetError) as info:
        load_ruleset(root)
    return str(info.value)


def test_real_rule_set_loads_with_contract_options_and_questions() -> None:
    ruleset = load_ruleset()
    assert list(ruleset.options) == CONTRACT_OPTIONS
    assert len(ruleset.options) == 11
    # The contract's questions come first, in its order; questions added since follow.
    assert list(ruleset.questions)[: len(CONTRACT_QUESTIONS)] == CONTRACT_QUESTIONS
    assert list(ruleset.questions)[len(CONTRACT_QUESTIONS) :] == ["access_log_target"]
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", ruleset.version)


def test_hash_is_stable_across_loads() -> None:
    assert load_ruleset().sha256 == load_ruleset().sha256


def test_hash_of_an_unchanged_copy_equals_the_original(rules_copy: Path) -> None:
    assert load_ruleset(rules_copy).sha256 == load_ruleset().sha256


def test_hash_changes_when_a_fact_text_changes(rules_copy: Path) -> None:
    before = load_ruleset(rules_copy).sha256

    def change(data: Any) -> None:
        data["facts"][0]["text"] += " Amended."

    edit(rules_copy, "facts.yaml", change)
    after = load_ruleset(rules_copy).sha256
    assert re.fullmatch(r"[0-9a-f]{64}", after)
    assert after != before


def test_hash_ignores_comments(rules_copy: Path) -> None:
    before = load_ruleset(rules_copy).sha256
    path = rules_copy / "facts.yaml"
    path.write_text("# a new comment\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_ruleset(rules_copy).sha256 == before


def test_unknown_field_in_an_option_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        data["options"][0]["colour"] = "red"

    edit(rules_copy, "options.yaml", change)
    message = load_error(rules_copy)
    assert "rules/options.yaml" in message
    assert "'sse-s3'" in message
    assert "'colour'" in message


def test_hard_rule_excluding_an_unknown_option_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        data["hard"][0]["excludes"].append("sse-nonexistent")

    edit(rules_copy, "rules/hard.yaml", change)
    message = load_error(rules_copy)
    assert "rules/rules/hard.yaml" in message
    assert "'audit-needs-kms'" in message
    assert "'excludes'" in message
    assert "sse-nonexistent" in message


def test_rule_citing_an_unknown_fact_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        data["soft"][0]["facts"] = ["no-such-fact"]

    edit(rules_copy, "rules/soft.yaml", change)
    message = load_error(rules_copy)
    assert "rules/rules/soft.yaml" in message
    assert "'cost-matters-most'" in message
    assert "'facts'" in message
    assert "no-such-fact" in message


def test_fact_with_a_plain_http_source_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        fact = data["facts"][0]
        fact["source"] = fact["source"].replace("https://", "http://")

    edit(rules_copy, "facts.yaml", change)
    message = load_error(rules_copy)
    assert "rules/facts.yaml" in message
    assert "'kms-fips-140-3-level-3'" in message
    assert "'source'" in message


def test_non_monotone_in_condition_in_a_hard_rule_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        data["hard"][0]["when"] = {"fips_validation": {"in": ["fips-140-level-3"]}}

    edit(rules_copy, "rules/hard.yaml", change)
    message = load_error(rules_copy)
    assert "rules/rules/hard.yaml" in message
    assert "'audit-needs-kms'" in message
    assert "'when.fips_validation'" in message
    assert "monotone" in message


def test_invalid_yaml_is_refused_naming_the_file(rules_copy: Path) -> None:
    (rules_copy / "rules" / "hard.yaml").write_text(
        "hard:\n  - id: broken\n    when: {audit_key_usage: [\n", encoding="utf-8"
    )
    message = load_error(rules_copy)
    assert "rules/rules/hard.yaml" in message
    assert "YAML" in message


def test_duplicate_id_is_refused(rules_copy: Path) -> None:
    def change(data: Any) -> None:
        data["hard"].append(dict(data["hard"][0]))

    edit(rules_copy, "rules/hard.yaml", change)
    message = load_error(rules_copy)
    assert "rules/rules/hard.yaml" in message
    assert "'audit-needs-kms'" in message
    assert "'id'" in message
    assert "duplicate" in message
