"""The Markdown report: the same sections as the PDF, as GitHub-flavoured Markdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.core.mdsafe import Inline, code, inline
from app.reports.common import HEADINGS, SECTIONS, compact_json, status_label, when
from app.reports.model import AuditLog, ProbeEvidence, Report


class Code(str):
    """Table cell text shown as a code span, where backslashes stay as they are."""

    __slots__ = ()


def cell(value: object) -> str:
    """A value made safe for a Markdown table cell (no pipes or line breaks)."""
    if isinstance(value, Inline):  # people's text, already inert (app.core.mdsafe)
        return value
    if isinstance(value, Code):
        # A code span keeps backslashes; a table still splits at its pipes unless escaped.
        fence = "``" if "`" in value else "`"
        text = value.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
        return f"{fence} {text} {fence}" if fence == "``" else f"{fence}{text}{fence}"
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table (an empty line after it)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def facts_list(rows: Iterable[tuple[str, object]]) -> list[str]:
    """Label and value pairs as a bullet list (an empty line after it)."""
    return [*(f"- **{label}**: {' '.join(str(value).split())}" for label, value in rows), ""]


def _head(r: Report) -> list[str]:
    d = r.decision
    rec = r.recommendation
    return [
        f"# Auditor's report: {inline(d.title)}",
        "",
        f"Decision {d.id}, version {d.version} of {d.latest_version}. "
        f"Generated {when(r.report.generated_at)} by {r.report.generator}.",
        "",
        *facts_list(
            [
                ("Status", d.status),
                ("Owner", inline(d.owner or "-")),
                ("Approval", r.approvals.summary),
                (
                    "Recommendation",
                    f"{rec.title} ({rec.option})" if rec else "none: answers conflict",
                ),
                ("Probe evidence", r.probe.verdict_text if r.probe else "no finished probe run"),
                ("Rule set", f"{r.ruleset.version} (sha256 `{r.ruleset.sha256}`)"),
                ("Report sha256", f"`{r.digest.value}`"),
            ],
        ),
        "## Contents",
        "",
        *[f"{i}. [{title}](#{slug(title)})" for i, (_, title) in enumerate(SECTIONS, start=1)],
        "",
    ]


def _decision(r: Report) -> list[str]:
    d = r.decision
    scope = "; ".join(d.scope_lines)
    lines = [
        f"## {HEADINGS['decision']}",
        "",
        *facts_list(
            [
                ("Title", inline(d.title)),
                ("Description", inline(d.description or "-")),
                ("Owner", inline(d.owner or "-")),
                ("Status today", d.status),
                ("Scope", inline(scope or "-")),
                (
                    "Reported version",
                    f"{d.version} of {d.latest_version}, saved {when(d.version_created_at)}",
                ),
                ("Version note", inline(d.version_note or "-")),
                ("Created / last changed", f"{when(d.created_at)} / {when(d.updated_at)}"),
            ],
        ),
        "### Approvals",
        "",
        f"**{r.approvals.summary}**",
        "",
    ]
    if r.approvals.steps:
        lines += table(
            ("Version", "Step", "By", "When", "Comment", "Rule set"),
            [
                (
                    f"{s.version}" + (" (this)" if s.for_this_version else ""),
                    s.action,
                    inline(s.actor),
                    when(s.at),
                    inline(s.comment or "-"),
                    s.ruleset_version,
                )
                for s in r.approvals.steps
            ],
        )
    else:
        lines += ["No approval step has been recorded for this decision.", ""]
    return lines


def _recommendation(r: Report) -> list[str]:
    lines = [f"## {HEADINGS['recommendation']}", ""]
    rec = r.recommendation
    if rec is None:
        return [*lines, "No option meets every requirement: see the conflicts below.", ""]
    lines += [f"**{rec.title}** (`{rec.option}`)", ""]
    lines += [f"- {why}" for why in rec.rationale] + ["", "Configuration:", "", "```json"]
    return [*lines, rec.configuration_json, "```", ""]


def _answers(r: Report) -> list[str]:
    return [
        f"## {HEADINGS['answers']}",
        "",
        *table(
            ("Question", "Answer", "Id"),
            [
                (q.text, q.answer_text + ("" if q.is_default else " **(requirement)**"), q.id)
                for q in r.questions
            ],
        ),
    ]


def _options(r: Report) -> list[str]:
    lines = [f"## {HEADINGS['options']}", "", "### Ranking", ""]
    lines += table(
        ("#", "Option", "Score"),
        [(o.position, f"{o.title} ({o.option})", f"{o.score:.3f}") for o in r.ranking],
    )
    lines += ["### Excluded options", ""]
    lines += (
        table(
            ("Option", "Rule", "Question", "Why", "Facts"),
            [
                (f"{e.title} ({e.option})", x.rule, x.question, x.text, ", ".join(x.facts))
                for e in r.excluded
                for x in e.reasons
            ],
        )
        if r.excluded
        else ["No option was excluded.", ""]
    )
    lines += ["### Conflicts", ""]
    lines += (
        table(("Questions", "Why"), [(", ".join(c.questions), c.text) for c in r.conflicts])
        if r.conflicts
        else ["None.", ""]
    )
    lines += ["### Warnings", ""]
    return lines + (
        [f"- **{w.id}**: {w.text}" for w in r.warnings] + [""] if r.warnings else ["None.", ""]
    )


def _facts(r: Report) -> list[str]:
    return [
        f"## {HEADINGS['facts']}",
        "",
        f"Facts whose source was not checked in the {r.report.fact_max_age_days} days before "
        f"{when(r.report.generated_at)}, or that are not verified, are marked. As of: when the "
        "fact became true; Checked: when its source was last confirmed to state it.",
        "",
        *table(
            ("Fact", "As of", "Checked", "Days since checked", "Marks", "Source"),
            [
                (
                    f"**{f.id}**: {f.text}",
                    f.as_of.isoformat(),
                    f.checked.isoformat() if f.checked else "never",
                    "-" if f.age_days is None else f.age_days,
                    ", ".join(f.marks).upper() or "-",
                    f.source,
                )
                for f in r.facts
            ],
        ),
    ]


def _tickets(r: Report) -> list[str]:
    lines = [f"## {HEADINGS['tickets']}", ""]
    if not r.tickets:
        return [*lines, "No ticket is linked to this decision.", ""]
    return lines + table(
        ("System", "Key", "URL", "Linked"),
        [(t.system, inline(t.key), inline(t.url), when(t.linked_at)) for t in r.tickets],
    )


def _evidence(p: ProbeEvidence | None) -> list[str]:
    lines = [f"## {HEADINGS['evidence']}", ""]
    if p is None:
        return [
            *lines,
            "No probe run of this decision has finished: there is no evidence of the buckets' state.",
            "",
        ]
    lines += facts_list(
        [
            ("Run", p.run_id),
            ("Target", inline(f"{p.target_title} ({p.target})")),
            ("Account / Region", f"{p.account or '-'} / {p.region or '-'}"),
            ("Checked against", f"{p.option}, version {p.checked_version}"),
            ("Started / finished", f"{when(p.started_at)} / {when(p.finished_at)}"),
        ],
    )
    if p.note:
        lines += [f"> {p.note}", ""]
    lines += [f"**Verdict: {p.verdict}.** {p.verdict_text}", ""]
    lines += table(tuple(p.summary), [tuple(p.summary.values())])
    lines += ["### Compared with the previous run", ""]
    c = p.comparison
    if c is None:
        lines += ["No earlier finished run of this target to compare with.", ""]
    else:
        lines += [
            f"Previous run {c.previous_run_id} (finished {when(c.previous_finished_at)}): "
            f"{c.new} new problems, {c.unchanged} unchanged, {len(c.fixed)} fixed.",
            "",
        ]
        lines += (
            table(
                ("Bucket", "Check", "Was"),
                [(x.bucket, x.check, status_label(x.previous_status)) for x in c.fixed],
            )
            if c.fixed
            else []
        )
    lines += ["### Checks", ""]
    lines += table(
        ("Check", *(status_label(s) for s in p.statuses)),
        [(t.check, *(t.counts[s] for s in p.statuses)) for t in p.checks],
    )
    lines += ["### Findings that need action", ""]
    for g in p.problem_groups:
        count = f"{len(g.buckets):,} bucket{'s' if len(g.buckets) != 1 else ''}"
        new = f", {g.new} new" if p.comparison else ""
        lines += [
            f"#### {g.check}: {status_label(g.status)} ({g.severity}), {count}{new}",
            "",
            inline(g.message),
            "",
            f"Expected {code(g.expected)}, actual {code(g.actual)}.",
            "",
            f"Buckets: {inline(', '.join(g.buckets))}",
            "",
        ]
        lines += [f"Tracked in: {inline('; '.join(g.tickets))}", ""] if g.tickets else []
    if not p.problem_groups:
        lines += ["None.", ""]
    lines += ["### Buckets that need action", ""]
    acting = [b for b in p.buckets if b.needs_action]
    lines += (
        table(
            ("Bucket", "Region", "Status", "Checks that need action"),
            [(b.bucket, b.region, status_label(b.status), b.problems) for b in acting],
        )
        if acting
        else ["None.", ""]
    )
    lines += ["### Buckets with nothing to do", "", ", ".join(p.passed_buckets) or "None.", ""]
    return [
        *lines,
        "Findings that say the same thing are shown once with the buckets they were found on. "
        "Passing and not-applicable findings are counted under Checks; the JSON and CSV reports "
        "list every finding of every bucket with its expected and actual values and its "
        "remediation.",
        "",
    ]


def _audit(a: AuditLog) -> list[str]:
    lines = [f"## {HEADINGS['audit']}", "", f"**{a.chain.summary}**", ""]
    if a.truncated:
        lines += [
            f"The log holds {a.total:,} entries about this decision: the latest "
            f"{len(a.entries):,} are listed, oldest first.",
            "",
        ]
    if not a.entries:
        return [*lines, "The audit log holds no entry about this decision.", ""]
    return lines + table(
        ("Seq", "When", "Who", "What", "Subject", "Before", "After"),
        [
            (
                e.seq,
                when(e.at),
                inline(e.actor),
                e.action,
                inline(e.subject),
                Code(compact_json(e.before)),
                Code(compact_json(e.after)),
            )
            for e in a.entries
        ],
    )


def _integrity(r: Report) -> list[str]:
    return [
        f"## {HEADINGS['integrity']}",
        "",
        f"- Rule set of this version: {r.ruleset.version}, sha256 `{r.ruleset.sha256}`",
        f"- Rule set in force when reporting: {r.ruleset.current_version}, sha256 `{r.ruleset.current_sha256}`"
        + (
            ""
            if r.ruleset.same_as_current
            else " (**different**: re-evaluating may change the outcome)"
        ),
        f"- Generated: {when(r.report.generated_at)} by {r.report.generator}",
        f"- Report digest ({r.digest.algorithm} of the canonical JSON report): `{r.digest.value}`",
        "",
        "Check a copy of the JSON report with `atrest report verify FILE`.",
        "",
    ]


def render_markdown(report: Report) -> bytes:
    """The report as UTF-8 Markdown."""
    lines = [
        *_head(report),
        *_decision(report),
        *_recommendation(report),
        *_answers(report),
        *_options(report),
        *_facts(report),
        *_tickets(report),
        *_evidence(report.probe),
        *_audit(report.audit),
        *_integrity(report),
    ]
    return "\n".join(lines).encode("utf-8")
