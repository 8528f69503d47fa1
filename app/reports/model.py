"""The report model: everything an auditor's report shows, assembled once from a decision
version (build.py) and rendered by every format (markdown.py, json_report.py, csv_report.py,
pdf.py) without computing anything more.

Times are timezone-aware UTC. The model is also the JSON report's schema
(app/reports/report.schema.json is generated from it: see `report_schema`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Bumped when a field is renamed or removed (adding one keeps the number).
REPORT_FORMAT = 1
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")


class Part(BaseModel):
    """Base of every part of the report: no unknown fields, never changed after assembly."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )


class ReportInfo(Part):
    """What generated the report and when, and the fact age limit it applied."""

    format: int = REPORT_FORMAT
    generator: str
    generated_at: dt.datetime
    fact_max_age_days: int


class DecisionInfo(Part):
    """The decision record and the version the report is about."""

    id: int
    title: str
    description: str | None
    owner: str | None
    status: str = Field(description="the decision's status today")
    scope: dict[str, Any]
    scope_lines: list[str] = Field(description="the scope as 'accounts: a, b' lines")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = Field(description="the version this report is about")
    latest_version: int
    version_created_at: dt.datetime
    version_note: str | None
    superseded: bool = Field(description="a later version exists")


class RuleSetInfo(Part):
    """The rule set a version was evaluated with, and the one in force when reporting."""

    version: str
    sha256: str
    current_version: str
    current_sha256: str
    same_as_current: bool


class ApprovalStep(Part):
    """One approval step: propose, approve or reject; who, when, on which version, why."""

    version: int
    action: Literal["propose", "approve", "reject"]
    actor: str
    at: dt.datetime
    comment: str | None
    ruleset_version: str
    ruleset_sha256: str
    for_this_version: bool


class Approvals(Part):
    """The decision's approval trail and the approval in force for the reported version."""

    in_force: ApprovalStep | None = Field(
        description="the approve step in force for this version, if any"
    )
    summary: str
    steps: list[ApprovalStep]


class QuestionAnswer(Part):
    """One question of the questionnaire with the answer the version holds."""

    id: str
    text: str
    answer: bool | str | list[str] | None
    answer_text: str
    is_default: bool = Field(description="the answer is the question's 'no requirement' default")


class Recommendation(Part):
    """The recommended option, the configuration to apply and why."""

    option: str
    title: str
    configuration: dict[str, Any]
    configuration_json: str = Field(description="the configuration as indented JSON text")
    rationale: list[str]


class Ranked(Part):
    """One option of the ranking (best first)."""

    position: int
    option: str
    title: str
    score: float


class ExclusionReason(Part):
    """Why a rule excluded an option."""

    rule: str
    question: str
    text: str
    facts: list[str]


class Excluded(Part):
    """An option a hard requirement ruled out."""

    option: str
    title: str
    reasons: list[ExclusionReason]


class ConflictSet(Part):
    """Answers that cannot hold together (no option meets them all)."""

    questions: list[str]
    text: str


class Caveat(Part):
    """A caveat of the recommendation."""

    id: str
    text: str


class Fact(Part):
    """A sourced, dated fact the outcome rests on, with how fresh it is.

    Freshness is judged by ``checked`` (when the source was last confirmed to state the fact),
    not by ``as_of`` (when the fact became true): a fact true since 2020 and confirmed last
    month is current.
    """

    id: str
    text: str
    source: str
    as_of: dt.date = Field(description="when the fact became true (or the date of its source)")
    checked: dt.date | None = Field(
        description="when someone last confirmed that the source states the fact; null when "
        "never confirmed, or when the decision was evaluated under a rule set that did not "
        "record it"
    )
    verified: bool
    age_days: int | None = Field(
        description="days from checked to the report's generation; null when never checked"
    )
    stale: bool = Field(
        description="not checked within report.fact_max_age_days days (or never checked)"
    )
    marks: list[str] = Field(
        description="'unverified', 'not checked for more than N days' and/or 'check date not recorded'"
    )


class Ticket(Part):
    """A ticket linked to the decision or to a finding."""

    system: str
    key: str
    url: str
    linked_at: dt.datetime


