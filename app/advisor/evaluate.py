"""The advisor's engine: answers in, the recommendation of CONTRACT.md out.

Pure and deterministic: no I/O, no clock, no randomness. The rule set is compiled once
into bit masks and predicates (``Engine``) so an evaluation costs microseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.advisor.answers import (
    AnswerNormalizer,
    Answers,
    AnswerValue,
    answers_to_json,
    default_answer,
)
from app.advisor.conflicts import describe_conflicts, minimal_conflicts
from app.advisor.loader import RuleSet, lookup_path
from app.advisor.schema import Condition, Question, When

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class _Atom:
    qid: str
    test: Predicate


@dataclass
class Assessment:
    """The intermediate state of one evaluation (exposed for `rules check` and tests)."""

    given: Answers
    effective: Answers
    implications: list[int]
    hard: list[int]
    excluded: int
    soft: list[int]
    bits: int = 0
    given_bits: int = 0
    scores: dict[int, float] = field(default_factory=dict)

    def ranking(self) -> list[tuple[int, float]]:
        """Remaining options with their scores, best first (ties: rule-file order)."""
        return sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))


class Result:
    """One evaluation: the decision now, the contract's JSON (``data``) when first asked for.

    ``evaluate`` decides everything (implications, exclusions, ranking, the smallest
    conflict sets); turning that into the JSON of CONTRACT.md is deferred to the first
    read of ``data`` or ``fired``, so callers that need only the decision (the live
    questionnaire panel, ``rules check``) do not pay for it.
    """

    def __init__(
        self, engine: Engine, assessment: Assessment, conflict_sets: list[frozenset[str]]
    ) -> None:
        self._engine = engine
        self.assessment = assessment
        self.conflict_sets = conflict_sets
        self._built: tuple[dict[str, Any], dict[str, list[str]]] | None = None

    def _build(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        if self._built is None:
            self._built = self._engine._build(self.assessment, self.conflict_sets)
        return self._built

    @property
    def data(self) -> dict[str, Any]:
        """The recommendation JSON of CONTRACT.md."""
        return self._build()[0]

    @property
    def fired(self) -> dict[str, list[str]]:
        """The ids of the rules, implications, patches and warnings that applied, by kind."""
        return self._build()[1]

    @property
    def option(self) -> str | None:
        """The recommended option id, or None when the answers conflict."""
        ranking = self.assessment.ranking()
        return self._engine.option_ids[ranking[0][0]] if ranking else None

    def to_json(self) -> str:
        """The canonical JSON text: the same answers always give the same bytes."""
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"


def _compile_when(questions: Mapping[str, Question], when: When) -> tuple[_Atom, ...]:
    atoms = []
    for qid, cond in when.items():
        question = questions[qid]
        atoms.append(_Atom(qid, _predicate(question, cond)))
    return tuple(atoms)


def _equals(expected: Any) -> Predicate:
    def test(value: Any) -> bool:
        return bool(value == expected)

    return test


def _intersects(wanted: frozenset[str]) -> Predicate:
    def test(value: Any) -> bool:
        return not wanted.isdisjoint(value)

    return test


def _predicate(question: Question, cond: Condition | bool | str) -> Predicate:
    if not isinstance(cond, Condition):
        return _equals(cond)
    op, operand = cond.operator()
    if op == "at_least":
        return frozenset(question.values[question.values.index(operand) :]).__contains__
    if op == "in":
        return frozenset(operand).__contains__
    if op == "equals":
        return _equals(operand)
    # contains / contains_any on a tuple answer
    return _intersects(frozenset([operand] if op == "contains" else operand))


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars), faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _set_path(config: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = config
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[parts[-1]] = value


def _unset_path(config: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    found, parent = lookup_path(config, parts[:-1])
    if found and isinstance(parent, dict):
        parent.pop(parts[-1], None)


class Engine:
    """A rule set compiled for fast, repeated evaluation."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        rs = ruleset
        self.option_ids = list(rs.options)
        self.index = {oid: i for i, oid in enumerate(self.option_ids)}
        self.all_mask = (1 << len(self.option_ids)) - 1
        self.titles = [o.title for o in rs.options.values()]
        self.base = [o.base_score for o in rs.options.values()]
        self._config = [o.configuration for o in rs.options.values()]
        self.defaults = {qid: default_answer(q) for qid, q in rs.questions.items()}
        self.normalize = AnswerNormalizer(rs.questions)
        self.question_bit = {qid: 1 << n for n, qid in enumerate(rs.questions)}
        q = rs.questions
        self._atoms: list[_Atom] = []
        self._rank = {qid: {v: n for n, v in enumerate(qq.values)} for qid, qq in q.items()}
        self.hard_need = [self._need(q, r.when) for r in rs.hard]
        self.hard_mask = [self._mask(r.excludes) for r in rs.hard]
        self._hard_atoms = [_compile_when(q, r.when) for r in rs.hard]
        self.soft_need = [self._need(q, r.when) for r in rs.soft]
        self.soft_adjust = [[(self.index[o], d) for o, d in r.adjust.items()] for r in rs.soft]
        self._soft_gain = [dict(adj) for adj in self.soft_adjust]
        self.imp_need = [self._need(q, r.when) for r in rs.implications]
        self.configure_need = [self._need(q, r.when) for r in rs.configure]
        self.configure_mask = [self._mask(r.options) for r in rs.configure]
        self._patches = {r.id: r for r in rs.configure}
        self.warning_need = [self._need(q, r.when or {}) for r in rs.warnings]
        self.warning_mask = [
            self.all_mask if r.options is None else self._mask(r.options) for r in rs.warnings
        ]
        # For each question: value -> bit set of the atoms that hold for it (filled lazily).
        self._atom_bits: dict[str, dict[AnswerValue, int]] = {qid: {} for qid in q}
        self._reason = [
            (r.id, next(iter(r.when)), r.reason.text, list(r.reason.facts)) for r in rs.hard
        ]
        self.fact_json = {
            f.id: {
                "id": f.id,
                "text": f.text,
                "source": f.source,
                "as_of": f.as_of.isoformat(),
                "checked": None if f.checked is None else f.checked.isoformat(),
                "verified": f.verified,
            }
            for f in rs.facts.values()
        }
        self.ruleset_json = {"version": rs.version, "sha256": rs.sha256}

    def _need(self, questions: Mapping[str, Question], when: When) -> int:
        """Give each atom of a condition a bit; return the bits that must all hold."""
        need = 0
        for atom in _compile_when(questions, when):
            need |= 1 << len(self._atoms)
            self._atoms.append(atom)
        return need

    def _bits_of(self, qid: str, value: AnswerValue) -> int:
        table = self._atom_bits[qid]
        bits = table.get(value)
        if bits is None:
            bits = 0
            for n, atom in enumerate(self._atoms):
                if atom.qid == qid and atom.test(value):
                    bits |= 1 << n
            table[value] = bits
        return bits

    def _bits(self, answers: Answers) -> int:
        bits = 0
        tables = self._atom_bits
        for qid, value in answers.items():
            b = tables[qid].get(value)
            bits |= self._bits_of(qid, value) if b is None else b
        return bits

    def _mask(self, option_ids: list[str]) -> int:
        mask = 0
        for oid in option_ids:
            mask |= 1 << self.index[oid]
        return mask

    # -- the pure core --------------------------------------------------------------------

    def assess(self, given: Answers) -> Assessment:
        """Apply implications, hard rules and soft rules to normalised answers."""
        effective, applied, given_bits, bits = self._implied(given)
        hard: list[int] = []
        excluded = 0
        for i, need in enumerate(self.hard_need):
            if not need & ~bits:
                hard.append(i)
                excluded |= self.hard_mask[i]
        return self._score(
            Assessment(given, effective, applied, hard, excluded, [], bits, given_bits)
        )

    def _implied(self, given: Answers) -> tuple[Answers, list[int], int, int]:
        """Raise answers by the implications: (effective answers, implications, bits before, after)."""
        effective = given
        given_bits = bits = self._bits(given)
        applied: list[int] = []
        changed = True
        while changed:
            changed = False
            for i, need in enumerate(self.imp_need):
                if need & ~bits or i in applied:
                    continue
                applied.append(i)
                if effective is given:
                    effective = dict(given)
                for qid, value in self.ruleset.implications[i].implies.items():
                    rank = self._rank[qid]
                    current = effective[qid]
                    if rank:  # an ordered enum: raise to the stronger value
                        stronger = rank[str(value)] > rank[str(current)]
                    else:  # a bool: raise false to true
                        stronger = bool(value) and not current
                    if stronger:
                        effective[qid] = value
                        changed = True
            if changed:
                bits = self._bits(effective)
        return effective, applied, given_bits, bits

    def _score(self, a: Assessment) -> Assessment:
        """Fill in the soft rules that hold and the scores of the remaining options."""
        bits = a.bits
        a.soft = soft = [i for i, need in enumerate(self.soft_need) if not need & ~bits]
        scores = a.scores
        remaining = self.all_mask & ~a.excluded
        if remaining:
            for o, base in enumerate(self.base):
                if remaining >> o & 1:
                    scores[o] = base
            for i in soft:
                for o, delta in self.soft_adjust[i]:
                    if o in scores:
                        scores[o] += delta
            for o, score in scores.items():
                scores[o] = round(min(1.0, max(0.0, score)), 3)
        return a

    def evaluate(self, answers: Mapping[str, Any]) -> Result:
        """Evaluate an answer set (raises AnswerError on unknown ids or values)."""
        return self.evaluate_normalized(self.normalize(answers))

    def evaluate_normalized(self, given: Answers) -> Result:
        """Evaluate answers that normalize_answers has already checked."""
        a = self.assess(given)
        return Result(self, a, [] if a.scores else self.minimal_conflicts(a))

    def _build(
        self, a: Assessment, conflict_sets: list[frozenset[str]]
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Assemble the contract's JSON (and the ids of what fired) for an assessment."""
        given = a.given
        rs = self.ruleset
        ranking = a.ranking()
        winner = ranking[0][0] if ranking else None
        excluded_json, facts = self._excluded_part(a)
        fired_configure: list[str] = []
        recommendation: dict[str, Any] | None = None
        conflicts: list[dict[str, Any]] = []
        if winner is None:
            conflicts = describe_conflicts(self, a, conflict_sets)
        else:
            recommendation, rec_facts, fired_configure = self._recommendation_part(a, ranking)
            facts.update(rec_facts)
        warnings_json = []
        fired_warnings: list[str] = []
        for i, need in enumerate(self.warning_need):
            if need & ~a.bits:
                continue
            mask = self.warning_mask[i]
            if mask != self.all_mask and (winner is None or not mask >> winner & 1):
                continue
            caveat = rs.warnings[i]
            warnings_json.append({"id": caveat.id, "text": caveat.text})
            facts.update(caveat.facts)
            fired_warnings.append(caveat.id)

        data = {
            "ruleset": dict(self.ruleset_json),
            "answers": answers_to_json(given),
            "recommendation": recommendation,
            "ranking": [{"option": self.option_ids[o], "score": s} for o, s in ranking],
            "excluded": excluded_json,
            "conflicts": conflicts,
            "warnings": warnings_json,
            "facts": [dict(self.fact_json[f]) for f in sorted(facts)],
        }
        fired = {
            "hard": [rs.hard[i].id for i in a.hard],
            "soft": [rs.soft[i].id for i in a.soft],
            "implication": [rs.implications[i].id for i in a.implications],
            "configure": fired_configure,
            "warning": fired_warnings,
        }
        return data, fired

    def _excluded_part(self, a: Assessment) -> tuple[list[dict[str, Any]], set[str]]:
        """The excluded options with their reasons, and the facts those reasons cite."""
        implied = self._implied_by(a) if a.implications else {}
        facts: set[str] = set()
        excluded_json = []
        for o, oid in enumerate(self.option_ids):
            if not a.excluded >> o & 1:
                continue
            reasons = []
            for i in a.hard:
                if not self.hard_mask[i] >> o & 1:
                    continue
                rule_id, qid, text, reason_facts = self._reason[i]
                reason: dict[str, Any] = {"rule": rule_id, "question": qid, "text": text}
                if reason_facts:
                    reason["facts"] = list(reason_facts)
                    facts.update(reason_facts)
                if qid in implied and not self._hard_atoms[i][0].test(a.given[qid]):
                    reason["implied_by"] = dict(implied[qid])
                reasons.append(reason)
            excluded_json.append({"option": oid, "reasons": reasons})
        return excluded_json, facts

    def _recommendation_part(
        self, a: Assessment, ranking: list[tuple[int, float]]
    ) -> tuple[dict[str, Any], set[str], list[str]]:
        """The recommendation (configuration, rationale), its facts and the patches applied."""
        rs = self.ruleset
        winner, score = ranking[0]
        option = rs.options[self.option_ids[winner]]
        facts = set(option.facts)
        rationale = list(option.rationale)
        for i in a.implications:
            rationale.append(f"Implied by your answers: {rs.implications[i].text}")
            facts.update(rs.implications[i].facts)
        for i in a.soft:
            if self._soft_gain[i].get(winner, 0) > 0:
                rationale.append(rs.soft[i].rationale)
                facts.update(rs.soft[i].facts)
        config, patched = self.configuration(winner, a.bits)
        for pid in patched:
            entry = self._patches[pid]
            rationale.append(entry.rationale)
            facts.update(entry.facts)
        if len(ranking) > 1:
            runner, runner_score = ranking[1]
            rationale.append(
                f"It fits your preferences better than the runner-up, {self.titles[runner]} "
                f"({score:.2f} against {runner_score:.2f}, on a scale from 0 to 1)."
            )
        recommendation = {
            "option": option.id,
            "title": option.title,
            "configuration": config,
            "rationale": rationale,
        }
        return recommendation, facts, patched

    def configuration(self, option: int, bits: int) -> tuple[dict[str, Any], list[str]]:
        """An option's configuration with the patches that hold for ``bits`` applied.

        Returns the configuration (a fresh copy) and the ids of the patches applied, in
        rule-file order. `rules check` calls it for every option, not only the winner.
        """
        config: dict[str, Any] = _copy_json(self._config[option])
        patched: list[str] = []
        for i, need in enumerate(self.configure_need):
            if self.configure_mask[i] >> option & 1 and not need & ~bits:
                entry = self.ruleset.configure[i]
                for path, value in entry.set.items():
                    _set_path(config, path, _copy_json(value))
                for path in entry.unset:
                    _unset_path(config, path)
                patched.append(entry.id)
        return config, patched

    # -- explanations -----------------------------------------------------------------------

    def _implied_by(self, a: Assessment) -> dict[str, dict[str, Any]]:
        """For each question raised by an implication: the implication and its source."""
        out: dict[str, dict[str, Any]] = {}
        for i in a.implications:
            imp = self.ruleset.implications[i]
            source = next(iter(imp.when))
            for qid in imp.implies:
                if a.effective[qid] != a.given[qid]:
                    out.setdefault(qid, {"rule": imp.id, "question": source})
        return out

    def excluding_rules(self, a: Assessment) -> dict[str, set[str]]:
        """For each excluded option, the ids of the hard rules that exclude it: what the
        "excluded" part of the JSON says, without building it."""
        out: dict[str, set[str]] = {}
        for i in a.hard:
            mask = self.hard_mask[i]
            rule = self.ruleset.hard[i].id
            for o, oid in enumerate(self.option_ids):
                if mask >> o & 1:
                    out.setdefault(oid, set()).add(rule)
        return out

    def lead_reasons(self, a: Assessment) -> list[str]:
        """Why the leading option leads, in words ([] when the answers conflict).

        Said against the runner-up: the options your answers excluded that would otherwise
        come first, the preferences (soft rules) that favour the leader more than the
        runner-up, and the leader's default standing where the answers leave a choice.
        """
        ranking = a.ranking()
        if not ranking:
            return []
        winner, score = ranking[0]
        if len(ranking) == 1:
            return ["It is the only option your answers leave."]
        runner, runner_score = ranking[1]
        rs = self.ruleset
        reasons = []
        ahead = [
            self.titles[o]
            for o in range(len(self.base))
            if a.excluded >> o & 1
            if self.base[o] > self.base[winner]
        ]
        if ahead:
            named = ahead[0] if len(ahead) == 1 else f"{ahead[0]} and {len(ahead) - 1} more"
            reasons.append(f"Your answers excluded {named}, which would otherwise rank above it.")
        for i in a.soft:
            gain = self._soft_gain[i]
            if gain.get(winner, 0.0) > gain.get(runner, 0.0):
                reasons.append(rs.soft[i].rationale)
        summary = rs.options[self.option_ids[winner]].summary
        if self.base[winner] > self.base[runner]:
            reasons.append(
                f"Where your answers leave a choice, it is preferred to "
                f"{self.titles[runner]}: {summary}"
            )
        elif score == runner_score:
            reasons.append(
                f"It ties with {self.titles[runner]}; a tie goes to the simpler option, "
                "listed first in the rules."
            )
        return reasons

    def hard_conditions(self, rule: int) -> list[tuple[str, Predicate]]:
        """Hard rule number `rule`'s conditions: (question id, test of its answer) each."""
        return [(atom.qid, atom.test) for atom in self._hard_atoms[rule]]

    def minimal_conflicts(self, a: Assessment) -> list[frozenset[str]]:
        """Every smallest set of answered questions that together exclude every option."""
        return minimal_conflicts(self, a)
