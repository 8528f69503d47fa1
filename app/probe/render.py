"""The probe report as a readable terminal table (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def probe_text(report: Mapping[str, Any]) -> str:
    """Buckets with their status, then each finding that is not a pass, with its remediation."""
    target = report["target"]
    lines = [
        f"Expected: {report['expected']['option']} · account {target['account']} · "
        f"region {target['region']}"
        + (f" · endpoint {target['endpoint_url']}" if target["endpoint_url"] else ""),
        "",
    ]
    width = max([len(b["bucket"]) for b in report["buckets"]] + [6])
    lines.append(f"{'bucket':<{width}}  {'status':<7}  findings not passing")
    for b in report["buckets"]:
        bad = [f for f in b["findings"] if f["status"] not in ("pass", "not-applicable")]
        names = ", ".join(f"{f['check']} ({f['status']})" for f in bad) or "-"
        lines.append(f"{b['bucket']:<{width}}  {b['status']:<7}  {names}")
    for b in report["buckets"]:
        bad = [f for f in b["findings"] if f["status"] not in ("pass", "not-applicable")]
        if not bad:
            continue
        lines += ["", f"{b['bucket']} ({b['region']}):"]
        for f in bad:
            lines.append(f"  [{f['status']}] {f['check']}: {f['message']}")
            lines.append(f"      expected {f['expected']}, found {f['actual']}")
            lines.append(f"      fix: {f['remediation']}")
    s = report["summary"]
    lines += [
        "",
        f"{s['buckets']} buckets: {s['pass']} pass, {s['fail']} fail, {s['unknown']} unknown, "
        f"{s['error']} error, {s.get('warn', 0)} warn",
    ]
    return "\n".join(lines) + "\n"


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Probe finding status -> SARIF result level; pass and not-applicable are not reported.
SARIF_LEVELS = {"fail": "error", "warn": "warning", "unknown": "note", "error": "error"}


def probe_sarif(report: Mapping[str, Any]) -> dict[str, Any]:
    """The probe report as a SARIF 2.1.0 log (pure, deterministic).

    One rule per check id present in the report (sorted), one result per finding that is not a
    pass or not-applicable, in report order, located at the bucket's ARN.
    """
    checks = sorted({f["check"] for b in report["buckets"] for f in b["findings"]})
    index = {check: i for i, check in enumerate(checks)}
    results: list[dict[str, Any]] = []
    for b in report["buckets"]:
        bucket = b["bucket"]
        for f in b["findings"]:
            level = SARIF_LEVELS.get(f["status"])
            if level is None:
                continue
            text = f["message"] + (f" Fix: {f['remediation']}" if f.get("remediation") else "")
            results.append(
                {
                    "ruleId": f["check"],
                    "ruleIndex": index[f["check"]],
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
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "atrest",
                        "rules": [
                            {"id": check, "shortDescription": {"text": check}} for check in checks
                        ],
                    }
                },
                "results": results,
                "properties": {
                    "expected_option": report["expected"]["option"],
                    "target": dict(report["target"]),
                    "summary": dict(report["summary"]),
                },
            }
        ],
    }