class Finding(Part):
    """One check's verdict on one bucket, with its change since the previous run."""

    check: str
    status: str
    severity: str
    expected: str
    actual: str
    message: str
    remediation: str
    needs_action: bool = Field(description="fail, warn, unknown or error")
    change: Literal["new", "unchanged"] | None = Field(
        description="for a finding that needs action: since the previous run"
    )
    tickets: list[Ticket]


class Bucket(Part):
    """One bucket of the run, its status (the worst finding) and findings."""

    bucket: str
    region: str
    status: str
    key_arn: str | None
    needs_action: bool
    problems: str = Field(description="the checks that need action, as 'check (status)' text")
    findings: list[Finding]


class CheckTally(Part):
    """How one check came out over every bucket of the run."""

    check: str
    counts: dict[str, int] = Field(description="findings per status, every status present")


class ProblemGroup(Part):
    """Findings that need action and say the same thing (check, status, expected, actual,
    message), with the buckets they were found on."""

    check: str
    status: str
    severity: str
    expected: str
    actual: str
    message: str
    buckets: list[str]
    new: int = Field(description="how many of these are new since the previous run")
    tickets: list[str] = Field(description="'bucket: KEY' of the tickets tracking them")


class Fixed(Part):
    """A problem of the previous run that this run no longer finds."""

    bucket: str
    check: str
    previous_status: str


class Comparison(Part):
    """The run compared with the previous finished run of the same decision and target."""

    previous_run_id: int
    previous_finished_at: dt.datetime | None
    new: int
    unchanged: int
    fixed: list[Fixed]


class ProbeEvidence(Part):
    """The latest finished probe run of the decision: target, time, findings, summary."""

    run_id: int
    target: str
    target_title: str
    account: str | None
    region: str | None
    option: str
    checked_version: int
    note: str | None = Field(description="set when the run checked another version")
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    summary: dict[str, int]
    verdict: Literal["compliant", "not compliant", "incomplete"]
    verdict_text: str
    statuses: list[str] = Field(description="the finding statuses, in column order")
    checks: list[CheckTally]
    buckets: list[Bucket] = Field(description="worst status first, then by name")
    passed_buckets: list[str] = Field(description="names of the buckets with nothing to do")
    problem_groups: list[ProblemGroup] = Field(
        description="the findings that need action, alike ones together, worst first"
    )
    comparison: Comparison | None


class AuditEntry(Part):
    """One entry of the audit log about the decision: who changed what, when, before and after."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str = Field(description="the entry's hash in the log's chain")


class ChainStatus(Part):
    """Whether the whole audit log (every decision's entries) verified when the report was
    generated, and the head of its chain."""

    ok: bool
    checked: int = Field(description="how many entries were checked")
    first_bad_seq: int | None = Field(description="the first entry that failed, if any")
    reason: str | None = Field(description="why it failed, if it did")
    head_hash: str = Field(description="the hash of the last entry (the head of the chain)")
    summary: str = Field(description="the outcome as a sentence")


class AuditLog(Part):
    """The decision's entries in the audit log, oldest first, and the chain's status."""

    total: int = Field(description="how many entries the log holds about the decision")
    limit: int = Field(description="at most this many entries are listed: the latest ones")
    truncated: bool = Field(description="older entries were left out (total > limit)")
    entries: list[AuditEntry] = Field(description="the latest `limit` entries, oldest first")
    chain: ChainStatus


class Digest(Part):
    """The SHA-256 of the report's canonical JSON without `value` itself (see digest.py)."""

    algorithm: Literal["sha256"] = "sha256"
    value: str = Field(pattern=r"^[0-9a-f]{64}$")
    canonicalization: str = "JSON, keys sorted, no whitespace, UTF-8, without digest.value"


class Report(Part):
    """An auditor's report of one decision version."""

    report: ReportInfo
    decision: DecisionInfo
    ruleset: RuleSetInfo
    approvals: Approvals
    questions: list[QuestionAnswer]
    recommendation: Recommendation | None
    ranking: list[Ranked]
    excluded: list[Excluded]
    conflicts: list[ConflictSet]
    warnings: list[Caveat]
    facts: list[Fact]
    tickets: list[Ticket]
    probe: ProbeEvidence | None
    audit: AuditLog
    digest: Digest


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report, as generated from the model."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_schema(path: Path = SCHEMA_FILE) -> None:
    """Write the generated schema to app/reports/report.schema.json."""
    path.write_text(json.dumps(report_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
