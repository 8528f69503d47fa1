"""The rules engine: schema (rule-file models), loader (read, validate, hash), evaluate (pure)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from app.advisor.evaluate import Engine
from app.advisor.loader import load_ruleset


@lru_cache(maxsize=4)
def get_engine(rules_dir: Path) -> Engine:
    """The compiled engine for a rules/ folder, built once per process and folder."""
    return Engine(load_ruleset(rules_dir))
