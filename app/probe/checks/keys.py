"""The kms-key-manager, kms-key-origin, kms-key-state and kms-key-rotation checks."""

from __future__ import annotations

from app.probe.checks.context import _Ctx, _effective_rule, _is_aws_managed_ref
from app.probe.checks.findings import NOTHING_TO_DO, Finding, Status
from app.probe.models import KeyFacts, KeyNotFound, Problem

#: aws:kms without a key id: the AWS managed key aws/s3, which cannot be disabled.
_AWS_S3_KEY = KeyFacts(
    key_id="alias/aws/s3",
    arn="alias/aws/s3",
    account="",
    key_manager="AWS",
    origin="AWS_KMS",
    key_state="Enabled",
    key_spec="SYMMETRIC_DEFAULT",
)


def _key_for(ctx: _Ctx, check: str, expected: str) -> KeyFacts | Finding:
    """The key behind the bucket, or the finding that ends the check without one."""
    if not ctx.exp.uses_kms:
        why = (
            "the application's wrapping key is used client-side and is not visible from the bucket"
            if ctx.exp.client_side
            else "the option uses no KMS key for server-side encryption"
        )
        return ctx.finding(check, "not-applicable", expected, "-", f"Not applicable: {why}.")
    encryption = ctx.bucket.encryption
    if isinstance(encryption, Problem):
        return ctx.problem(check, encryption, "the default encryption (to find its key)", expected)
    rule, _ = _effective_rule(encryption)
    if not rule.sse_algorithm.startswith("aws:kms"):
        status: Status = (
            "fail" if check in ("kms-key-manager", "kms-key-origin") else "not-applicable"
        )
        return ctx.finding(
            check,
            status,
            expected,
            "no KMS key",
            f"The bucket encrypts with {rule.sse_algorithm}, so no KMS key is involved; "
            f"{ctx.exp.option} expects one.",
            ctx.encryption_cli() if status == "fail" else NOTHING_TO_DO,
        )
    key = ctx.bucket.key
    aws_managed = _is_aws_managed_ref(rule.kms_master_key_id)
    if isinstance(key, Problem):
        return ctx.problem(
            check, key, f"the KMS key {rule.kms_master_key_id or 'aws/s3'}", expected
        )
    if isinstance(key, KeyNotFound):
        if check == "kms-key-state":
            alias = "alias/" in key.ref
            return ctx.finding(
                check,
                "fail",
                expected,
                "does not exist",
                f"The default encryption names KMS key {key.ref}, which does not exist "
                f"(NotFoundException: {key.message}): S3 cannot encrypt with it, so every write "
                "relying on the default encryption fails.",
                "Point the default encryption at an existing, enabled key"
                + (f" (or point the alias {key.ref} at one)" if alias else "")
                + f": {ctx.encryption_cli(keep_key=False)}",
            )
        return ctx.finding(
            check,
            "not-applicable",
            expected,
            "-",
            f"Not applicable: the key {key.ref} does not exist (kms-key-state reports it).",
        )
    if key is None:
        if not aws_managed:
            return ctx.problem(
                check,
                Problem(
                    status="unknown",
                    action="kms:DescribeKey",
                    code="NotDescribed",
                    message=f"the key {rule.kms_master_key_id} was not described",
                ),
                "the KMS key",
                expected,
            )
        return _AWS_S3_KEY
    if aws_managed and key.key_manager != "AWS":
        # The configuration names the AWS managed key; some emulators report it as CUSTOMER.
        return key.model_copy(update={"key_manager": "AWS"})
    return key


def _key_manager(ctx: _Ctx) -> Finding:
    check = "kms-key-manager"
    if ctx.exp.uses_kms and not ctx.exp.kms_key:
        return ctx.finding(check, "not-applicable", "-", "-", "The option names no key manager.")
    expected = str((ctx.exp.kms_key or {}).get("KeyManager", "-"))
    key = _key_for(ctx, check, expected)
    if isinstance(key, Finding):
        return key
    if key.key_manager == expected:
        return ctx.finding(
            check, "pass", expected, key.key_manager, f"Key {key.arn} is {expected} managed."
        )
    remedy = (
        "Create a customer managed key (aws kms create-key) and set it as the bucket's "
        f"KMSMasterKeyID: {ctx.encryption_cli()}"
        if expected == "CUSTOMER"
        else f"Use the AWS managed key: {ctx.encryption_cli()}"
    )
    return ctx.finding(
        check,
        "fail",
        expected,
        key.key_manager,
        f"Key {key.arn} is {key.key_manager} managed; {ctx.exp.option} expects {expected}.",
        remedy,
    )


_ORIGIN_CLI = {
    "AWS_KMS": "aws kms create-key",
    "EXTERNAL": "aws kms create-key --origin EXTERNAL (then get-parameters-for-import and import-key-material)",
    "AWS_CLOUDHSM": "aws kms create-key --origin AWS_CLOUDHSM --custom-key-store-id <store id>",
    "EXTERNAL_KEY_STORE": (
        "aws kms create-key --origin EXTERNAL_KEY_STORE --custom-key-store-id <store id> "
        "--xks-key-id <external key id>"
    ),
}


