"""The probe's checks: collected facts about one bucket plus the expected configuration in,
findings out (pure: no AWS calls, no I/O).

Check ids, statuses and the bucket status order are those of CONTRACT.md. The expected
configuration is an option's `configuration` from rules/options.yaml (after rules/configure.yaml
adjusted it); no option id or threshold is decided here, everything is read from it.

Decisions worth knowing:

* A bucket without an explicit default encryption configuration is encrypted with SSE-S3
  (AES256) by default since 2023-01-05: `default-encryption` reports AES256, never
  "unencrypted".
* `aws:kms` with no key id, or an `alias/aws/...` alias, is the AWS managed key: its manager
  is AWS whatever a (mocked) DescribeKey says, and its rotation is fixed by AWS.
* `sse-c-blocked` when GetBucketEncryption returns no BlockedEncryptionTypes at all: `warn`.
  Since 2026-04-06 S3 blocks SSE-C by default on new general purpose buckets (and existing
  buckets in accounts without SSE-C objects), but not everywhere (older buckets, Bahrain and
  UAE), so the absence proves neither; it is not `unknown` because nothing was refused.
* Rotation periods: an actual period shorter than or equal to the one asked for passes (a
  period is a maximum cryptoperiod); with `period_days_range` any period in the range passes.
* Every rule of the configuration is read: S3 applies the first rule with an algorithm; a later
  rule that disagrees turns a pass into a warn; SSE-C counts as blocked when any rule blocks it.
* A field that could not be read (a `ProblemIn`) gives `unknown` (naming the IAM action) or
  `error`, never `pass` or `fail`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from app.probe.policy import SSE_C, WriteEnforcement, denies_insecure_transport, write_enforcement

Status = Literal["pass", "fail", "warn", "not-applicable", "unknown", "error"]

#: Every check id of CONTRACT.md, in the order findings are reported.
CHECK_IDS: tuple[str, ...] = (
    "default-encryption",
    "kms-key-manager",
    "kms-key-origin",
    "kms-key-state",
    "kms-key-rotation",
    "bucket-key",
    "sse-c-blocked",
    "encryption-enforced",
    "tls-only",
    "audit-trail",
    "object-sample",
)

SEVERITY: dict[str, str] = {
    "default-encryption": "high",
    "kms-key-manager": "high",
    "kms-key-origin": "high",
    "kms-key-state": "high",
    "kms-key-rotation": "medium",
    "bucket-key": "low",
    "sse-c-blocked": "medium",
    "encryption-enforced": "medium",
    "tls-only": "medium",
    "audit-trail": "high",
    "object-sample": "medium",
}

#: Worst first; `not-applicable` never decides a bucket's status.
STATUS_ORDER: tuple[str, ...] = ("error", "fail", "unknown", "warn", "pass")

NOTHING_TO_DO = "Nothing to change."
SSE_S3_DEFAULT = "AES256"


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one bucket (a row of the probe JSON's `findings`)."""

    check: str
    status: Status
    severity: str
    expected: str
    actual: str
    message: str
    remediation: str

    def to_dict(self) -> dict[str, str]:
        """The finding as CONTRACT.md's probe JSON shows it."""
        return {
            "check": self.check,
            "status": self.status,
            "severity": self.severity,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
            "remediation": self.remediation,
        }


# --- inputs ---------------------------------------------------------------------------------
# What the checks read. The collectors' models (app/probe/models.py) map onto these one to one.


@dataclass(frozen=True)
class ProblemIn:
    """A fact that could not be read: `unknown` (refused; `action` names it) or `error`."""

    status: Literal["unknown", "error"]
    action: str | None
    code: str
    message: str


@dataclass(frozen=True)
class EncryptionRuleIn:
    """One rule of GetBucketEncryption; `sse_algorithm` is "" for a rule without a default."""

    sse_algorithm: str
    kms_master_key_id: str | None = None
    bucket_key_enabled: bool | None = None
    blocked_encryption_types: list[str] | None = None


@dataclass(frozen=True)
class BucketEncryptionIn:
    """Every rule returned; `explicit` is False when S3 applies its SSE-S3 default."""

    rules: list[EncryptionRuleIn]
    explicit: bool = True


