"""Validation and normalisation of answer sets against the questions of a rule set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.advisor.schema import Question

AnswerValue = bool | str | tuple[str, ...]
Answers = dict[str, AnswerValue]


@dataclass(frozen=True)
class AnswerProblem:
    """One refused answer: the question id, the value given and what is wrong with it."""

    question: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"question '{self.question}': {self.message}"


class AnswerError(ValueError):
    """Raised when an answer set names unknown questions or holds out-of-range values."""

    def __init__(self, problems: Iterable[AnswerProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


def _check(question: Question, value: Any) -> tuple[AnswerValue | None, str | None]:
    """Return the normalised value, or None and the reason it is refused."""
    allowed = ", ".join(question.values)
    if question.type == "bool":
        if isinstance(value, bool):
            return value, None
        return None, f"value {_show(value)} is not a boolean (allowed: true, false)"
    if question.type == "enum":
        if isinstance(value, str) and value in question.values:
            return value, None
        return None, f"value {_show(value)} is not allowed (allowed: {allowed})"
    if not isinstance(value, list | tuple):
        return None, f"value {_show(value)} is not a list (allowed items: {allowed})"
    bad = [item for item in value if not isinstance(item, str) or item not in question.values]
    if bad:
        shown = ", ".join(_show(item) for item in bad)
        return None, f"item {shown} is not allowed (allowed items: {allowed})"
    chosen = set(value)
    return tuple(item for item in question.values if item in chosen), None


def default_answer(question: Question) -> AnswerValue:
    """The value meaning "no requirement" for a question, in normalised form."""
    if isinstance(question.default, list):
        return tuple(question.default)
    return question.default


def normalize_answers(questions: Mapping[str, Question], answers: Mapping[str, Any]) -> Answers:
    """Validate an answer set and return every question's value, defaults filled in.

    Args:
        questions: The rule set's questions by id, in questionnaire order.
        answers: A mapping from question id to value, as read from a file or a form.

    Returns:
        A dict in question order; list answers become tuples in the question's value order.

    Raises:
        AnswerError: naming every unknown question and every refused value.
    """
    if not isinstance(answers, Mapping):
        raise AnswerError([AnswerProblem("(answers)", answers, "the answers must be a mapping")])
    problems = [
        AnswerProblem(str(qid), value, "unknown question id")
        for qid, value in answers.items()
        if qid not in questions
    ]
    result: Answers = {}
    for qid, question in questions.items():
        if qid not in answers:
            result[qid] = default_answer(question)
            continue
        value, error = _check(question, answers[qid])
        if error is not None or value is None:
            problems.append(AnswerProblem(qid, answers[qid], error or "invalid value"))
        else:
            result[qid] = value
    if problems:
        raise AnswerError(problems)
    return result


def answers_to_json(answers: Answers) -> dict[str, Any]:
    """Turn normalised answers back into JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in answers.items()}


_MISSING = object()


class AnswerNormalizer:
    """normalize_answers compiled for one question set: the fast path of every evaluation.

    Valid answers are normalised with set lookups only; anything else falls back to
    normalize_answers, which names every problem.
    """

    def __init__(self, questions: Mapping[str, Question]) -> None:
        self.questions = questions
        self._plan = [
            (
                qid,
                q.type,
                frozenset(q.values),
                {v: n for n, v in enumerate(q.values)},
                default_answer(q),
            )
            for qid, q in questions.items()
        ]

    def __call__(self, answers: Mapping[str, Any]) -> Answers:
        """Validate and normalise an answer set (raises AnswerError like normalize_answers)."""
        if not isinstance(answers, dict):
            return normalize_answers(self.questions, answers)
        result: Answers = {}
        found = 0
        for qid, kind, valid, order, default in self._plan:
            value = answers.get(qid, _MISSING)
            if value is _MISSING:
                result[qid] = default
                continue
            found += 1
            if kind == "bool":
                if value is True or value is False:
                    result[qid] = value
                    continue
            elif kind == "enum":
                if type(value) is str and value in valid:
                    result[qid] = value
                    continue
            elif type(value) in (list, tuple) and all(
                type(item) is str and item in valid for item in value
            ):
                result[qid] = tuple(sorted(set(value), key=order.__getitem__))
                continue
            return normalize_answers(self.questions, answers)
        if found != len(answers):
            return normalize_answers(self.questions, answers)
        return result
