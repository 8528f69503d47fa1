"""`atrest rules check`: verify the rule set over the whole answer space.

Exclusion depends only on the questions (and list items) that hard rules and implications
read; every other answer only adjusts scores. So the check enumerates every combination of
those answers, one representative per class of list answers that the rules cannot tell
apart, and covers the rest of the space by that argument. Existence properties (every
option wins somewhere, every rule fires somewhere) are shown by witnesses.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.advisor.answers import Answers, AnswerValue, answers_to_json, normalize_answers
from app.advisor.bucket_types import configuration_problems
from app.advisor.conflicts import firings
from app.advisor.evaluate import Assessment, Engine
from app.advisor.loader import holds
from app.advisor.schema import SHARED_AWS_PLACES, Condition, Custody, Question, When


@dataclass
class Check:
    """One verified property: its outcome, what was covered, and a counterexample if any."""

    name: str
    ok: bool
    detail: str
    counterexample: dict[str, Any] | None = None


@dataclass
class VerifyReport:
    """All checks of one run, printable as a summary."""

    checks: list[Check] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every property holds."""
        return all(c.ok for c in self.checks)

    def summary(self) -> str:
        """Human-readable summary, with counterexamples as JSON."""
        lines = ["Coverage:"] + [f"  {c}" for c in self.coverage] + ["", "Properties:"]
        for c in self.checks:
            lines.append(f"  [{'PASS' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
            if c.counterexample is not None:
                lines.append(
                    "         counterexample: " + json.dumps(c.counterexample, sort_keys=True)
                )
        verdict = "rule set verified" if self.ok else "rule set FAILED verification"
        failed = sum(not c.ok for c in self.checks)
        lines += [
            "",
            f"{verdict}: {len(self.checks) - failed} of {len(self.checks)} properties hold ({self.seconds:.1f} s)",
        ]
        return "\n".join(lines) + "\n"


def _atoms(when: When) -> Iterator[tuple[str, Condition | bool | str]]:
    yield from when.items()


def _domain(question: Question) -> list[AnswerValue]:
    if question.type == "bool":
        return [False, True]
    if question.type == "enum":
        return list(question.values)
    return [
        tuple(c)
        for r in range(len(question.values) + 1)
        for c in itertools.combinations(question.values, r)
    ]


def _domain_size(question: Question) -> int:
    if question.type == "bool":
        return 2
    if question.type == "enum":
        return len(question.values)
    return int(2 ** len(question.values))


class _Space:
    """The part of the answer space that hard rules and implications can tell apart."""

    def __init__(self, engine: Engine) -> None:
        rs = engine.ruleset
        conds: dict[str, list[Condition | bool | str]] = {}
        for entry in list(rs.hard) + list(rs.implications):
            for qid, cond in _atoms(entry.when):
                conds.setdefault(qid, []).append(cond)
        for imp in rs.implications:
            for qid in imp.implies:
                conds.setdefault(qid, [])
        self.questions = [q for q in rs.questions if q in conds]
        self.others = [q for q in rs.questions if q not in conds]
        self.domains: dict[str, list[AnswerValue]] = {}
        self.rep_of: dict[tuple[str, AnswerValue], AnswerValue] = {}
        self.class_notes: list[str] = []
        for qid in self.questions:
            question = rs.questions[qid]
            domain: list[AnswerValue] = _domain(question)
            if question.type == "list":
                # One representative (the smallest) per signature of the atoms on this question.
                reps: dict[tuple[bool, ...], AnswerValue] = {}
                for value in domain:
                    sig = tuple(holds(question, c, value) for c in conds[qid])
                    reps.setdefault(sig, value)
                    self.rep_of[(qid, value)] = reps[sig]
                self.class_notes.append(
                    f"{qid}: {len(domain)} subsets reduced to {len(reps)} classes the rules tell apart"
                )
                domain = list(reps.values())
            self.domains[qid] = domain
        self.defaults = engine.defaults

    def size(self) -> int:
        return math.prod(len(self.domains[q]) for q in self.questions)

    def combos(self) -> Iterator[tuple[AnswerValue, ...]]:
        return itertools.product(*(self.domains[q] for q in self.questions))

    def answers(self, combo: tuple[AnswerValue, ...]) -> Answers:
        given = dict(self.defaults)
        given.update(zip(self.questions, combo, strict=True))
        return given


def _stronger(question: Question, value: AnswerValue) -> list[AnswerValue]:
    """The answers one step stronger than value (the covering relation of the order)."""
    if question.type == "bool":
        return [True] if value is False else []
    if question.type == "enum":
        i = question.values.index(str(value))
        return [question.values[i + 1]] if i + 1 < len(question.values) else []
    assert isinstance(value, tuple)
    return [
        tuple(v for v in question.values if v in value or v == item)
        for item in question.values
        if item not in value
    ]


def _names(engine: Engine, mask: int) -> list[str]:
    return [oid for i, oid in enumerate(engine.option_ids) if mask >> i & 1]


def verify(engine: Engine, progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Check the rule set's properties over the whole answer space.

    Args:
        engine: The compiled rule set.
        progress: Called with a line of progress now and then (for the terminal).

    Returns:
        The report; ``report.ok`` is False with a counterexample for each failed property.
    """
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    rs = engine.ruleset
    report = VerifyReport()
    space = _Space(engine)
    full = math.prod(_domain_size(q) for q in rs.questions.values())
    n = space.size()
    report.coverage.append(f"answer space: {full:,} combinations of {len(rs.questions)} questions")
    report.coverage.append(
        f"enumerated: {n:,} combinations of the {len(space.questions)} questions that hard rules "
        f"and implications read ({', '.join(space.questions)})"
    )
    report.coverage += space.class_notes
    report.coverage.append(
        "by reasoning: "
        + (", ".join(space.others) or "no other question")
        + " and the other list items only adjust scores (soft rules, configuration, warnings), so "
        "they cannot change which options are excluded; hard conditions are monotone by schema"
    )

    # 1. Every combination: a recommendation, or conflicts that are each smallest.
    masks: dict[tuple[AnswerValue, ...], int] = {}
    fired_hard: set[int] = set()
    fired_imp: set[int] = set()
    winners: dict[str, Answers] = {}
    bad_outcome: dict[str, Any] | None = None
    conflicts_seen = 0
    memo: dict[Any, Any] = {}
    step = max(1, n // 5)
    for count, combo in enumerate(space.combos(), 1):
        given = space.answers(combo)
        a = engine.assess(given)
        masks[combo] = a.excluded
        fired_hard.update(a.hard)
        fired_imp.update(a.implications)
        if a.scores:
            top = engine.option_ids[a.ranking()[0][0]]
            winners.setdefault(top, given)
        elif bad_outcome is None:
            conflicts_seen += 1
            problem = _check_conflicts(engine, a, memo)
            if problem:
                bad_outcome = {"answers": answers_to_json(given), "problem": problem}
        else:
            conflicts_seen += 1
        if count % step == 0:
            say(f"rules check: {count:,} of {n:,} combinations evaluated")
    report.checks.append(
        Check(
            "outcome",
            bad_outcome is None,
            f"each of {n:,} combinations yields a recommendation ({n - conflicts_seen:,}) or "
            f"conflicts that are each a smallest set of questions ({conflicts_seen:,})",
            bad_outcome,
        )
    )

    # 2. Monotonicity: a stronger answer never brings back an excluded option.
    counter: dict[str, Any] | None = None
    pairs = 0
    for combo, mask in masks.items():
        for pos, qid in enumerate(space.questions):
            question = rs.questions[qid]
            for up in _stronger(question, combo[pos]):
                # A list answer stands for its class: same conditions hold, same exclusions.
                rep = space.rep_of.get((qid, up), up)
                up_mask = masks[(*combo[:pos], rep, *combo[pos + 1 :])]
                pairs += 1
                if mask & ~up_mask and counter is None:
                    counter = {
                        "answers": answers_to_json(space.answers(combo)),
                        "stronger": {qid: answers_to_json({qid: up})[qid]},
                        "brought_back": _names(engine, mask & ~up_mask),
                    }
        if counter:
            break
    report.checks.append(
        Check(
            "monotonicity",
            counter is None,
            f"{pairs:,} pairs (answers, one answer made stronger) compared",
            counter,
        )
    )

    # 3. Every option is the top recommendation for some answers.
    _find_missing_winners(engine, space, masks, winners)
    missing = [o for o in engine.option_ids if o not in winners]
    report.checks.append(
        Check(
            "every option wins somewhere",
            not missing,
            f"{len(winners)} of {len(engine.option_ids)} options are recommended for some answers"
            + (f"; never: {', '.join(missing)}" if missing else ""),
            {"never_recommended": missing} if missing else None,
        )
    )

    # 4. Every rule fires for some answers.
    never = [rs.hard[i].id for i in range(len(rs.hard)) if i not in fired_hard]
    never += [rs.implications[i].id for i in range(len(rs.implications)) if i not in fired_imp]
    never += _unfired_by_witness(engine, winners)
    total = (
        len(rs.hard) + len(rs.implications) + len(rs.soft) + len(rs.configure) + len(rs.warnings)
    )
    report.checks.append(
        Check(
            "every rule fires",
            not never,
            f"{total - len(never)} of {total} rules, implications, patches and warnings fire for some answers",
            {"never_fire": never} if never else None,
        )
    )

    # 5. Custody: what an option's key is and where it lives decides what it can satisfy.
    report.checks += _custody_checks(engine, space, masks)

    # 6. Every configuration a patch can produce is one the bucket type can hold.
    report.checks.append(_bucket_type_check(engine))

    # 7. Facts: every reference resolves to a fact with an https source and a date.
    refs = _fact_references(engine)
    broken = sorted({f"{where} -> {fid}" for where, fid in refs if fid not in rs.facts})
    bad_source = sorted(f.id for f in rs.facts.values() if not f.source.startswith("https://"))
    unverified = sum(not f.verified for f in rs.facts.values())
    report.checks.append(
        Check(
            "facts",
            not broken and not bad_source,
            f"{len(refs)} references to {len({fid for _, fid in refs})} facts resolve; all "
            f"{len(rs.facts)} facts have an https source and a date ({unverified} marked unverified)",
            {"unresolved": broken, "not_https": bad_source} if broken or bad_source else None,
        )
    )
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class _CustodyRule:
    """A requirement, and the options that the options' custody says it must exclude."""

    name: str
    question: str
    value: AnswerValue
    must_exclude: Callable[[Custody], bool]
    why: str


CUSTODY_RULES = (
    _CustodyRule(
        "single-tenant HSM",
        "dedicated_hsm",
        True,
        lambda c: c.held_in in SHARED_AWS_PLACES or c.used_in in SHARED_AWS_PLACES,
        "every option whose key is held or used by S3 or KMS",
    ),
    _CustodyRule(
        "key-use audit trail",
        "audit_key_usage",
        True,
        lambda c: not c.use_in_cloudtrail,
        "every option whose key use CloudTrail does not record",
    ),
    _CustodyRule(
        "immediate shredding",
        "crypto_shredding",
        "immediate",
        lambda c: c.held_in in {"s3", "cloudhsm"},
        "every option whose keys live in S3 or in CloudHSM (backups stay restorable)",
    ),
)


def _custody_checks(
    engine: Engine, space: _Space, masks: dict[tuple[AnswerValue, ...], int]
) -> list[Check]:
    """For each custody rule: every enumerated answer set with the requirement excludes them."""
    rs = engine.ruleset
    checks = []
    for rule in CUSTODY_RULES:
        if rule.question not in rs.questions:
            continue  # a rule set without this requirement has nothing to prove
        must = [o.id for o in rs.options.values() if rule.must_exclude(o.custody)]
        need = sum(1 << engine.index[oid] for oid in must)
        if rule.question not in space.questions:
            checks.append(
                Check(
                    f"custody: {rule.name}",
                    False,
                    f"no hard rule reads {rule.question}, so nothing excludes {rule.why}",
                    {"question": rule.question, "must_exclude": must},
                )
            )
            continue
        pos = space.questions.index(rule.question)
        counter: dict[str, Any] | None = None
        seen = 0
        for combo, mask in masks.items():
            if combo[pos] != rule.value:
                continue
            seen += 1
            if need & ~mask:
                counter = {
                    "answers": answers_to_json(space.answers(combo)),
                    "not_excluded": _names(engine, need & ~mask),
                }
                break
        checks.append(
            Check(
                f"custody: {rule.name}",
                counter is None and seen > 0,
                f"{rule.question} = {answers_to_json({rule.question: rule.value})[rule.question]} "
                f"excludes {rule.why} ({', '.join(must)}) in all {seen:,} combinations with it",
                counter,
            )
        )
    return checks


def _bucket_type_check(engine: Engine) -> Check:
    """Every option a bucket type admits, under every patch combination, fits that bucket type.

    The patches read only a few questions; every combination of their answers (and of the
    bucket type) is enumerated, and each option not excluded for that bucket type is given the
    configuration it would be recommended with.
    """
    rs = engine.ruleset
    qids = sorted({q for c in rs.configure for q in c.when} | ({"bucket_type"} & set(rs.questions)))
    domains = [_domain(rs.questions[q]) for q in qids]
    tried = 0
    counter: dict[str, Any] | None = None
    for combo in itertools.product(*domains):
        given = dict(engine.defaults)
        given.update(zip(qids, combo, strict=True))
        a = engine.assess(given)
        bucket_type = str(a.effective.get("bucket_type", "general-purpose"))
        for o, oid in enumerate(engine.option_ids):
            if a.excluded >> o & 1:
                continue
            config, patched = engine.configuration(o, a.bits)
            tried += 1
            problems = configuration_problems(config, bucket_type)
            if problems and counter is None:
                counter = {
                    "answers": answers_to_json(given),
                    "option": oid,
                    "patches": patched,
                    "problems": problems,
                }
    return Check(
        "configurations fit the bucket type",
        counter is None,
        f"{tried:,} configurations (each admitted option under every combination of "
        f"{', '.join(qids)}) hold only settings their bucket type accepts",
        counter,
    )


def _check_conflicts(engine: Engine, a: Assessment, memo: dict[Any, Any]) -> str | None:
    """Why the conflicts of an infeasible assessment are wrong, or None when they are right.

    The smallest conflict sets depend only on how the fired hard rules fire (which given
    answers each needs, directly or through an implication), so they are computed once per
    such signature: with no implication applied, the fired rules alone.
    """
    signature: tuple[Any, ...] = (
        ("sets", tuple(a.hard))
        if not a.implications
        else ("sets", tuple(a.hard), tuple(firings(engine, a)))
    )
    sets = memo.get(signature)
    if sets is None:
        sets = memo[signature] = engine.minimal_conflicts(a)
    if not sets:
        return "no option remains but no conflict was found"
    for qset in sets:
        key = tuple(sorted((q, a.given[q]) for q in qset))
        if key not in memo:
            memo[key] = _check_one_conflict(engine, a, qset)
        problem: str | None = memo[key]
        if problem:
            return problem
    return None


def _check_one_conflict(engine: Engine, a: Assessment, qset: frozenset[str]) -> str | None:
    """Whether one conflict set conflicts on its own and loses it without any one member."""
    kept = dict(engine.defaults)
    kept.update({q: a.given[q] for q in qset})
    if engine.assess(kept).scores:
        return f"{sorted(qset)} alone leaves an option"
    for q in qset:
        fewer = dict(kept)
        fewer[q] = engine.defaults[q]
        if not engine.assess(fewer).scores:
            return f"{sorted(qset)} is not smallest: without {q} it still conflicts"
    return None


def _find_missing_winners(
    engine: Engine,
    space: _Space,
    masks: dict[tuple[AnswerValue, ...], int],
    winners: dict[str, Answers],
) -> None:
    """Search the score-only questions for answers where each not-yet-seen option wins."""
    rs = engine.ruleset
    soft_domains = [[(q, v) for v in _domain(rs.questions[q])] for q in space.others]
    for oid in engine.option_ids:
        if oid in winners:
            continue
        bit = 1 << engine.index[oid]
        for combo, mask in masks.items():
            if mask & bit:
                continue
            base = space.answers(combo)
            for extra in itertools.product(*soft_domains):
                given = dict(base)
                given.update(extra)
                ranking = engine.assess(given).ranking()
                if ranking and engine.option_ids[ranking[0][0]] == oid:
                    winners[oid] = given
                    break
            if oid in winners:
                break


def _unfired_by_witness(engine: Engine, winners: dict[str, Answers]) -> list[str]:
    """Soft rules, patches and warnings for which no witness makes them fire."""
    rs = engine.ruleset
    never = []
    for kind, entries in (("soft", rs.soft), ("configure", rs.configure), ("warning", rs.warnings)):
        for entry in entries:
            options = getattr(entry, "options", None)
            candidates = [winners[o] for o in (options or []) if o in winners] or list(
                winners.values()
            )[:1]
            when = entry.when or {}
            fired = False
            for base in candidates:
                given = dict(base)
                for qid, cond in when.items():
                    given[qid] = _satisfying(rs.questions[qid], cond, given[qid])
                if (
                    entry.id
                    in engine.evaluate_normalized(
                        normalize_answers(rs.questions, answers_to_json(given))
                    ).fired[kind]
                ):
                    fired = True
                    break
            if not fired:
                for example in entry.examples.fires:
                    if entry.id in engine.evaluate(example.answers).fired[kind]:
                        fired = True
                        break
            if not fired:
                never.append(entry.id)
    return never


def _satisfying(
    question: Question, cond: Condition | bool | str, current: AnswerValue
) -> AnswerValue:
    """The current value if it satisfies the condition, else a value that does."""
    if holds(question, cond, current):
        return current
    for value in _domain(question):
        if holds(question, cond, value):
            return value
    return current


def _fact_references(engine: Engine) -> list[tuple[str, str]]:
    rs = engine.ruleset
    refs: list[tuple[str, str]] = []
    for o in rs.options.values():
        refs += [(f"option {o.id}", f) for f in o.facts]
        for name, prop in o.properties:
            refs += [(f"option {o.id}.{name}", f) for f in prop.facts]
    refs += [(f"hard {h.id}", f) for h in rs.hard for f in h.reason.facts]
    for kind, entries in (
        ("soft", rs.soft),
        ("implication", rs.implications),
        ("configure", rs.configure),
        ("warning", rs.warnings),
    ):
        refs += [(f"{kind} {e.id}", f) for e in entries for f in e.facts]
    return refs
