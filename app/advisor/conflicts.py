"""Explain answers that conflict: every smallest set of questions that excludes every option,
and what relaxing each of them would give.

A hard rule fires through a question either because that answer holds its condition or
because an implication raised the answer; the search works on those dependencies as bit
sets, so finding every minimal set is a small exact cover search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.advisor.answers import AnswerValue

if TYPE_CHECKING:
    from app.advisor.evaluate import Assessment, Engine


def _json_value(value: AnswerValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def firings(engine: Engine, a: Assessment) -> list[tuple[int, int]]:
    """Each way a fired hard rule fires: (bit set of the given answers it needs, options it excludes).

    A rule fires through a question either because that answer holds the condition or
    because an implication raised it; the bits then name the implication's sources.
    """
    rs = engine.ruleset
    qbit = engine.question_bit
    imp_sources: dict[str, list[tuple[AnswerValue, int]]] = {}
    for i in a.implications:
        imp = rs.implications[i]
        deps = 0
        for qid in imp.when:
            deps |= qbit[qid]
        for qid, value in imp.implies.items():
            imp_sources.setdefault(qid, []).append((value, deps))
    pairs: list[tuple[int, int]] = []
    for i in a.hard:
        combos = [0]
        for qid, test in engine.hard_conditions(i):
            alts = [qbit[qid]] if test(a.given[qid]) else []
            alts += [deps for value, deps in imp_sources.get(qid, ()) if test(value)]
            combos = [c | alt for c in combos for alt in alts]
        mask = engine.hard_mask[i]
        pairs += [(deps, mask) for deps in sorted(set(combos))]
    return pairs


def minimal_conflicts(engine: Engine, a: Assessment) -> list[frozenset[str]]:
    """Every smallest set of answered questions that together exclude every option."""
    pairs = firings(engine, a)
    all_mask = engine.all_mask
    found: list[int] = []
    seen: set[int] = set()

    def search(chosen: int) -> None:
        if chosen in seen:
            return
        seen.add(chosen)
        for f in found:
            if f & ~chosen == 0:
                return
        mask = 0
        for deps, m in pairs:
            if deps & ~chosen == 0:
                mask |= m
        if mask == all_mask:
            found.append(chosen)
            return
        uncovered = (~mask & all_mask).bit_length() - 1
        for deps, m in pairs:
            if m >> uncovered & 1:
                search(chosen | deps)

    search(0)
    minimal = {s for s in found if not any(o != s and o & ~s == 0 for o in found)}
    names = [frozenset(q for q, bit in engine.question_bit.items() if s & bit) for s in minimal]
    return sorted(names, key=lambda s: (len(s), sorted(s)))


def _relaxed_top(engine: Engine, a: Assessment, qid: str) -> str | None:
    """The option recommended if one answer went back to its default, or None."""
    relaxed = dict(a.given)
    relaxed[qid] = engine.defaults[qid]
    ranking = engine.assess(relaxed).ranking()
    return engine.option_ids[ranking[0][0]] if ranking else None


def describe_conflicts(
    engine: Engine, a: Assessment, conflict_sets: list[frozenset[str]]
) -> list[dict[str, Any]]:
    """Each conflict set in words (the questions' texts and answers' labels, as a person
    reads them); the ids stay in `questions` and `relax` for machines."""
    questions_of = engine.ruleset.questions
    conflicts = []
    tops: dict[str, str | None] = {}
    order = engine.question_bit
    for qset in conflict_sets:
        questions = sorted(qset, key=order.__getitem__)
        relax = []
        parts = []
        for qid in questions:
            if qid not in tops:
                tops[qid] = _relaxed_top(engine, a, qid)
            top = tops[qid]
            default = engine.defaults[qid]
            question = questions_of[qid]
            relax.append({"question": qid, "to": _json_value(default), "option": top})
            change = f"answer \u201c{question.label(default)}\u201d to \u201c{question.text}\u201d"
            if top is None:
                parts.append(f"{change}, which leaves the other conflicts")
            else:
                parts.append(f"{change} to get {engine.titles[engine.index[top]]}")
        stated = " and ".join(
            f"the answer \u201c{questions_of[q].label(a.given[q])}\u201d to \u201c{questions_of[q].text}\u201d"
            for q in questions
        )
        verb = (
            "excludes" if len(questions) == 1 else "cannot hold together: between them they exclude"
        )
        text = (
            f"{stated[0].upper()}{stated[1:]} {verb} every option. To resolve it, "
            + "; or ".join(parts)
            + "."
        )
        conflicts.append({"questions": questions, "text": text, "relax": relax})
    return conflicts
