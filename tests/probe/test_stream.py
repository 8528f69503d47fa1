"""The probe as a stream: buckets in order, bounded work in flight, flat memory, roles.

The memory tests drive ProbeStream and the streamed renderers with a synthetic check (no AWS:
what is measured is the runner's and the renderers' own holding on to buckets); the role test
runs the real probe against moto.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from app.advisor.loader import load_ruleset
from app.probe.checks import STATUS_ORDER, Finding
from app.probe.render import (
    ITEMS,
    LATE,
    UNKNOWN_NAMED,
    fails_on,
    parse_fail_on,
    probe_text,
    stream_json,
    stream_text,
)
from app.probe.runner import BucketReport, ProbeStream, Target, run_probe, start_probe
from tests.probe.conftest import REGION


def synthetic_check(in_flight: list[int], peak: list[int]) -> Callable[[str], BucketReport]:
    lock = threading.Lock()

    def check(name: str) -> BucketReport:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        status = "fail" if name.endswith("7") else "pass"
        finding = Finding(
            check="default-encryption",
            status=status,
            severity="high",
            expected="aws:kms",
            actual="AES256" if status == "fail" else "aws:kms",
            message=f"{name} checked",
            remediation="Nothing to change.",
        )
        with lock:
            in_flight[0] -= 1
        return BucketReport(bucket=name, region=REGION, status=status, findings=(finding,))

    return check


def make_stream(names: list[str], concurrency: int = 8) -> tuple[ProbeStream, list[int]]:
    in_flight, peak = [0], [0]
    stream = ProbeStream(
        option="sse-kms-cmk",
        configuration={},
        target={"endpoint_url": None, "region": REGION, "account": "123456789012"},
        names=names,
        check=synthetic_check(in_flight, peak),
        concurrency=concurrency,
    )
    return stream, peak


def test_buckets_come_in_name_order_with_a_running_summary() -> None:
    names = [f"b{i:05d}" for i in range(500)]
    stream, _ = make_stream(names)
    seen = [r.bucket for r in stream]
    assert seen == names
    assert stream.summary() == {
        "buckets": 500,
        "pass": 450,
        "fail": 50,
        "unknown": 0,
        "error": 0,
        "warn": 0,
    }


def test_stopping_early_checks_only_a_bounded_window_more() -> None:
    names = [f"b{i:05d}" for i in range(10_000)]
    calls: list[str] = []
    stream, _ = make_stream(names, concurrency=4)
    real = stream._check
    stream._check = lambda n: (calls.append(n), real(n))[1]
    for i, _report in enumerate(stream):
        if i == 9:
            break
    assert len(calls) <= 10 + 4 * 4


def peak_bytes_streaming(count: int) -> int:
    """Peak traced memory while streaming `count` buckets as JSON to a sink that keeps nothing."""
    names = [f"bucket-{i:06d}" for i in range(count)]
    stream, _ = make_stream(names)
    tracemalloc.start()
    try:
        document = {**stream.header(), "buckets": ITEMS, "summary": LATE}
        written = 0
        for piece in stream_json(document, (r.to_json() for r in stream), stream.summary):
            written += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written > count * 100
    return peak


def test_memory_stays_flat_from_2_000_to_20_000_buckets() -> None:
    small = peak_bytes_streaming(2_000)
    large = peak_bytes_streaming(20_000)
    # Ten times the buckets: the peak may wobble, it must not grow with the count.
    assert large < small * 1.5 + 256 * 1024, (small, large)
    assert large < 8 * 1024 * 1024


def test_streamed_json_and_text_equal_the_whole_report_renderings() -> None:
    names = [f"b{i:03d}" for i in range(40)]
    stream, _ = make_stream(names)
    document = {**stream.header(), "buckets": ITEMS, "summary": LATE}
    streamed = "".join(stream_json(document, (r.to_json() for r in stream), stream.summary))
    report = json.loads(streamed)
    assert streamed == json.dumps(report, indent=2) + "\n"
    again, _ = make_stream(names)
    lines = stream_text(again.header(), names, (r.to_json() for r in again), again.summary)
    assert "\n".join(lines) + "\n" == probe_text(report)


ROLE = "arn:aws:iam::111122223333:role/atrest-audit"


def test_a_target_with_a_role_probes_as_the_role(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    setup_client("s3").create_bucket(
        Bucket="role-visible", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    configuration = dict(load_ruleset().options["sse-s3"].configuration)
    target = Target(endpoint_url=moto, region=REGION, role_arn=ROLE, external_id="atrest-x")
    stream = start_probe(option="sse-s3", configuration=configuration, target=target)
    assert stream.target["account"] == "111122223333"
    report = run_probe(
        option="sse-s3", configuration=configuration, target=target, buckets=["role-visible"]
    )
    assert [b["bucket"] for b in report["buckets"]] == ["role-visible"]


def _report(statuses: dict[str, str]) -> dict[str, Any]:
    """A probe JSON of buckets with these statuses (one finding each)."""
    buckets = [
        {
            "bucket": name,
            "region": REGION,
            "status": status,
            "findings": [
                {
                    "check": "tls-only",
                    "status": status,
                    "severity": "medium",
                    "expected": "-",
                    "actual": "-",
                    "message": "-",
                    "remediation": "-",
                }
            ],
        }
        for name, status in statuses.items()
    ]
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in STATUS_ORDER}
    return {
        "expected": {"option": "sse-kms-cmk", "configuration": {}},
        "target": {"endpoint_url": None, "region": REGION, "account": "123456789012"},
        "buckets": buckets,
        "summary": {"buckets": len(buckets), **counts},
    }


def test_the_summary_line_names_the_unknown_buckets() -> None:
    report = _report({"a-ok": "pass", "b-hidden": "unknown", "c-bad": "fail", "d-dark": "unknown"})
    last = probe_text(report).rstrip("\n").rsplit("\n", 1)[-1]
    assert last == (
        "4 buckets: 1 pass, 1 fail, 2 unknown, 0 error, 0 warn; unknown: b-hidden, d-dark"
    )


def test_the_summary_line_names_at_most_fifty_unknown_buckets() -> None:
    report = _report({f"u-{i:03d}": "unknown" for i in range(UNKNOWN_NAMED + 3)})
    last = probe_text(report).rstrip("\n").rsplit("\n", 1)[-1]
    assert "u-049" in last and "u-050" not in last
    assert last.endswith("and 3 more")


def test_without_unknown_buckets_the_summary_line_is_unchanged() -> None:
    last = probe_text(_report({"a-ok": "pass"})).rstrip("\n").rsplit("\n", 1)[-1]
    assert last == "1 buckets: 1 pass, 0 fail, 0 unknown, 0 error, 0 warn"


def test_fail_on_statuses() -> None:
    assert parse_fail_on("fail,error") == {"fail", "error"}
    assert parse_fail_on(" Unknown ,not-applicable,") == {"unknown", "not-applicable"}
    for bad in ("fail,warning", "", " , "):
        with pytest.raises(ValueError):
            parse_fail_on(bad)
    bucket = _report({"x": "warn"})["buckets"][0]
    assert fails_on(bucket, frozenset({"warn"}))
    assert not fails_on(bucket, frozenset({"fail", "error"}))
