"""The audit-trail and object-sample checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from app.probe.checks.context import _Ctx
from app.probe.checks.findings import Finding
from app.probe.models import (
    KeyFacts,
    ObjectFacts,
    Problem,
    TrailFacts,
    UnreadableTrail,
)

Trails = list[TrailFacts | UnreadableTrail]


def _key_regions(ctx: _Ctx) -> tuple[str | None, list[str]]:
    """The Region where the bucket's key is used and the Regions of a multi-Region key's
    related keys."""
    key = ctx.bucket.key
    related = list(key.related_regions) if isinstance(key, KeyFacts) else []
    return ctx.bucket.key_use_region, related


def _trail_gaps(trail: TrailFacts, region: str | None) -> list[str]:
    """What keeps a trail from recording uses of a key in `region`, empty when nothing does."""
    where = None
    if not trail.is_multi_region and (region is None or trail.home_region != region):
        where = f"single-Region in {trail.home_region or 'an unknown Region'}" + (
            f", the key is in {region}" if region else ""
        )
    return [
        text
        for bad, text in (
            (not trail.is_logging, "not logging"),
            (where is not None, where or ""),
            (not trail.management_events, "no management events"),
            (trail.excludes_kms, "excludes KMS events (kms.amazonaws.com)"),
            (
                trail.management_events and not trail.excludes_kms and not trail.logs_read_events,
                "write-only (Decrypt is a read event)",
            ),
        )
        if bad
    ]


def _audit_trail(ctx: _Ctx, trails: Trails | Problem | None) -> Finding:
    """The best verdict any trail proves: pass if one records every use of the key; a warning
    for a single-Region trail when the key is multi-Region; unknown only when no trail proves
    anything and some could not be read; fail otherwise."""
    check = "audit-trail"
    region, related = _key_regions(ctx)
    expected = f"logging trail recording KMS events (reads too) in {region or 'the key Region'}"
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
    readable = [t for t in trails if isinstance(t, TrailFacts)]
    unreadable = [t for t in trails if isinstance(t, UnreadableTrail)]
    covering = [t for t in readable if not _trail_gaps(t, region)]
    whole = [t for t in covering if t.is_multi_region or not related]
    if whole:
        best = whole[0]
        scope = "" if best.is_multi_region else f" (single-Region, {best.home_region})"
        return ctx.finding(
            check,
            "pass",
            expected,
            best.name,
            f"Trail {best.name}{scope} records every use of the key in {region}.",
        )
    not_read = (
        " Not read: "
        + "; ".join(f"{t.name} ({t.problem.code}: {t.problem.message})" for t in unreadable)
        + "."
        if unreadable
        else ""
    )
    if covering:
        best = covering[0]
        return ctx.finding(
            check,
            "warn",
            expected,
            f"{best.name} (single-Region)",
            f"Trail {best.name} records uses of the key in {region} only; the key is "
            f"multi-Region and uses of its related keys in {', '.join(related)} are not "
            f"recorded by it.{not_read}",
            f"aws cloudtrail update-trail --name {best.name} --is-multi-region-trail",
        )
    if unreadable:
        first = unreadable[0]
        names = ", ".join(t.name for t in unreadable)
        found = ctx.problem(check, first.problem, f"the trail(s) {names}", expected)
        if readable:
            gaps = "; ".join(f"{t.name}: {', '.join(_trail_gaps(t, region))}" for t in readable)
            found = replace(found, message=f"{found.message} No readable trail does ({gaps}).")
        return found
    actual = (
        "; ".join(f"{t.name}: {', '.join(_trail_gaps(t, region))}" for t in readable) or "no trail"
    )
    return ctx.finding(
        check,
        "fail",
        expected,
        actual,
        f"No trail records every use of the key in {region} ({actual}): one must be logging, "
        "multi-Region or in the key's Region, with management events (reads too), not "
        "excluding KMS events.",
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