@dataclass(frozen=True)
class KeyIn:
    """A KMS key as DescribeKey and GetKeyRotationStatus report it."""

    key_id: str
    arn: str
    account: str
    key_manager: str
    origin: str
    key_state: str
    key_spec: str = "SYMMETRIC_DEFAULT"
    custom_key_store_id: str | None = None
    multi_region: bool = False
    rotation_enabled: bool | None = None
    rotation_period_days: int | None = None
    rotation_problem: ProblemIn | None = None


@dataclass(frozen=True)
class TrailIn:
    """A CloudTrail trail; `logs_read_events` None when the collector did not say."""

    name: str
    is_logging: bool
    is_multi_region: bool
    management_events: bool
    excludes_kms: bool
    selectors_kind: str = "classic"
    logs_read_events: bool | None = None


@dataclass(frozen=True)
class ObjectIn:
    """How one sampled object is encrypted (HeadObject)."""

    key: str
    server_side_encryption: str | None = None
    sse_kms_key_id: str | None = None
    sse_customer_algorithm: str | None = None
    bucket_key_enabled: bool | None = None
    client_side_envelope: bool = False


@dataclass(frozen=True)
class BucketIn:
    """Everything collected about one bucket; `objects` None or [] when nothing was sampled."""

    name: str
    region: str | None
    encryption: BucketEncryptionIn | ProblemIn
    policy: Mapping[str, Any] | ProblemIn | None
    key: KeyIn | ProblemIn | None = None
    objects: list[ObjectIn] | ProblemIn | None = None


# --- the expected configuration -------------------------------------------------------------


