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
