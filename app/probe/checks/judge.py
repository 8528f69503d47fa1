"""check_bucket: every check of CONTRACT.md on one bucket, in CHECK_IDS order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.probe.checks.context import _Ctx, _Expected
from app.probe.checks.encryption import _bucket_key, _default_encryption, _sse_c_blocked
from app.probe.checks.enforcement import _encryption_enforced, _tls_only
from app.probe.checks.findings import Finding
from app.probe.checks.keys import _key_manager, _key_origin, _key_rotation, _key_state
from app.probe.checks.trail_objects import _audit_trail, _object_sample
from app.probe.models import BucketFacts, Problem, TrailFacts, UnreadableTrail


def check_bucket(
    bucket: BucketFacts,
    *,
    expected: Mapping[str, Any],
    option: str,
    trails: list[TrailFacts | UnreadableTrail] | Problem | None,
) -> list[Finding]:
    """Judge one bucket against an option's expected configuration.

    Args:
        bucket: The facts collected about the bucket.
        expected: The option's `configuration` (as in rules/options.yaml, after configure.yaml).
        option: The option's id, quoted in messages.
        trails: The trails that record events of the key's Region (each read, or why not),
            why they could not be listed, or None when they were not collected.

    Returns:
        One finding per check id of CONTRACT.md, in CHECK_IDS order.
    """
    ctx = _Ctx(bucket, _Expected.parse(expected, option))
    return [
        _default_encryption(ctx),
        _key_manager(ctx),
        _key_origin(ctx),
        _key_state(ctx),
        _key_rotation(ctx),
        _bucket_key(ctx),
        _sse_c_blocked(ctx),
        _encryption_enforced(ctx),
        _tls_only(ctx),
        _audit_trail(ctx, trails),
        _object_sample(ctx),
    ]