@dataclass(frozen=True)
class _Expected:
    """The parts of an option's configuration the checks compare against."""

    option: str
    rule: Mapping[str, Any]
    algorithm: str
    kms_key: Mapping[str, Any] | None
    rotation: Mapping[str, Any]
    policy: Mapping[str, Any]
    audit: bool
    client_side: bool

    @classmethod
    def parse(cls, configuration: Mapping[str, Any], option: str) -> _Expected:
        """Read the expected values out of an option's configuration."""
        rules = configuration.get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}]
        rule = rules[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        return cls(
            option=option,
            rule=rule,
            algorithm=str(default.get("SSEAlgorithm", SSE_S3_DEFAULT)),
            kms_key=configuration.get("kms_key"),
            rotation=configuration.get("key_rotation") or {},
            policy=configuration.get("bucket_policy") or {},
            audit=bool(configuration.get("require_audit_trail", False)),
            client_side=bool(configuration.get("client_side")),
        )

    @property
    def uses_kms(self) -> bool:
        """True when the bucket's default encryption should use a KMS key."""
        return self.algorithm.startswith("aws:kms")

    @property
    def blocked(self) -> list[str] | None:
        """The expected BlockedEncryptionTypes.EncryptionType, None when not stated."""
        blocked = self.rule.get("BlockedEncryptionTypes")
        return None if blocked is None else [str(t) for t in blocked.get("EncryptionType", [])]

    @property
    def sse_c(self) -> bool:
        """True when writes are expected to carry customer-provided keys."""
        return self.policy.get("required_encryption_header") == SSE_C or "NONE" in (
            self.blocked or []
        )


@dataclass(frozen=True)
class _Ctx:
    """One bucket under judgement."""

    bucket: BucketIn
    exp: _Expected

    def finding(
        self,
        check: str,
        status: Status,
        expected: str,
        actual: str,
        message: str,
        remediation: str = NOTHING_TO_DO,
    ) -> Finding:
        """A finding of this check; pass and not-applicable need no remediation text."""
        return Finding(check, status, SEVERITY[check], expected, actual, message, remediation)

    def problem(self, check: str, problem: ProblemIn, what: str, expected: str) -> Finding:
        """The `unknown` / `error` finding for a fact that could not be read."""
        if problem.status == "unknown":
            action = problem.action or "a read permission"
            return self.finding(
                check,
                "unknown",
                expected,
                "unknown",
                f"Not allowed to read {what} ({problem.code}: {problem.message}); "
                f"missing permission: {action}.",
                f"Grant {action} to the probe's role and run the probe again.",
            )
        return self.finding(
            check,
            "error",
            expected,
            "error",
            f"Could not read {what} ({problem.code}: {problem.message}).",
            "Check that the bucket exists and the endpoint is reachable, then run the probe again.",
        )

    def encryption_cli(self) -> str:
        """The AWS CLI command that sets the expected default encryption."""
        rule = dict(self.exp.rule)
        default = dict(rule.get("ApplyServerSideEncryptionByDefault") or {})
        encryption = self.bucket.encryption
        if "KMSMasterKeyID" in default and isinstance(encryption, BucketEncryptionIn):
            current, _ = _effective_rule(encryption)
            if current.kms_master_key_id and not _is_aws_managed_ref(current.kms_master_key_id):
                # Keep the bucket's own key in place of the rule set's placeholder.
                default["KMSMasterKeyID"] = current.kms_master_key_id
                rule["ApplyServerSideEncryptionByDefault"] = default
        config = {"Rules": [rule]}
        return (
            f"aws s3api put-bucket-encryption --bucket {self.bucket.name} "
            f"--server-side-encryption-configuration '{json.dumps(config, separators=(',', ':'))}'"
        )


def _effective_rule(encryption: BucketEncryptionIn) -> tuple[EncryptionRuleIn, list[str]]:
    """The rule S3 applies (the first with an algorithm) and the algorithms of the others."""
    with_default = [r for r in encryption.rules if r.sse_algorithm]
    if not with_default:
        # No rule names an algorithm: S3 falls back to SSE-S3 (the 2023 default).
        return EncryptionRuleIn(SSE_S3_DEFAULT), []
    return with_default[0], [r.sse_algorithm for r in with_default[1:]]


def _is_aws_managed_ref(key_id: str | None) -> bool:
    """True for no key id or an alias of an AWS managed key (alias/aws/...)."""
    return key_id is None or "alias/aws/" in key_id


# --- the checks -----------------------------------------------------------------------------


def _default_encryption(ctx: _Ctx) -> Finding:
    check, expected = "default-encryption", ctx.exp.algorithm
    encryption = ctx.bucket.encryption
    if isinstance(encryption, ProblemIn):
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


def _key_for(ctx: _Ctx, check: str, expected: str) -> KeyIn | Finding:
    """The key behind the bucket, or the finding that ends the check without one."""
    if not ctx.exp.uses_kms:
        why = (
            "the application's wrapping key is used client-side and is not visible from the bucket"
            if ctx.exp.client_side
            else "the option uses no KMS key for server-side encryption"
        )
        return ctx.finding(check, "not-applicable", expected, "-", f"Not applicable: {why}.")
    encryption = ctx.bucket.encryption
    if isinstance(encryption, ProblemIn):
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
    if isinstance(key, ProblemIn):
        return ctx.problem(
            check, key, f"the KMS key {rule.kms_master_key_id or 'aws/s3'}", expected
        )
    if key is None:
        if not aws_managed:
            return ctx.problem(
                check,
                ProblemIn(
                    "unknown",
                    "kms:DescribeKey",
                    "NotDescribed",
                    f"the key {rule.kms_master_key_id} was not described",
                ),
                "the KMS key",
                expected,
            )
        # aws:kms without a key id: the AWS managed key aws/s3, which cannot be disabled.
        return KeyIn("alias/aws/s3", "alias/aws/s3", "", "AWS", "AWS_KMS", "Enabled")
    if aws_managed and key.key_manager != "AWS":
        # The configuration names the AWS managed key; some emulators report it as CUSTOMER.
        return replace(key, key_manager="AWS")
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


def _rotation_not_applicable(key: KeyIn) -> str | None:
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
            ProblemIn("unknown", "kms:GetKeyRotationStatus", "NotRead", "rotation status not read"),
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


def _bucket_key(ctx: _Ctx) -> Finding:
    check = "bucket-key"
    wanted = ctx.exp.rule.get("BucketKeyEnabled")
    if wanted is None or not ctx.exp.uses_kms:
        return ctx.finding(
            check, "not-applicable", "-", "-", "Not applicable: Bucket Keys only apply to SSE-KMS."
        )
    expected = str(bool(wanted)).lower()
    encryption = ctx.bucket.encryption
    if isinstance(encryption, ProblemIn):
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
    if isinstance(encryption, ProblemIn):
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


def _policy_cli(ctx: _Ctx, condition: str, action: str) -> str:
    """A remediation naming the Deny statement to add to the bucket policy."""
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": f"arn:aws:s3:::{ctx.bucket.name}/*",
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
    key_arn = ctx.bucket.key.arn if isinstance(ctx.bucket.key, KeyIn) else None
    customer_key = (ctx.exp.kms_key or {}).get("KeyManager") == "CUSTOMER"
    expected = f"deny PutObject without {header}"
    policy = ctx.bucket.policy
    if isinstance(policy, ProblemIn):
        return ctx.problem(check, policy, "the bucket policy", expected)
    level = write_enforcement(
        policy,
        required_header=header,
        key_arn=key_arn if customer_key and ctx.exp.uses_kms else None,
        bucket=ctx.bucket.name,
    )
    if header == SSE_C:
        condition = '{"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}'
    else:
        condition = f'{{"StringNotEquals": {{"s3:x-amz-server-side-encryption": "{header}"}}}}'
    remedy = _policy_cli(ctx, condition, "s3:PutObject")
    if level is WriteEnforcement.VALUE:
        return ctx.finding(
            check, "pass", expected, "denied", f"The bucket policy denies writes without {header}."
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
    policy = ctx.bucket.policy
    if isinstance(policy, ProblemIn):
        return ctx.problem(check, policy, "the bucket policy", expected)
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


def _trail_gaps(trail: TrailIn) -> list[str]:
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


def _audit_trail(ctx: _Ctx, trails: list[TrailIn] | ProblemIn | None) -> Finding:
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
        trails = ProblemIn(
            "unknown", "cloudtrail:DescribeTrails", "NotCollected", "trails were not collected"
        )
    if isinstance(trails, ProblemIn):
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


def _object_actual(obj: ObjectIn) -> str:
    """How one object is encrypted, in a word."""
    if obj.client_side_envelope:
        return "client-side"
    if obj.sse_customer_algorithm:
        return "SSE-C"
    return obj.server_side_encryption or "none"


def _object_ok(ctx: _Ctx, obj: ObjectIn, key_arn: str | None) -> bool:
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
    if isinstance(objects, ProblemIn):
        return ctx.problem(check, objects, "the sampled objects", expected)
    if not objects:
        return ctx.finding(check, "not-applicable", expected, "-", "No objects were sampled.")
    key = ctx.bucket.key
    customer = (exp.kms_key or {}).get("KeyManager") == "CUSTOMER"
    key_arn = key.arn if isinstance(key, KeyIn) and customer and exp.uses_kms else None
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


# --- public API -----------------------------------------------------------------------------


def check_bucket(
    bucket: BucketIn,
    *,
    expected: Mapping[str, Any],
    option: str,
    trails: list[TrailIn] | ProblemIn | None,
) -> list[Finding]:
    """Judge one bucket against an option's expected configuration.

    Args:
        bucket: The facts collected about the bucket.
        expected: The option's `configuration` (as in rules/options.yaml, after configure.yaml).
        option: The option's id, quoted in messages.
        trails: The account's trails (read once per run), why they could not be read, or None
            when they were not collected.

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


def bucket_status(findings: Iterable[Finding]) -> str:
    """The worst status among the findings (error > fail > unknown > warn > pass).

    Args:
        findings: A bucket's findings.

    Returns:
        One of STATUS_ORDER; `pass` when every finding is not-applicable (or there are none).
    """
    statuses = {f.status for f in findings}
    return next((s for s in STATUS_ORDER if s in statuses), "pass")


def summarize(bucket_statuses: Iterable[str]) -> dict[str, int]:
    """The probe JSON's `summary`: bucket count and buckets per status.

    Args:
        bucket_statuses: Each bucket's status (from bucket_status).

    Returns:
        {"buckets", "pass", "fail", "unknown", "error", "warn"} counts; `warn` is an addition
        to CONTRACT.md's keys.
    """
    counts = Counter(bucket_statuses)
    summary = {"buckets": sum(counts.values())}
    summary.update({s: counts.get(s, 0) for s in ("pass", "fail", "unknown", "error", "warn")})
    return summary
