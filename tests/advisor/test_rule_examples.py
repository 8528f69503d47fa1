"""Every rule in rules/ runs its own examples (STYLE.md habit 3): never list rules by hand."""

from __future__ import annotations

from typing import Any

import pytest

from app.advisor.evaluate import Engine, Result
from app.advisor.loader import RuleSet, load_ruleset

ENTRIES = list(load_ruleset().all_rules())


def _reasons_naming(result: Result, rule_id: str) -> dict[str, list[dict[str, Any]]]:
    """Excluded options mapped to their reasons whose rule is rule_id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for excluded in result.data["excluded"]:
        reasons = [r for r in excluded["reasons"] if r["rule"] == rule_id]
        if reasons:
            found[excluded["option"]] = reasons
    return found


@pytest.mark.parametrize(
    ("kind", "entry"), ENTRIES, ids=[f"{kind}:{entry.id}" for kind, entry in ENTRIES]
)
def test_rule_examples_hold(engine: Engine, kind: str, entry: Any) -> None:
    """A rule fires under each of its `fires` examples and under none of `does_not_fire`."""
    for example in entry.examples.fires:
        result = engine.evaluate(example.answers)
        assert entry.id in result.fired[kind], (
            f"{kind} {entry.id} should fire for {example.answers} "
            f"(recommended: {result.option}, fired: {result.fired[kind]})"
        )
        if kind == "hard":
            named = _reasons_naming(result, entry.id)
            for option in entry.excludes:
                assert option in named, f"{entry.id} should exclude {option} for {example.answers}"
    for example in entry.examples.does_not_fire:
        result = engine.evaluate(example.answers)
        assert entry.id not in result.fired[kind], (
            f"{kind} {entry.id} should not fire for {example.answers}"
        )
        if kind == "hard":
            assert _reasons_naming(result, entry.id) == {}, (
                f"{entry.id} should give no exclusion reason for {example.answers}"
            )


def test_every_rule_has_both_kinds_of_example(ruleset: RuleSet) -> None:
    """The schema demands a firing and a non-firing example; prove it over the loaded data."""
    missing = [
        f"{kind}:{entry.id}"
        for kind, entry in ruleset.all_rules()
        if not entry.examples.fires or not entry.examples.does_not_fire
    ]
    assert missing == []


def test_every_kind_of_rule_is_walked(ruleset: RuleSet, engine: Engine) -> None:
    """all_rules() yields exactly the kinds the engine reports as fired."""
    kinds = {kind for kind, _ in ruleset.all_rules()}
    assert kinds == set(engine.evaluate({}).fired)
