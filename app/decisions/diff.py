"""Compare two results of the advisor: which answers changed and how the outcome moved (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AnswerChange:
    """One question whose answer differs between two results."""

    question: str
    before: Any
    after: Any


@dataclass(frozen=True)
class OutcomeDiff:
    """The differences between two recommendation results (before -> after)."""

    answers: list[AnswerChange] = field(default_factory=list)
    option_before: str | None = None
    option_after: str | None = None
    excluded_added: list[str] = field(default_factory=list)
    excluded_removed: list[str] = field(default_factory=list)
    warnings_added: list[str] = field(default_factory=list)
    warnings_removed: list[str] = field(default_factory=list)
    configuration_changed: bool = False
    ruleset_before: str | None = None
    ruleset_after: str | None = None

    @property
    def option_changed(self) -> bool:
        """Whether the recommended option differs."""
        return self.option_before != self.option_after

    @property
    def outcome_changed(self) -> bool:
        """Whether anything a reader acts on differs: option, exclusions, configuration."""
        return (
            self.option_changed
            or bool(self.excluded_added or self.excluded_removed)
            or self.configuration_changed
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for the API."""
        return {
            "answers": [
                {"question": c.question, "before": c.before, "after": c.after} for c in self.answers
            ],
            "option": {
                "before": self.option_before,
                "after": self.option_after,
                "changed": self.option_changed,
            },
            "excluded": {"added": self.excluded_added, "removed": self.excluded_removed},
            "warnings": {"added": self.warnings_added, "removed": self.warnings_removed},
            "configuration_changed": self.configuration_changed,
            "ruleset": {"before": self.ruleset_before, "after": self.ruleset_after},
            "outcome_changed": self.outcome_changed,
        }


def _option(result: dict[str, Any]) -> str | None:
    rec = result.get("recommendation")
    return None if rec is None else rec.get("option")


def _ids(items: list[dict[str, Any]], key: str) -> list[str]:
    return [str(item[key]) for item in items]


def diff_outcomes(before: dict[str, Any], after: dict[str, Any]) -> OutcomeDiff:
    """Compare two recommendation JSONs (CONTRACT.md shape).

    Args:
        before: The older result.
        after: The newer result.

    Returns:
        The changed answers (in question order of the newer result), the option before and
        after, options newly excluded or re-admitted, warnings added or dropped, and whether
        the configuration to apply differs.
    """
    a_answers, b_answers = before.get("answers", {}), after.get("answers", {})
    order = list(b_answers) + [q for q in a_answers if q not in b_answers]
    changes = [
        AnswerChange(q, a_answers.get(q), b_answers.get(q))
        for q in order
        if a_answers.get(q) != b_answers.get(q)
    ]
    a_ex, b_ex = (
        _ids(before.get("excluded", []), "option"),
        _ids(after.get("excluded", []), "option"),
    )
    a_w, b_w = _ids(before.get("warnings", []), "id"), _ids(after.get("warnings", []), "id")
    a_rec, b_rec = before.get("recommendation"), after.get("recommendation")
    a_cfg = None if a_rec is None else a_rec.get("configuration")
    b_cfg = None if b_rec is None else b_rec.get("configuration")
    return OutcomeDiff(
        answers=changes,
        option_before=_option(before),
        option_after=_option(after),
        excluded_added=[o for o in b_ex if o not in a_ex],
        excluded_removed=[o for o in a_ex if o not in b_ex],
        warnings_added=[w for w in b_w if w not in a_w],
        warnings_removed=[w for w in a_w if w not in b_w],
        configuration_changed=a_cfg != b_cfg,
        ruleset_before=before.get("ruleset", {}).get("version"),
        ruleset_after=after.get("ruleset", {}).get("version"),
    )