def _key_origin(ctx: _Ctx) -> Finding:
    check = "kms-key-origin"
    if ctx.exp.uses_kms and not ctx.exp.kms_key:
        return ctx.finding(check, "not-applicable", "-", "-", "The option names no key origin.")
    expected = str((ctx.exp.kms_key or {}).get("Origin", "-"))
    key = _key_for(ctx, check, expected)
    if isinstance(key, Finding):
        return key
    if key.origin == expected:
        return ctx.finding(
            check, "pass", expected, key.origin, f"Key {key.arn} has origin {expected}."
        )
    return ctx.finding(
        check,
        "fail",
        expected,
        key.origin,
        f"Key {key.arn} has origin {key.origin}; {ctx.exp.option} expects {expected}.",
        f"Create a key with {_ORIGIN_CLI.get(expected, 'the expected origin')} and set it as the "
        "bucket's KMSMasterKeyID (aws s3api put-bucket-encryption).",
    )


_STATE_CLI = {
    "Disabled": "aws kms enable-key --key-id {k}",
    "PendingDeletion": "aws kms cancel-key-deletion --key-id {k} && aws kms enable-key --key-id {k}",
    "PendingImport": "aws kms import-key-material --key-id {k} ... (import the key material again)",
    "Unavailable": "Reconnect the custom key store: aws kms connect-custom-key-store ...",
}


def _key_state(ctx: _Ctx) -> Finding:
    check, expected = "kms-key-state", "Enabled"
    key = _key_for(ctx, check, expected)
    if isinstance(key, Finding):
        return key
    if key.key_state == expected:
        return ctx.finding(check, "pass", expected, key.key_state, f"Key {key.arn} is enabled.")
    return ctx.finding(
        check,
        "fail",
        expected,
        key.key_state,
        f"Key {key.arn} is {key.key_state}: S3 cannot encrypt or decrypt with it.",
        _STATE_CLI.get(
            key.key_state, "Enable the key or point the bucket at an enabled key."
        ).format(k=key.key_id),
    )


def _rotation_not_applicable(key: KeyFacts) -> str | None:
    """Why the key cannot rotate automatically, or None when it can."""
    if key.key_manager == "AWS":
        return "AWS rotates AWS managed keys every year (since May 2022); the period is fixed"
    if key.origin == "EXTERNAL":
        return "keys with imported material cannot rotate automatically (rotate on demand)"
    if key.origin == "AWS_CLOUDHSM":
        return "keys in a CloudHSM key store cannot rotate automatically; rotate by switching keys"
    if key.origin == "EXTERNAL_KEY_STORE" or key.custom_key_store_id:
        return "keys in an external or custom key store cannot rotate automatically"
    if key.key_spec != "SYMMETRIC_DEFAULT":
        return f"only symmetric keys rotate automatically ({key.key_spec} does not)"
    return None


def _key_rotation(ctx: _Ctx) -> Finding:
    check = "kms-key-rotation"
    rotation = ctx.exp.rotation
    wanted = bool(rotation.get("enabled"))
    period = rotation.get("period_days")
    span = rotation.get("period_days_range")
    expected = (
        ("on, " + (f"{span[0]}-{span[1]} days" if span else f"<= {period} days"))
        if wanted and (span or period)
        else ("on" if wanted else "not required")
    )
    key = _key_for(ctx, check, expected)
    if isinstance(key, Finding):
        return key
    why = _rotation_not_applicable(key)
    if why is None and key.key_state != "Enabled":
        why = (
            f"the key is {key.key_state} and cannot be used, so its rotation does not matter "
            "until it is enabled (kms-key-state reports it)"
        )
    if why is not None:
        return ctx.finding(check, "not-applicable", expected, "-", f"Not applicable: {why}.")
    if not wanted:
        return ctx.finding(
            check, "pass", expected, str(key.rotation_enabled), "Rotation is not required."
        )
    if key.rotation_problem is not None:
        return ctx.problem(check, key.rotation_problem, "the key's rotation status", expected)
    cli = f"aws kms enable-key-rotation --key-id {key.key_id} --rotation-period-in-days {period or 365}"
    if key.rotation_enabled is None:
        return ctx.problem(
            check,
            Problem(
                status="unknown",
                action="kms:GetKeyRotationStatus",
                code="NotRead",
                message="rotation status not read",
            ),
            "the key's rotation status",
            expected,
        )
    if not key.rotation_enabled:
        return ctx.finding(
            check, "fail", expected, "off", f"Automatic rotation of {key.arn} is off.", cli
        )
    actual = key.rotation_period_days
    if actual is None:
        if span or period in (None, 365):
            return ctx.finding(
                check,
                "pass",
                expected,
                "on",
                "Rotation is on; the period was not reported (365 days by default).",
            )
        return ctx.finding(
            check, "warn", expected, "on", "Rotation is on but its period was not reported.", cli
        )
    ok = span[0] <= actual <= span[1] if span else (period is None or actual <= int(period))
    if ok:
        return ctx.finding(
            check, "pass", expected, f"on, {actual} days", f"Rotation is on, every {actual} days."
        )
    return ctx.finding(
        check,
        "fail",
        expected,
        f"on, {actual} days",
        f"Key {key.arn} rotates every {actual} days; expected {expected}.",
        cli,
    )
