"""The audit-trail and object-sample checks."""

from __future__ import annotations

from collections import Counter

from app.probe.checks.context import _Ctx
from app.probe.checks.findings import Finding
from app.probe.models import KeyFacts, ObjectFacts, Problem, TrailFacts


def _trail_gaps(trail: TrailFacts) -> list[str]:
    """What keeps a trail from recording key use, empty when nothing does."""
    gaps = [
        text
        for bad, text in (
            (not trail.is_logging, "not logging"),
            (not trail.is_multi_region, "single-Region"),
            (not trail.management_events, "no management events"),
            (trail.excludes_kms, "excludes kms.amazonaws.com"),
            (trail.logs_read_events is False, "write-only (Decrypt is a read event)"),
        )
        if bad
    ]
    return gaps


def _audit_trail(ctx: _Ctx, trails: list[TrailFacts] | Problem | None) -> Finding:
    check, expected = "audit-trail", "logging multi-Region trail recording KMS events"
    if not ctx.exp.audit:
        return ctx.finding(
            check,
            "not-applicable",
            "-",
            "-",
            "The decision does not require a key-use audit trail.",
        )
    if trails is None:
        trails = Problem(
            status="unknown",
            action="cloudtrail:DescribeTrails",
            code="NotCollected",
            message="trails were not collected",
        )
    if isinstance(trails, Problem):
        return ctx.problem(check, trails, "the CloudTrail trails", expected)
    good = [t.name for t in trails if not _trail_gaps(t)]
    if good:
        return ctx.finding(
            check, "pass", expected, good[0], f"Trail {good[0]} records every KMS key use."
        )
    actual = "; ".join(f"{t.name}: {', '.join(_trail_gaps(t))}" for t in trails) or "no trail"
    return ctx.finding(
        check,
        "fail",
        expected,
        actual,
        f"No trail records every key use ({actual}): one must be logging, multi-Region, with "
        "management events, not excluding kms.amazonaws.com.",
        "aws cloudtrail create-trail --name atrest-audit --s3-bucket-name <log bucket> "
        "--is-multi-region-trail && aws cloudtrail start-logging --name atrest-audit "
        "(or remove kms.amazonaws.com from ExcludeManagementEventSources with put-event-selectors)",
    )


def _object_actual(obj: ObjectFacts) -> str:
    """How one object is encrypted, in a word."""
    if obj.client_side_envelope:
        return "client-side"
    if obj.sse_customer_algorithm:
        return "SSE-C"
    return obj.server_side_encryption or "none"


def _object_ok(ctx: _Ctx, obj: ObjectFacts, key_arn: str | None) -> bool:
    """Whether one sampled object is encrypted as the option expects."""
    if ctx.exp.client_side:
        return obj.client_side_envelope
    if ctx.exp.sse_c:
        return bool(obj.sse_customer_algorithm)
    if obj.server_side_encryption != ctx.exp.algorithm:
        return False
    return key_arn is None or obj.sse_kms_key_id in (None, key_arn)


def _object_sample(ctx: _Ctx) -> Finding:
    check = "object-sample"
    exp = ctx.exp
    expected = "client-side" if exp.client_side else ("SSE-C" if exp.sse_c else exp.algorithm)
    objects = ctx.bucket.objects
    if isinstance(objects, Problem):
        return ctx.problem(check, objects, "the sampled objects", expected)
    if not objects:
        return ctx.finding(check, "not-applicable", expected, "-", "No objects were sampled.")
    key = ctx.bucket.key
    customer = (exp.kms_key or {}).get("KeyManager") == "CUSTOMER"
    key_arn = key.arn if isinstance(key, KeyFacts) and customer and exp.uses_kms else None
    bad = [o for o in objects if not _object_ok(ctx, o, key_arn)]
    counts = Counter(_object_actual(o) for o in objects)
    actual = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
    if not bad:
        return ctx.finding(
            check, "pass", expected, actual, f"All {len(objects)} sampled objects match."
        )
    names = ", ".join(f"{o.key} ({_object_actual(o)})" for o in bad[:5])
    return ctx.finding(
        check,
        "fail",
        expected,
        actual,
        f"{len(bad)} of {len(objects)} sampled objects are not encrypted as expected: {names}.",
        f"Re-encrypt them: aws s3 cp s3://{ctx.bucket.name}/<key> s3://{ctx.bucket.name}/<key> "
        f"--sse {exp.algorithm} (or UpdateObjectEncryption for SSE-S3 to SSE-KMS); client-side "
        "and SSE-C objects must be rewritten by the application.",
    )
