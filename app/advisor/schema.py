"""Pydantic models of the files in rules/ (the advisor's knowledge).

Every model forbids unknown fields, so a typo in a rule file stops start-up with a
message naming the file, the entry and the field instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Scalar = bool | str


class Strict(BaseModel):
    """Base of every rule-file model: unknown fields are an error, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(Strict):
    """One sourced claim the advisor rests on."""

    id: Id
    text: str = Field(min_length=10)
    source: Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
    as_of: dt.date
    checked: dt.date | None = None
    verified: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _checked_when_verified(self) -> Fact:
        # A verified fact says when its source was last confirmed to state it; staleness is
        # judged by that date, not by as_of (a fact from 2020 can be checked yesterday).
        if self.verified and self.checked is None:
            raise ValueError("a verified fact needs 'checked': the date its source was confirmed")
        if self.checked is not None and self.checked < self.as_of:
            raise ValueError("'checked' cannot be earlier than 'as_of'")
        return self


class Step(Strict):
    """A page of the questionnaire."""

    id: Id
    title: str
    description: str


class Question(Strict):
    """One question of the questionnaire.

    For ``enum`` questions ``values`` lists the default first and then values in order of
    increasing requirement, so ``at_least`` conditions and the monotonicity check can
    compare them. For ``list`` questions ``values`` lists the allowed items.
    """

    id: QuestionId
    step: Id
    text: str
    why: str
    type: Literal["bool", "enum", "list"]
    values: list[str] = Field(default_factory=list)
    value_labels: dict[str, str] = Field(default_factory=dict)
    default: bool | str | list[str]

    def label(self, value: Any) -> str:
        """An answer in words: yes/no, the value's label (the id where it has none), a list
        joined by commas, 'none' for an empty list."""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list | tuple):
            return ", ".join(self.value_labels.get(str(v), str(v)) for v in value) or "none"
        return self.value_labels.get(str(value), str(value))

    @field_validator("values")
    @classmethod
    def _unique_values(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("values must be unique")
        return values


class Condition(Strict):
    """A test on one answer. Exactly one operator is set.

    ``equals`` suits booleans; ``at_least`` compares an ordered enum; ``contains`` and
    ``contains_any`` test list answers; ``in`` (a set of enum values) is not monotone and
    is therefore refused in hard rules and implications.
    """

    equals: Scalar | None = None
    at_least: str | None = None
    contains: str | None = None
    contains_any: list[str] | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        self.operator()
        return self

    def operator(self) -> tuple[str, Any]:
        """Return the one operator set on this condition and its operand."""
        set_ops = [
            (name, value)
            for name, value in (
                ("equals", self.equals),
                ("at_least", self.at_least),
                ("contains", self.contains),
                ("contains_any", self.contains_any),
                ("in", self.in_),
            )
            if value is not None
        ]
        if len(set_ops) != 1:
            raise ValueError("a condition needs exactly one of equals, at_least, contains, in")
        return set_ops[0]


When = dict[QuestionId, Scalar | Condition]


class Reason(Strict):
    """Why a hard rule excludes options."""

    text: str
    facts: list[Id] = Field(default_factory=list)


class Example(Strict):
    """A set of answers and, for the examples of hard rules, the expected outcome."""

    answers: dict[QuestionId, Any] = Field(default_factory=dict)
    note: str | None = None


class RuleExamples(Strict):
    """Answers under which the rule must fire, and answers under which it must not."""

    fires: list[Example] = Field(min_length=1)
    does_not_fire: list[Example] = Field(min_length=1)


class HardRule(Strict):
    """An answer that rules options out."""

    id: Id
    when: When = Field(min_length=1)
    excludes: list[Id] = Field(min_length=1)
    reason: Reason
    examples: RuleExamples


class SoftRule(Strict):
    """A preference: score adjustments for the options that remain."""

    id: Id
    when: When = Field(min_length=1)
    adjust: dict[Id, float] = Field(min_length=1)
    rationale: str
    facts: list[Id] = Field(default_factory=list)
    examples: RuleExamples


class Implication(Strict):
    """An answer that implies a stronger answer to another question."""

    id: Id
    when: When = Field(min_length=1)
    implies: dict[QuestionId, Scalar] = Field(min_length=1)
    text: str
    facts: list[Id] = Field(default_factory=list)
    examples: RuleExamples


class ConfigurePatch(Strict):
    """Answer-dependent changes to the recommended option's configuration.

    ``unset`` removes keys (dotted paths, as in ``set``) after ``set`` is applied; a path that
    the option's configuration does not hold is ignored.
    """

    id: Id
    when: When = Field(min_length=1)
    options: list[Id] = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)
    rationale: str
    facts: list[Id] = Field(default_factory=list)
    examples: RuleExamples


class Warning_(Strict):
    """A misconception or caveat shown with a result.

    It applies when ``when`` holds (if given) and the recommended option is one of
    ``options`` (if given); at least one of the two is required.
    """

    id: Id
    text: str
    when: When | None = None
    options: list[Id] | None = None
    facts: list[Id] = Field(default_factory=list)
    examples: RuleExamples


class Property(Strict):
    """One trade-off dimension of an option: a short cell for tables and the detail."""

    summary: str
    detail: str
    facts: list[Id] = Field(default_factory=list)


class OptionProperties(Strict):
    """The trade-offs of an option, one entry per dimension of the comparison table."""

    key_control: Property
    audit_trail: Property
    fips: Property
    integration: Property
    operations: Property
    cost: Property
    rotation: Property
    crypto_shredding: Property
    request_quota: Property


class Custody(Strict):
    """Where an option's key is held and where it is used: what `rules check` reasons from.

    ``held_in``: where the key material lives between uses. ``used_in``: where encryption and
    decryption with it take place (SSE-C keys are held by the customer but used by S3).
    ``use_in_cloudtrail``: every use of the key is an AWS API call recorded by CloudTrail.
    """

    held_in: Literal["s3", "kms", "cloudhsm", "external-key-manager", "customer"]
    used_in: Literal["s3", "kms", "cloudhsm", "external-key-manager", "application"]
    use_in_cloudtrail: bool


SHARED_AWS_PLACES = frozenset({"s3", "kms"})
"""Places where keys are held or used on multi-tenant infrastructure that AWS operates."""


class Option(Strict):
    """One way of encrypting S3 data at rest."""

    id: Id
    title: str
    summary: str
    custody: Custody
    base_score: float = Field(ge=0, le=1)
    properties: OptionProperties
    configuration: dict[str, Any]
    rationale: list[str] = Field(min_length=1)
    facts: list[Id] = Field(default_factory=list)


class RuleSetMeta(Strict):
    """The header of the rule set (rules/ruleset.yaml)."""

    version: Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
    title: str
    score_floor: float = 0.0
    score_ceiling: float = 1.0


RULE_FILES: dict[str, str] = {
    "ruleset": "ruleset.yaml",
    "facts": "facts.yaml",
    "steps": "steps.yaml",
    "questions": "questions.yaml",
    "options": "options.yaml",
    "hard": "rules/hard.yaml",
    "soft": "rules/soft.yaml",
    "implications": "rules/implications.yaml",
    "configure": "rules/configure.yaml",
    "warnings": "warnings.yaml",
}
"""Where each part of the rule set lives, relative to the rules/ folder."""
