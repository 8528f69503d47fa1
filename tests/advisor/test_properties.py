"""Properties of the engine over random valid answer sets (hypothesis)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.advisor.answers import AnswerValue, normalize_answers
from app.advisor.evaluate import Engine
from app.advisor.loader import RuleSet
from app.advisor.schema import Question

SETTINGS = settings(max_examples=300, deadline=None)


def _value(question: Question) -> st.SearchStrategy[Any]:
    if question.type == "bool":
        return st.booleans()
    if question.type == "enum":
        return st.sampled_from(question.values)
    return st.lists(st.sampled_from(question.values), unique=True)


def answer_sets(questions: Mapping[str, Question]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid answer sets: any subset of the questions, each with an allowed value."""
    return st.fixed_dictionaries({}, optional={qid: _value(q) for qid, q in questions.items()})


def stronger_values(question: Question, value: AnswerValue) -> list[AnswerValue]:
    """Every answer that asks for strictly more than `value` by one step of its order."""
    if question.type == "bool":
        return [True] if value is False else []
    if question.type == "enum":
        assert isinstance(value, str)
        return list(question.values[question.values.index(value) + 1 :])
    assert isinstance(value, tuple)
    return [
        tuple(v for v in question.values if v in value or v == item)
        for item in question.values
        if item not in value
    ]


def _excluded_ids(engine: Engine, answers: Mapping[str, AnswerValue]) -> set[str]:
    mask = engine.assess(dict(answers)).excluded
    return {oid for i, oid in enumerate(engine.option_ids) if mask >> i & 1}


@SETTINGS
@given(data=st.data())
def test_evaluation_is_deterministic(engine: Engine, ruleset: RuleSet, data: st.DataObject) -> None:
    answers = data.draw(answer_sets(ruleset.questions))
    first = engine.evaluate(answers).to_json()
    assert engine.evaluate(answers).to_json() == first
    reordered = dict(reversed(list(answers.items())))
    assert engine.evaluate(reordered).to_json() == first


@SETTINGS
@given(data=st.data())
def test_raising_an_answer_never_readmits_an_option(
    engine: Engine, ruleset: RuleSet, data: st.DataObject
) -> None:
    base = normalize_answers(ruleset.questions, data.draw(answer_sets(ruleset.questions)))
    steps = [
        (qid, stronger)
        for qid, question in ruleset.questions.items()
        for stronger in stronger_values(question, base[qid])
    ]
    assume(steps)
    qid, stronger = data.draw(st.sampled_from(steps), label="raised")
    raised = {**base, qid: stronger}
    before = _excluded_ids(engine, base)
    after = _excluded_ids(engine, raised)
    assert before <= after, f"raising {qid} to {stronger!r} re-admitted {before - after}"


@SETTINGS
@given(data=st.data())
def test_result_is_a_recommendation_or_minimal_conflicts(
    engine: Engine, ruleset: RuleSet, data: st.DataObject
) -> None:
    answers = data.draw(answer_sets(ruleset.questions))
    result = engine.evaluate(answers)
    rec, ranking, conflicts = (
        result.data["recommendation"],
        result.data["ranking"],
        result.data["conflicts"],
    )
    if rec is not None:
        assert ranking
        assert ranking[0]["option"] == rec["option"]
        assert conflicts == []
        return
    assert ranking == []
    assert conflicts
    given_answers = normalize_answers(ruleset.questions, answers)
    for conflict in conflicts:
        questions = conflict["questions"]
        assert questions
        # The text is for people: every question as asked, no question id (those that are
        # not also plain words, such as `rotation`), no true/false.
        for q in questions:
            assert ruleset.questions[q].text in conflict["text"]
        ids = [qid for qid in ruleset.questions if "_" in qid]
        assert not any(qid in conflict["text"] for qid in ids), conflict["text"]
        assert "true" not in conflict["text"] and "false" not in conflict["text"]
        only_these = {**engine.defaults, **{q: given_answers[q] for q in questions}}
        assert engine.assess(only_these).ranking() == [], f"{questions} alone is no conflict"
        for dropped in questions:
            relaxed = {**only_these, dropped: engine.defaults[dropped]}
            assert engine.assess(relaxed).ranking(), f"{questions} is not minimal: {dropped}"


@SETTINGS
@given(data=st.data())
def test_every_cited_fact_exists_and_is_listed(
    engine: Engine, ruleset: RuleSet, data: st.DataObject
) -> None:
    result = engine.evaluate(data.draw(answer_sets(ruleset.questions)))
    listed = [f["id"] for f in result.data["facts"]]
    assert set(listed) <= set(ruleset.facts)
    assert len(listed) == len(set(listed))
    cited = {
        fid
        for excluded in result.data["excluded"]
        for reason in excluded["reasons"]
        for fid in reason.get("facts", [])
    }
    assert cited <= set(listed)
