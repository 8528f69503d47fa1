"""The default-encryption, bucket-key and sse-c-blocked checks."""

from __future__ import annotations

from app.probe.checks.context import _Ctx, _effective_rule
from app.probe.checks.findings import Finding
from app.probe.models import Problem
from app.probe.policy import SSE_C


def _default_encryption(ctx: _Ctx) -> Finding:
    check, expected = "default-encryption", ctx.exp.algorithm
    encryption = ctx.bucket.encryption
    if isinstance(encryption, Problem):
        return ctx.problem(check, encryption, "the default encryption", expected)
    rule, others = _effective_rule(encryption)
    actual = rule.sse_algorithm
    implied = not encryption.explicit or not any(r.sse_algorithm for r in encryption.rules)
    note = (
        " The bucket has no explicit default encryption: S3 encrypts new objects with SSE-S3 "
        "(AES256) by default since 2023-01-05."
        if implied
        else ""
    )
    if actual != expected:
        return ctx.finding(
            check,
            "fail",
            expected,
            actual,
            f"Default encryption is {actual}; {ctx.exp.option} expects {expected}.{note}",
            ctx.encryption_cli(),
        )
    disagree = [a for a in others if a != actual]
    if disagree:
        return ctx.finding(
            check,
            "warn",
            expected,
            actual,
            f"The first rule uses {actual} as expected, but later rules say "
            f"{', '.join(disagree)}; S3 applies the first. Keep a single rule.",
            ctx.encryption_cli(),
        )
    return ctx.finding(check, "pass", expected, actual, f"Default encryption is {actual}.{note}")


def _bucket_key(ctx: _Ctx) -> Finding:
    check = "bucket-key"
    wanted = ctx.exp.rule.get("BucketKeyEnabled")
    if wanted is None or not ctx.exp.uses_kms:
        return ctx.finding(
            check, "not-applicable", "-", "-", "Not applicable: Bucket Keys only apply to SSE-KMS."
        )
    expected = str(bool(wanted)).lower()
    encryption = ctx.bucket.encryption
    if isinstance(encryption, Problem):
        return ctx.problem(check, encryption, "the default encryption", expected)
    rule, _ = _effective_rule(encryption)
    actual = str(bool(rule.bucket_key_enabled)).lower()
    if actual == expected:
        return ctx.finding(check, "pass", expected, actual, f"BucketKeyEnabled is {actual}.")
    why = (
        "DSSE-KMS does not support Bucket Keys."
        if ctx.exp.algorithm == "aws:kms:dsse"
        else f"{ctx.exp.option} expects {expected}."
    )
    return ctx.finding(
        check,
        "fail",
        expected,
        actual,
        f"BucketKeyEnabled is {actual}; {why}",
        ctx.encryption_cli(),
    )


def _sse_c_blocked(ctx: _Ctx) -> Finding:
    check = "sse-c-blocked"
    wanted = ctx.exp.blocked
    if wanted is None:
        return ctx.finding(check, "not-applicable", "-", "-", "The option does not say.")
    block = SSE_C in wanted
    expected = "SSE-C blocked" if block else "SSE-C allowed (NONE)"
    encryption = ctx.bucket.encryption
    if isinstance(encryption, Problem):
        return ctx.problem(check, encryption, "the default encryption", expected)
    stated = [
        r.blocked_encryption_types
        for r in encryption.rules
        if r.blocked_encryption_types is not None
    ]
    if not stated:
        consequence = (
            "set it explicitly so old buckets and exempt Regions block SSE-C too"
            if block
            else "SSE-C writes may be refused with 403; set NONE explicitly"
        )
        return ctx.finding(
            check,
            "warn",
            expected,
            "not reported",
            "GetBucketEncryption returned no BlockedEncryptionTypes. Since 2026-04-06 S3 blocks "
            "SSE-C by default on new general purpose buckets (and existing ones in accounts with "
            f"no SSE-C objects), but not on every bucket; {consequence}.",
            ctx.encryption_cli(),
        )
    blocked = any(SSE_C in types for types in stated)
    actual = "SSE-C blocked" if blocked else "SSE-C allowed"
    if blocked == block:
        return ctx.finding(
            check, "pass", expected, actual, f"{actual}, as {ctx.exp.option} expects."
        )
    message = (
        "SSE-C is not blocked: anyone allowed to write can store objects under keys S3 cannot manage."
        if block
        else "SSE-C is blocked, so writes with customer-provided keys get 403."
    )
    return ctx.finding(check, "fail", expected, actual, message, ctx.encryption_cli())
