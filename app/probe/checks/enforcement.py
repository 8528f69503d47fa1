"""The bucket policy checks: encryption-enforced and tls-only."""

from __future__ import annotations

import json

from app.probe.checks.context import _Ctx
from app.probe.checks.findings import Finding
from app.probe.models import KeyFacts, Problem
from app.probe.policy import (
    KMS_KEY_HEADER,
    SSE_C,
    WriteEnforcement,
    denies_insecure_transport,
    write_enforcement,
)

#: Stands for a customer key the probe could not identify: it matches no key condition.
_UNIDENTIFIED_KEY = "arn:aws:kms:-:-:key/unidentified"


def _policy_cli(ctx: _Ctx, condition: str, action: str) -> str:
    """A remediation naming the Deny statement to add to the bucket policy.

    A deny of every action (`s3:*`, the TLS deny) names the bucket as well as its objects, as
    AWS's example does, so bucket-level requests over plain HTTP are denied too.
    """
    objects = f"arn:aws:s3:::{ctx.bucket.name}/*"
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": [f"arn:aws:s3:::{ctx.bucket.name}", objects] if action == "s3:*" else objects,
        "Condition": json.loads(condition),
    }
    return (
        "Add this statement to the bucket policy (aws s3api put-bucket-policy --bucket "
        f"{ctx.bucket.name} --policy file://policy.json): {json.dumps(statement)}"
    )


def _encryption_enforced(ctx: _Ctx) -> Finding:
    check = "encryption-enforced"
    header = str(ctx.exp.policy.get("required_encryption_header", ctx.exp.algorithm))
    if not ctx.exp.policy.get("deny_unencrypted_writes"):
        return ctx.finding(check, "not-applicable", "-", "-", "The option does not require it.")
    key_arn = ctx.bucket.key.arn if isinstance(ctx.bucket.key, KeyFacts) else None
    pin_key = (ctx.exp.kms_key or {}).get("KeyManager") == "CUSTOMER" and ctx.exp.uses_kms
    expected = f"deny PutObject without {header}" + (" and the bucket's key" if pin_key else "")
    if isinstance(ctx.bucket.policy, Problem):
        return ctx.problem(check, ctx.bucket.policy, "the bucket policy", expected)
    policy = ctx.bucket.policy.policy
    level = write_enforcement(
        policy,
        required_header=header,
        # A key that could not be identified matches no key condition: only the algorithm
        # can then be proved.
        key_arn=(key_arn or _UNIDENTIFIED_KEY) if pin_key else None,
        bucket=ctx.bucket.name,
    )
    if header == SSE_C:
        condition = '{"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}'
    elif pin_key:
        condition = json.dumps(
            {"StringNotEquals": {KMS_KEY_HEADER: key_arn or "<the bucket's key ARN>"}}
        )
    else:
        condition = f'{{"StringNotEquals": {{"s3:x-amz-server-side-encryption": "{header}"}}}}'
    remedy = _policy_cli(ctx, condition, "s3:PutObject")
    if level is WriteEnforcement.VALUE:
        what = f"{header} with the bucket's key {key_arn}" if pin_key else header
        return ctx.finding(
            check, "pass", expected, "denied", f"The bucket policy denies writes without {what}."
        )
    if level is WriteEnforcement.ALGORITHM:
        unknown = "" if key_arn else " (the bucket's key could not be identified to compare)"
        return ctx.finding(
            check,
            "warn",
            expected,
            f"{header} required, any key",
            f"The bucket policy requires {header} but not the bucket's key{unknown}: a writer can "
            "name aws:kms without a key id (S3 then uses the AWS managed key aws/s3) or with "
            f"another key, another account's included. Deny writes whose {KMS_KEY_HEADER} is "
            "not the bucket's key.",
            remedy,
        )
    if level is WriteEnforcement.PRESENCE:
        return ctx.finding(
            check,
            "warn",
            expected,
            "header required, any value",
            f"The bucket policy denies writes without an encryption header but accepts any algorithm, not only {header}.",
            remedy,
        )
    actual = "no bucket policy" if policy is None else "not denied"
    return ctx.finding(
        check,
        "fail",
        expected,
        actual,
        f"Nothing in the bucket policy denies writes without {header}.",
        remedy,
    )


def _tls_only(ctx: _Ctx) -> Finding:
    check, expected = "tls-only", "deny aws:SecureTransport false"
    if not ctx.exp.policy.get("deny_insecure_transport"):
        return ctx.finding(check, "not-applicable", "-", "-", "The option does not require it.")
    if isinstance(ctx.bucket.policy, Problem):
        return ctx.problem(check, ctx.bucket.policy, "the bucket policy", expected)
    policy = ctx.bucket.policy.policy
    if denies_insecure_transport(policy, bucket=ctx.bucket.name):
        return ctx.finding(
            check, "pass", expected, "denied", "The bucket policy denies requests without TLS."
        )
    return ctx.finding(
        check,
        "fail",
        expected,
        "no bucket policy" if policy is None else "not denied",
        "Nothing in the bucket policy denies reads and writes over plain HTTP.",
        _policy_cli(ctx, '{"Bool": {"aws:SecureTransport": "false"}}', "s3:*"),
    )
