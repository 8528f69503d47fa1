"""Read, validate and hash the rule set in rules/.

Syntax is checked by the pydantic models of schema.py; this module adds the checks that
span files (every referenced option, question, value and fact exists; hard conditions are
monotone) and computes the sha256 reported with every result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.advisor.answers import AnswerError, default_answer, normalize_answers
from app.advisor.schema import (
    RULE_FILES,
    Condition,
    ConfigurePatch,
    Fact,
    HardRule,
    Implication,
    Option,
    Question,
    RuleExamples,
    RuleSetMeta,
    SoftRule,
    Step,
    Warning_,
    When,
)

M = TypeVar("M", bound=BaseModel)

MONOTONE_OPERATORS = {
    "bool": {"equals"},
    "enum": {"at_least"},
    "list": {"contains", "contains_any"},
}
ALLOWED_OPERATORS = {
    "bool": {"equals"},
    "enum": {"at_least", "in", "equals"},
    "list": {"contains", "contains_any"},
}


class RuleSetError(ValueError):
    """An invalid rule file: the message names the file, the entry id and the field."""

    def __init__(self, file: str, entry: str | None, field: str | None, message: str) -> None:
        self.file, self.entry, self.field = file, entry, field
        where = file
        if entry:
            where += f": entry '{entry}'"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class RuleSet:
    """The validated knowledge: every entry of rules/, its version and content hash."""

    root: Path
    meta: RuleSetMeta
    sha256: str
    facts: dict[str, Fact]
    steps: dict[str, Step]
    questions: dict[str, Question]
    options: dict[str, Option]
    hard: tuple[HardRule, ...]
    soft: tuple[SoftRule, ...]
    implications: tuple[Implication, ...]
    configure: tuple[ConfigurePatch, ...]
    warnings: tuple[Warning_, ...]

    @property
    def version(self) -> str:
        """The rule set's declared version (rules/ruleset.yaml)."""
        return self.meta.version

    def all_rules(
        self,
    ) -> Iterable[tuple[str, HardRule | SoftRule | Implication | ConfigurePatch | Warning_]]:
        """Every entry that carries examples, with the name of its kind."""
        for kind, entries in (
            ("hard", self.hard),
            ("soft", self.soft),
            ("implication", self.implications),
            ("configure", self.configure),
            ("warning", self.warnings),
        ):
            for entry in entries:
                yield kind, entry


def default_rules_dir() -> Path:
    """The rules/ folder of this checkout."""
    return Path(__file__).resolve().parents[2] / "rules"


SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(root: Path, rel: str) -> Any:
    path = root / rel
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleSetError(_display(root, rel), None, None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RuleSetError(
            _display(root, rel),
            None,
            None,
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
        ) from None
    try:
        # libyaml's loader when present: the same safe subset, several times faster.
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RuleSetError(_display(root, rel), None, None, f"not valid YAML{at}") from exc


def _display(root: Path, rel: str) -> str:
    return f"{root.name}/{rel}"


def _entries(root: Path, rel: str, key: str, model: type[M]) -> list[M]:
    data = _read_yaml(root, rel)
    file = _display(root, rel)
    if not isinstance(data, dict) or set(data) != {key}:
        raise RuleSetError(file, None, None, f"must be a mapping with the single key '{key}'")
    raw = data[key]
    if not isinstance(raw, list):
        raise RuleSetError(file, None, key, "must be a list of entries")
    result: list[M] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        entry_id = item.get("id") if isinstance(item, dict) else None
        label = str(entry_id) if entry_id else f"#{index + 1}"
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or None
            raise RuleSetError(file, label, field, err["msg"]) from exc
        pid = str(getattr(parsed, "id", label))
        if pid in seen:
            raise RuleSetError(file, pid, "id", "duplicate id")
        seen.add(pid)
        result.append(parsed)
    return result


class _Checker:
    """Cross-file checks; each failure names the file, entry and field."""

    def __init__(
        self,
        root: Path,
        facts: Mapping[str, Fact],
        questions: Mapping[str, Question],
        options: Mapping[str, Option],
    ) -> None:
        self.root, self.facts, self.questions, self.options = root, facts, questions, options

    def fail(self, rel: str, entry: str, field: str, message: str) -> RuleSetError:
        return RuleSetError(_display(self.root, rel), entry, field, message)

    def facts_exist(self, rel: str, entry: str, field: str, ids: Iterable[str]) -> None:
        for fid in ids:
            if fid not in self.facts:
                raise self.fail(rel, entry, field, f"unknown fact '{fid}'")

    def options_exist(self, rel: str, entry: str, field: str, ids: Iterable[str]) -> None:
        for oid in ids:
            if oid not in self.options:
                raise self.fail(rel, entry, field, f"unknown option '{oid}'")

    def value_ok(self, rel: str, entry: str, field: str, question: Question, value: Any) -> None:
        if question.type == "bool":
            if not isinstance(value, bool):
                raise self.fail(rel, entry, field, f"{question.id} is a bool, not {value!r}")
        elif value not in question.values:
            raise self.fail(rel, entry, field, f"'{value}' is not a value of {question.id}")

    def when(self, rel: str, entry: str, when: When, *, monotone: bool) -> None:
        for qid, cond in when.items():
            field = f"when.{qid}"
            question = self.questions.get(qid)
            if question is None:
                raise self.fail(rel, entry, field, f"unknown question '{qid}'")
            if not isinstance(cond, Condition):
                cond = Condition(equals=cond)
            try:
                op, operand = cond.operator()
            except ValueError as exc:
                raise self.fail(rel, entry, field, str(exc)) from exc
            if op not in ALLOWED_OPERATORS[question.type]:
                raise self.fail(
                    rel, entry, field, f"'{op}' does not apply to a {question.type} question"
                )
            if monotone and op not in MONOTONE_OPERATORS[question.type]:
                raise self.fail(
                    rel,
                    entry,
                    field,
                    f"'{op}' is not monotone; use at_least, contains or equals true",
                )
            for item in operand if isinstance(operand, list) else [operand]:
                if question.type == "list" or op in ("at_least", "in", "equals"):
                    self.value_ok(rel, entry, field, question, item)
            if monotone and holds(question, cond, default_answer(question)):
                raise self.fail(
                    rel, entry, field, "holds at the default answer, so it is not a requirement"
                )

    def examples(self, rel: str, entry: str, examples: RuleExamples) -> None:
        for group in ("fires", "does_not_fire"):
            for n, example in enumerate(getattr(examples, group)):
                try:
                    normalize_answers(self.questions, example.answers)
                except AnswerError as exc:
                    raise self.fail(rel, entry, f"examples.{group}.{n}", str(exc)) from exc


def holds(question: Question, cond: Condition | bool | str, value: Any) -> bool:
    """Whether a condition holds for a normalised answer value."""
    if not isinstance(cond, Condition):
        return bool(value == cond)
    op, operand = cond.operator()
    if op == "equals":
        return bool(value == operand)
    if op == "at_least":
        return question.values.index(value) >= question.values.index(operand)
    if op == "in":
        return value in operand
    if op == "contains":
        return operand in value
    return any(item in value for item in operand)


def lookup_path(config: Any, parts: Sequence[str]) -> tuple[bool, Any]:
    """Follow the parts of a dotted configuration path (list items by index).

    Returns (True, the node) when every part exists, else (False, None).
    """
    node: Any = config
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _check_configure_path(option: Option, path: str) -> bool:
    found, parent = lookup_path(option.configuration, path.split(".")[:-1])
    return found and isinstance(parent, dict)


def _holds_path(config: Any, path: str) -> bool:
    return lookup_path(config, path.split("."))[0]


def _canonical_hash(parts: Mapping[str, Any]) -> str:
    def dump(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(value, list | tuple):
            return [dump(v) for v in value]
        if isinstance(value, dict):
            return {k: dump(v) for k, v in value.items()}
        return value

    canonical = json.dumps(
        dump(dict(parts)), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_ruleset(root: Path | None = None) -> RuleSet:
    """Read and validate every file of the rule set.

    Args:
        root: The rules/ folder; this checkout's by default.

    Returns:
        The validated rule set with its version and sha256.

    Raises:
        RuleSetError: for the first problem found, naming file, entry and field.
    """
    root = (root or default_rules_dir()).resolve()
    meta_raw = _read_yaml(root, RULE_FILES["ruleset"])
    try:
        meta = RuleSetMeta.model_validate(meta_raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise RuleSetError(_display(root, RULE_FILES["ruleset"]), None, field, err["msg"]) from exc

    facts = {f.id: f for f in _entries(root, RULE_FILES["facts"], "facts", Fact)}
    steps = {s.id: s for s in _entries(root, RULE_FILES["steps"], "steps", Step)}
    questions = {q.id: q for q in _entries(root, RULE_FILES["questions"], "questions", Question)}
    options = {o.id: o for o in _entries(root, RULE_FILES["options"], "options", Option)}
    hard = _entries(root, RULE_FILES["hard"], "hard", HardRule)
    soft = _entries(root, RULE_FILES["soft"], "soft", SoftRule)
    implications = _entries(root, RULE_FILES["implications"], "implications", Implication)
    configure = _entries(root, RULE_FILES["configure"], "configure", ConfigurePatch)
    warnings = _entries(root, RULE_FILES["warnings"], "warnings", Warning_)

    check = _Checker(root, facts, questions, options)
    rel = RULE_FILES["questions"]
    for q in questions.values():
        if q.step not in steps:
            raise check.fail(rel, q.id, "step", f"unknown step '{q.step}'")
        if q.type == "bool":
            if not isinstance(q.default, bool) or q.values:
                raise check.fail(
                    rel, q.id, "default", "a bool question has a bool default and no values"
                )
        elif q.type == "enum":
            if not q.values or q.default != q.values[0]:
                raise check.fail(rel, q.id, "default", "an enum's default must be its first value")
        elif not isinstance(q.default, list) or any(v not in q.values for v in q.default):
            raise check.fail(rel, q.id, "default", "a list's default must be a list of its values")
        for label in q.value_labels:
            if label not in q.values:
                raise check.fail(rel, q.id, "value_labels", f"'{label}' is not a value")

    rel = RULE_FILES["options"]
    for o in options.values():
        check.facts_exist(rel, o.id, "facts", o.facts)
        for name, prop in o.properties:
            check.facts_exist(rel, o.id, f"properties.{name}.facts", prop.facts)

    rel = RULE_FILES["hard"]
    for h in hard:
        check.when(rel, h.id, h.when, monotone=True)
        check.options_exist(rel, h.id, "excludes", h.excludes)
        check.facts_exist(rel, h.id, "reason.facts", h.reason.facts)
    rel = RULE_FILES["soft"]
    for s in soft:
        check.when(rel, s.id, s.when, monotone=False)
        check.options_exist(rel, s.id, "adjust", s.adjust)
        check.facts_exist(rel, s.id, "facts", s.facts)
    rel = RULE_FILES["implications"]
    for i in implications:
        check.when(rel, i.id, i.when, monotone=True)
        check.facts_exist(rel, i.id, "facts", i.facts)
        for qid, value in i.implies.items():
            question = questions.get(qid)
            if question is None or question.type == "list":
                raise check.fail(rel, i.id, f"implies.{qid}", "must name a bool or enum question")
            check.value_ok(rel, i.id, f"implies.{qid}", question, value)
            if value == default_answer(question):
                raise check.fail(
                    rel, i.id, f"implies.{qid}", "implies the default, which requires nothing"
                )
    rel = RULE_FILES["configure"]
    for c in configure:
        check.when(rel, c.id, c.when, monotone=False)
        check.options_exist(rel, c.id, "options", c.options)
        check.facts_exist(rel, c.id, "facts", c.facts)
        for path in c.set:
            for oid in c.options:
                if not _check_configure_path(options[oid], path):
                    raise check.fail(
                        rel, c.id, f"set.{path}", f"no such place in the configuration of '{oid}'"
                    )
        if not c.set and not c.unset:
            raise check.fail(rel, c.id, "set", "a patch needs 'set', 'unset' or both")
        for path in c.unset:
            # A typo would silently remove nothing: the path must exist in some option.
            if not any(_holds_path(options[oid].configuration, path) for oid in c.options):
                raise check.fail(
                    rel, c.id, f"unset.{path}", "no option of this patch has such a key"
                )
    rel = RULE_FILES["warnings"]
    for w in warnings:
        if w.when is None and w.options is None:
            raise check.fail(rel, w.id, "when", "a warning needs 'when', 'options' or both")
        if w.when is not None:
            check.when(rel, w.id, w.when, monotone=False)
        check.options_exist(rel, w.id, "options", w.options or [])
        check.facts_exist(rel, w.id, "facts", w.facts)

    for kind, entries in (
        ("hard", hard),
        ("soft", soft),
        ("implications", implications),
        ("configure", configure),
        ("warnings", warnings),
    ):
        for e in entries:
            check.examples(RULE_FILES[kind], e.id, e.examples)

    sha = _canonical_hash(
        {
            "ruleset": meta,
            "facts": list(facts.values()),
            "steps": list(steps.values()),
            "questions": list(questions.values()),
            "options": list(options.values()),
            "hard": hard,
            "soft": soft,
            "implications": implications,
            "configure": configure,
            "warnings": warnings,
        }
    )
    return RuleSet(
        root=root,
        meta=meta,
        sha256=sha,
        facts=facts,
        steps=steps,
        questions=questions,
        options=options,
        hard=tuple(hard),
        soft=tuple(soft),
        implications=tuple(implications),
        configure=tuple(configure),
        warnings=tuple(warnings),
    )
