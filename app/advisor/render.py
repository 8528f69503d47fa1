"""Plain-text and Markdown renderings of a recommendation and of the questions (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.advisor.schema import Question


def _fact_line(fact: Mapping[str, Any]) -> str:
    flag = "" if fact["verified"] else ", unverified"
    checked = fact.get("checked")
    seen = f", checked {checked}" if checked else ", never checked"
    return f"[{fact['id']}] {fact['text']} ({fact['source']}, as of {fact['as_of']}{seen}{flag})"


def recommendation_text(data: Mapping[str, Any]) -> str:
    """A readable terminal report of a recommendation JSON."""
    lines: list[str] = []
    rec = data["recommendation"]
    rs = data["ruleset"]
    if rec is None:
        lines.append("No option meets every requirement.")
    else:
        lines.append(f"Recommendation: {rec['title']} ({rec['option']})")
    lines.append(f"Rule set {rs['version']} (sha256 {rs['sha256']})")
    if rec is not None:
        lines += ["", "Why:"] + [f"  - {r}" for r in rec["rationale"]]
        lines += ["", "Configuration:"]
        lines += ["  " + ln for ln in json.dumps(rec["configuration"], indent=2).splitlines()]
    if data["conflicts"]:
        lines += ["", "Conflicts:"] + [f"  - {c['text']}" for c in data["conflicts"]]
    if data["ranking"]:
        lines += ["", "Ranking:"]
        lines += [
            f"  {n}. {r['option']:<22} {r['score']:.3f}" for n, r in enumerate(data["ranking"], 1)
        ]
    if data["excluded"]:
        lines += ["", "Excluded:"]
        for ex in data["excluded"]:
            for reason in ex["reasons"]:
                via = (
                    f", implied by {reason['implied_by']['question']}"
                    if "implied_by" in reason
                    else ""
                )
                lines.append(
                    f"  - {ex['option']}: {reason['rule']} ({reason['question']}{via}): {reason['text']}"
                )
    if data["warnings"]:
        lines += ["", "Warnings:"] + [f"  - {w['text']}" for w in data["warnings"]]
    if data["facts"]:
        lines += ["", "Facts:"] + [f"  - {_fact_line(f)}" for f in data["facts"]]
    return "\n".join(lines) + "\n"


def recommendation_markdown(data: Mapping[str, Any]) -> str:
    """A Markdown report of a recommendation JSON, for tickets and wikis."""
    rec = data["recommendation"]
    rs = data["ruleset"]
    ruleset = f"Rule set {rs['version']} (sha256 `{rs['sha256']}`)"
    if rec is None:
        out = ["# No option meets every requirement", "", ruleset]
    else:
        out = [f"# Recommendation: {rec['title']}", "", f"Option `{rec['option']}` · {ruleset}"]
    if rec is not None:
        out += ["", "## Why", ""] + [f"- {r}" for r in rec["rationale"]]
        out += [
            "",
            "## Configuration",
            "",
            "```json",
            json.dumps(rec["configuration"], indent=2),
            "```",
        ]
    if data["conflicts"]:
        out += ["", "## Conflicts", ""] + [f"- {c['text']}" for c in data["conflicts"]]
    if data["ranking"]:
        out += ["", "## Ranking", "", "| # | Option | Score |", "|---|---|---|"]
        out += [
            f"| {n} | `{r['option']}` | {r['score']:.3f} |"
            for n, r in enumerate(data["ranking"], 1)
        ]
    if data["excluded"]:
        out += ["", "## Excluded", "", "| Option | Rule | Question | Reason |", "|---|---|---|---|"]
        for ex in data["excluded"]:
            for reason in ex["reasons"]:
                out.append(
                    f"| `{ex['option']}` | `{reason['rule']}` | `{reason['question']}` | {reason['text']} |"
                )
    if data["warnings"]:
        out += ["", "## Warnings", ""] + [f"- {w['text']}" for w in data["warnings"]]
    if data["facts"]:
        out += [
            "",
            "## Facts",
            "",
            "| Fact | Source | As of | Checked | Verified |",
            "|---|---|---|---|---|",
        ]
        for f in data["facts"]:
            verified = "yes" if f["verified"] else "**no**"
            checked = f.get("checked") or "never"
            out.append(f"| {f['text']} | <{f['source']}> | {f['as_of']} | {checked} | {verified} |")
    return "\n".join(out) + "\n"


def question_json(question: Question) -> dict[str, Any]:
    """The public JSON shape of one question."""
    return {
        "id": question.id,
        "step": question.step,
        "text": question.text,
        "why": question.why,
        "type": question.type,
        "values": list(question.values) if question.type != "bool" else [False, True],
        "default": question.default,
    }


def questions_text(questions: Mapping[str, Question]) -> str:
    """The questionnaire as plain text, one block per question."""
    blocks = []
    for q in questions.values():
        if q.type == "bool":
            allowed = "true, false"
        elif q.type == "list":
            allowed = "a list of: " + ", ".join(q.values)
        else:
            allowed = ", ".join(q.values)
        default = json.dumps(q.default)
        blocks.append(
            f"{q.id} ({q.type}, default {default})\n  {q.text}\n  Allowed: {allowed}\n  Why we ask: {q.why}"
        )
    return "\n\n".join(blocks) + "\n"
