"""The probe report as a readable terminal table, as SARIF, and as streamed JSON (pure).

Every renderer works one bucket at a time, so the CLI can write a report of any size while
the probe runs, holding one bucket in memory: `probe_text`, `probe_sarif` and
`json.dumps(report)` render a whole report; `stream_text`, `stream_sarif` and `stream_json`
write the same documents piece by piece from a header, the buckets and a late summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from app.probe.checks import CHECK_IDS
from app.probe.checks.findings import STATUSES

Summary = Callable[[], Mapping[str, Any]]
QUIET = ("pass", "not-applicable")


def text_header(header: Mapping[str, Any], width: int) -> list[str]:
    """The table's title lines: what was expected, where, and the column names."""
    target = header["target"]
    return [
        f"Expected: {header['expected']['option']} · account {target['account']} · "
        f"region {target['region']}"
        + (f" · endpoint {target['endpoint_url']}" if target["endpoint_url"] else ""),
        "",
        f"{'bucket':<{width}}  {'status':<7}  findings not passing",
    ]


def text_bucket(b: Mapping[str, Any], width: int) -> list[str]:
    """One bucket's row, then each finding that is not a pass with its remediation."""
    bad = [f for f in b["findings"] if f["status"] not in QUIET]
    names = ", ".join(f"{f['check']} ({f['status']})" for f in bad) or "-"
    lines = [f"{b['bucket']:<{width}}  {b['status']:<7}  {names}"]
    for f in bad:
        lines.append(f"    [{f['status']}] {f['check']}: {f['message']}")
        lines.append(f"        expected {f['expected']}, found {f['actual']}")
        lines.append(f"        fix: {f['remediation']}")
    return lines


#: Unknown buckets named in the summary line at most (the rest are counted).
UNKNOWN_NAMED = 50


def text_summary(s: Mapping[str, Any], unknown: Sequence[str] = ()) -> list[str]:
    """The closing count of buckets per status, naming the buckets that could not be judged
    (`unknown`: not allowed to look), so they are not mistaken for checked ones."""
    line = (
        f"{s['buckets']} buckets: {s['pass']} pass, {s['fail']} fail, {s['unknown']} unknown, "
        f"{s['error']} error, {s.get('warn', 0)} warn"
    )
    if unknown:
        more = len(unknown) - UNKNOWN_NAMED
        line += "; unknown: " + ", ".join(unknown[:UNKNOWN_NAMED])
        line += f" and {more} more" if more > 0 else ""
    return ["", line]


def stream_text(
    header: Mapping[str, Any],
    names: Iterable[str],
    buckets: Iterable[Mapping[str, Any]],
    summary: Summary,
) -> Iterator[str]:
    """The readable report, line by line (`names` sizes the first column)."""
    width = max([len(n) for n in names] + [6])
    unknown: list[str] = []
    yield from text_header(header, width)
    for b in buckets:
        if b["status"] == "unknown":
            unknown.append(str(b["bucket"]))
        yield from text_bucket(b, width)
    yield from text_summary(summary(), unknown)


def probe_text(report: Mapping[str, Any]) -> str:
    """A whole report as the readable table."""
    names = [b["bucket"] for b in report["buckets"]]
    lines = stream_text(report, names, report["buckets"], lambda: report["summary"])
    return "\n".join(lines) + "\n"


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Probe finding status -> SARIF result level; pass and not-applicable are not reported.
SARIF_LEVELS = {"fail": "error", "warn": "warning", "unknown": "note", "error": "error"}
SARIF_RULE_INDEX = {check: i for i, check in enumerate(CHECK_IDS)}


def sarif_results(b: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One SARIF result per finding of the bucket that is not a pass or not-applicable."""
    bucket = b["bucket"]
    for f in b["findings"]:
        level = SARIF_LEVELS.get(f["status"])
        if level is None:
            continue
        text = f["message"] + (f" Fix: {f['remediation']}" if f.get("remediation") else "")
        yield {
            "ruleId": f["check"],
            "ruleIndex": SARIF_RULE_INDEX[f["check"]],
            "level": level,
            "message": {"text": text},
            "locations": [
                {
                    "logicalLocations": [
                        {
                            "name": bucket,
                            "fullyQualifiedName": f"arn:aws:s3:::{bucket}",
                            "kind": "resource",
                        }
                    ]
                }
            ],
            "properties": {
                "bucket": bucket,
                "region": b["region"],
                "expected": f["expected"],
                "actual": f["actual"],
                "severity": f["severity"],
                "status": f["status"],
            },
        }


def sarif_document(header: Mapping[str, Any], results: Any, summary: Any) -> dict[str, Any]:
    """The SARIF 2.1.0 log around `results` (a list, or a placeholder while streaming).

    The rules are every check id of CONTRACT.md in its order, so a result's ruleIndex is known
    before the buckets are.
    """
    rules = [{"id": check, "shortDescription": {"text": check}} for check in CHECK_IDS]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "atrest", "rules": rules}},
                "results": results,
                "properties": {
                    "expected_option": header["expected"]["option"],
                    "target": dict(header["target"]),
                    "summary": summary,
                },
            }
        ],
    }


def probe_sarif(report: Mapping[str, Any]) -> dict[str, Any]:
    """A whole report as a SARIF 2.1.0 log (deterministic): results in report order."""
    results = [r for b in report["buckets"] for r in sarif_results(b)]
    return sarif_document(report, results, dict(report["summary"]))


ITEMS = "\u0000items\u0000"
LATE = "\u0000late\u0000"


def stream_json(
    document: Mapping[str, Any], items: Iterable[Any], late: Callable[[], Any]
) -> Iterator[str]:
    """`json.dumps(document, indent=2)` in pieces, with the list and one value filled late.

    `document` holds the string ITEMS where the streamed list goes and LATE where the value
    known only at the end (a summary) goes. Each item is rendered when it arrives.
    """
    text = json.dumps(document, indent=2)
    head, tail = text.split(json.dumps(ITEMS), 1)
    indent = _indent_before(text, ITEMS)
    inner = indent + "  "
    first = True
    yield head + "["
    for item in items:
        body = json.dumps(item, indent=2).replace("\n", "\n" + inner)
        yield ("\n" if first else ",\n") + inner + body
        first = False
    closing = "]" if first else "\n" + indent + "]"
    late_text = json.dumps(late(), indent=2).replace("\n", "\n" + _indent_before(tail, LATE))
    yield closing + tail.replace(json.dumps(LATE), late_text) + "\n"


def _indent_before(text: str, marker: str) -> str:
    """The indentation of the line on which `marker` (as JSON) appears in `text`."""
    line = text[: text.index(json.dumps(marker))].rsplit("\n", 1)[-1]
    return " " * (len(line) - len(line.lstrip(" ")))


DEFAULT_FAIL_ON = "fail,error"


def parse_fail_on(text: str) -> frozenset[str]:
    """The statuses of `--fail-on` ("fail,error"): comma-separated, spaces and case ignored.

    Raises:
        ValueError: naming the value that is not a finding status, or when none is given.
    """
    given = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in given if part not in STATUSES]
    if unknown:
        raise ValueError(
            f"unknown status {', '.join(repr(u) for u in unknown)} (known: {', '.join(STATUSES)})"
        )
    if not given:
        raise ValueError(f"names no status (known: {', '.join(STATUSES)})")
    return frozenset(given)


def fails_on(bucket: Mapping[str, Any], statuses: frozenset[str]) -> bool:
    """Whether a bucket (as the probe JSON shows it) or one of its findings has such a status."""
    return bucket["status"] in statuses or any(f["status"] in statuses for f in bucket["findings"])
