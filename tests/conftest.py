"""Shared fixtures: the real rule set in rules/ and the engine compiled from it."""

from __future__ import annotations

import pytest

from app.advisor.evaluate import Engine
from app.advisor.loader import RuleSet, load_ruleset


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The rule set of this checkout, loaded and validated once per test session."""
    return load_ruleset()


@pytest.fixture(scope="session")
def engine(ruleset: RuleSet) -> Engine:
    """The engine compiled from the real rule set."""
    return Engine(ruleset)
