"""The probe's checks: every check id in every status it can take, against the real rule set.

Expected configurations come from rules/ (never written out here); buckets are built from the
collectors' models (app/probe/models.py) by hand, so these tests need no AWS endpoint.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from app.advisor.loader import load_ruleset
from app.probe.checks import (
    CHECK_IDS,
    NOTHING_TO_DO,
    Finding,
    bucket_status,
    check_bucket,
    summarize,
)
from app.probe.models import (
    BucketEncryption,
    BucketFacts,
    EncryptionRule,
    KeyFacts,
    KeyNotFound,
    ObjectFacts,
    PolicyFacts,
    Problem,
    TrailFacts,
    UnreadableTrail,
)

RULESET = load_ruleset()
BUCKET = "demo-bucket"
ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
OTHER_KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/ffffffff-0000-0000-0000-000000000000"
CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "docs" / "CONTRACT.md"

M = TypeVar("M", bound=BaseModel)


def replace(model: M, **changes: Any) -> M:
    """A copy of a collected model with fields replaced, validated as the collector's are."""
    return type(model).model_validate(dict(model) | changes)


def refused(action: str, code: str, message: str) -> Problem:
    """A fact the probe was not allowed to read."""
    return Problem(status="unknown", action=action, code=code, message=message)


def failed(code: str, message: str) -> Problem:
    """A fact the probe could not read (service fault, resource gone)."""
    return Problem(status="error", code=code, message=message)


DENIED = refused("s3:GetEncryptionConfiguration", "AccessDenied", "Access Denied")
GONE = failed("NoSuchBucket", "The specified bucket does not exist")
POLICY_DENIED = refused("s3:GetBucketPolicy", "AccessDenied", "Access Denied")
KEY_DENIED = refused("kms:DescribeKey", "AccessDeniedException", "cross-account key")
KEY_FAULT = failed("KMSInternalException", "internal error")
TRAILS_DENIED = refused("cloudtrail:DescribeTrails", "AccessDenied", "denied")
TRAILS_FAULT = failed("ThrottlingException", "Rate exceeded after retries")
LIST_DENIED = refused("s3:GetObject", "AccessDenied", "HeadObject refused")
LIST_FAULT = failed("SlowDown", "Reduce your request rate")
NO_POLICY = PolicyFacts(policy=None)
MISSING_KEY = KeyNotFound(ref=KEY_ARN, message=f"Key '{KEY_ARN}' does not exist")


def trail(name: str, **changes: Any) -> TrailFacts:
    """A logging, multi-Region trail recording every KMS event (reads too), changed."""
    base = TrailFacts(
        name=name,
        is_logging=True,
        is_multi_region=True,
        management_events=True,
        excludes_kms=False,
        logs_read_events=True,
        selectors_kind="classic",
    )
    return replace(base, **changes)


GOOD_TRAIL = trail("org-trail")
UNREADABLE_TRAIL = UnreadableTrail(
    name="locked",
    home_region="eu-west-1",
    problem=refused("cloudtrail:GetEventSelectors", "AccessDeniedException", "denied"),
)
GOOD_TRAILS = [GOOD_TRAIL]


def config(option: str, **changes: Any) -> dict[str, Any]:
    """An option's configuration from the real rule set, with top-level entries merged in."""
    conf = copy.deepcopy(RULESET.options[option].configuration)
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(conf.get(name), dict):
            conf[name].update(value)
        else:
            conf[name] = value
    return conf


def key(**changes: Any) -> KeyFacts:
    """A customer managed, symmetric, enabled AWS_KMS key rotating every 365 days."""
    base = KeyFacts(
        key_id=KEY_ID,
        arn=KEY_ARN,
        account=ACCOUNT,
        key_manager="CUSTOMER",
        origin="AWS_KMS",
        key_state="Enabled",
        key_spec="SYMMETRIC_DEFAULT",
        custom_key_store_id=None,
        multi_region=False,
        rotation_enabled=True,
        rotation_period_days=365,
    )
    return replace(base, **changes)


def key_for(option: str) -> KeyFacts | None:
    """The key a bucket following the option uses (None for the AWS managed key)."""
    kms = config(option).get("kms_key")
    if not kms or kms["KeyManager"] == "AWS":
        return None
    origin = kms["Origin"]
    rotates = origin == "AWS_KMS"
    return key(
        origin=origin,
        custom_key_store_id="cks-1234"
        if origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
        else None,
        rotation_enabled=True if rotates else None,
        rotation_period_days=365 if rotates else None,
    )


def tls_statement() -> dict[str, Any]:
    """The AWS documentation's deny of plain-HTTP requests."""
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def write_statement(header: str) -> dict[str, Any]:
    """A deny of writes without the header (SSE-C: without a customer key)."""
    if header == "SSE-C":
        condition = {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}
    else:
        condition = {"StringNotEquals": {"s3:x-amz-server-side-encryption": header}}
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Condition": condition,
    }


def key_statement(key_arn: str) -> dict[str, Any]:
    """A deny of writes naming any KMS key but `key_arn` (or none)."""
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Condition": {
            "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}
        },
    }


def compliant(option: str, **changes: Any) -> BucketFacts:
    """A bucket that follows the option in every respect, with fields replaced by `changes`."""
    conf = config(option)
    rule = conf["ServerSideEncryptionConfiguration"]["Rules"][0]
    algorithm = rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    bucket_key = key_for(option) if algorithm.startswith("aws:kms") else None
    statements = [tls_statement()]
    if conf["bucket_policy"]["deny_unencrypted_writes"]:
        statements.append(write_statement(conf["bucket_policy"]["required_encryption_header"]))
        if bucket_key is not None and (conf.get("kms_key") or {}).get("KeyManager") == "CUSTOMER":
            statements.append(key_statement(bucket_key.arn))
    bucket = BucketFacts(
        name=BUCKET,
        region="eu-west-1",
        encryption=BucketEncryption(
            rules=[
                EncryptionRule(
                    sse_algorithm=algorithm,
                    kms_master_key_id=bucket_key.arn if bucket_key else None,
                    bucket_key_enabled=rule["BucketKeyEnabled"],
                    blocked_encryption_types=list(rule["BlockedEncryptionTypes"]["EncryptionType"]),
                )
            ],
            explicit=True,
        ),
        policy=PolicyFacts(policy={"Version": "2012-10-17", "Statement": statements}),
        key=bucket_key,
    )
    return replace(bucket, **changes)


def rules(*rules_in: EncryptionRule, explicit: bool = True) -> BucketEncryption:
    """A default encryption configuration holding these rules."""
    return BucketEncryption(rules=list(rules_in), explicit=explicit)


def rule(sse_algorithm: str, **fields: Any) -> EncryptionRule:
    """One default encryption rule ("" for a rule without an algorithm)."""
    return EncryptionRule(sse_algorithm=sse_algorithm, **fields)


def kms_rule(**changes: Any) -> EncryptionRule:
    """The rule of a compliant sse-kms-cmk bucket, changed."""
    base = rule(
        "aws:kms",
        kms_master_key_id=KEY_ARN,
        bucket_key_enabled=True,
        blocked_encryption_types=["SSE-C"],
    )
    return replace(base, **changes)


def blocks_sse_c() -> EncryptionRule:
    """A rule with no algorithm that only blocks SSE-C."""
    return rule("", blocked_encryption_types=["SSE-C"])


def policy(document: dict[str, Any]) -> PolicyFacts:
    """A bucket policy as the collector returns it."""
    return PolicyFacts(policy=document)


def obj(name: str, **fields: Any) -> ObjectFacts:
    """A sampled object."""
    return ObjectFacts(key=name, **fields)


KMS_OBJECT = obj("a.csv", server_side_encryption="aws:kms", sse_kms_key_id=KEY_ARN)


@dataclass(frozen=True)
class Case:
    """One check on one bucket and the status it must give."""

    name: str
    check: str
    status: str
    bucket: BucketFacts
    option: str = "sse-kms-cmk"
    trails: list[TrailFacts] | Problem | None = None
    conf: dict[str, Any] | None = None
    says: str | None = None
    """A phrase the message must contain."""


CMK = compliant("sse-kms-cmk")
AES = rules(rule("AES256", bucket_key_enabled=False, blocked_encryption_types=["SSE-C"]))

CASES: list[Case] = [
    # default-encryption
    Case("kms-as-expected", "default-encryption", "pass", CMK),
    Case("aes256-where-kms-expected", "default-encryption", "fail", replace(CMK, encryption=AES)),
    Case("sse-s3-as-expected", "default-encryption", "pass", compliant("sse-s3"), "sse-s3"),
    Case("dsse-as-expected", "default-encryption", "pass", compliant("dsse-kms"), "dsse-kms"),
    Case(
        "kms-is-not-dsse",
        "default-encryption",
        "fail",
        compliant("sse-kms-cmk"),
        "dsse-kms",
    ),
    Case(
        "no-explicit-config-is-sse-s3-not-unencrypted",
        "default-encryption",
        "pass",
        replace(compliant("sse-s3"), encryption=rules(explicit=False)),
        "sse-s3",
        says="SSE-S3 (AES256) by default",
    ),
    Case(
        "no-explicit-config-with-the-implied-rule",
        "default-encryption",
        "pass",
        replace(compliant("sse-s3"), encryption=rules(rule("AES256"), explicit=False)),
        "sse-s3",
        says="by default",
    ),
    Case(
        "no-explicit-config-where-kms-expected-reports-aes256",
        "default-encryption",
        "fail",
        replace(CMK, encryption=rules(explicit=False)),
        says="Default encryption is AES256",
    ),
    Case(
        "later-rule-disagrees",
        "default-encryption",
        "warn",
        replace(CMK, encryption=rules(kms_rule(), rule("AES256"))),
    ),
    Case(
        "first-rule-without-algorithm-then-kms",
        "default-encryption",
        "pass",
        replace(CMK, encryption=rules(blocks_sse_c(), kms_rule())),
    ),
    Case(
        "access-denied",
        "default-encryption",
        "unknown",
        replace(CMK, encryption=DENIED),
        says="s3:GetEncryptionConfiguration",
    ),
    Case("bucket-gone", "default-encryption", "error", replace(CMK, encryption=GONE)),
    # kms-key-manager
    Case("customer-key", "kms-key-manager", "pass", CMK),
    Case(
        "aws-managed-where-customer-expected",
        "kms-key-manager",
        "fail",
        replace(CMK, encryption=rules(kms_rule(kms_master_key_id=None)), key=None),
    ),
    Case(
        "no-key-id-is-aws-managed",
        "kms-key-manager",
        "pass",
        compliant("sse-kms-aws-managed"),
        "sse-kms-aws-managed",
    ),
    Case(
        "aws-s3-alias-is-aws-managed-even-if-described-as-customer",
        "kms-key-manager",
        "pass",
        replace(
            compliant("sse-kms-aws-managed"),
            encryption=rules(kms_rule(kms_master_key_id="alias/aws/s3")),
            key=key(key_manager="CUSTOMER"),
        ),
        "sse-kms-aws-managed",
    ),
    Case(
        "customer-key-where-aws-managed-expected",
        "kms-key-manager",
        "fail",
        CMK,
        "sse-kms-aws-managed",
    ),
    Case("bucket-uses-no-key", "kms-key-manager", "fail", replace(CMK, encryption=AES)),
    Case("sse-s3-needs-no-key", "kms-key-manager", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case(
        "client-side-wrapping-key-not-visible",
        "kms-key-manager",
        "not-applicable",
        compliant("client-side-kms"),
        "client-side-kms",
        says="client-side",
    ),
    Case(
        "cross-account-key-not-describable",
        "kms-key-manager",
        "unknown",
        replace(CMK, key=KEY_DENIED),
        says="kms:DescribeKey",
    ),
    Case("kms-fault", "kms-key-manager", "error", replace(CMK, key=KEY_FAULT)),
    Case(
        "key-never-described",
        "kms-key-manager",
        "unknown",
        replace(CMK, key=None),
        says="kms:DescribeKey",
    ),
    Case("encryption-unreadable", "kms-key-manager", "unknown", replace(CMK, encryption=DENIED)),
    # kms-key-origin
    Case("aws-kms-origin", "kms-key-origin", "pass", CMK),
    Case("imported", "kms-key-origin", "pass", compliant("sse-kms-imported"), "sse-kms-imported"),
    Case("cloudhsm", "kms-key-origin", "pass", compliant("sse-kms-cloudhsm"), "sse-kms-cloudhsm"),
    Case("xks", "kms-key-origin", "pass", compliant("sse-kms-xks"), "sse-kms-xks"),
    Case("aws-kms-where-imported-expected", "kms-key-origin", "fail", CMK, "sse-kms-imported"),
    Case(
        "imported-where-aws-kms-expected",
        "kms-key-origin",
        "fail",
        compliant("sse-kms-imported"),
    ),
    Case("bucket-uses-no-key", "kms-key-origin", "fail", replace(CMK, encryption=AES)),
    Case("sse-s3", "kms-key-origin", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case("denied", "kms-key-origin", "unknown", replace(CMK, key=KEY_DENIED)),
    Case("fault", "kms-key-origin", "error", replace(CMK, key=KEY_FAULT)),
    # kms-key-state
    Case("enabled", "kms-key-state", "pass", CMK),
    Case(
        "aws-managed-key-is-always-enabled",
        "kms-key-state",
        "pass",
        compliant("sse-kms-aws-managed"),
        "sse-kms-aws-managed",
    ),
    Case(
        "pending-deletion",
        "kms-key-state",
        "fail",
        replace(CMK, key=key(key_state="PendingDeletion")),
    ),
    Case("disabled", "kms-key-state", "fail", replace(CMK, key=key(key_state="Disabled"))),
    Case(
        "pending-import",
        "kms-key-state",
        "fail",
        replace(
            compliant("sse-kms-imported"),
            key=replace(key_for("sse-kms-imported") or key(), key_state="PendingImport"),
        ),
        "sse-kms-imported",
    ),
    Case(
        "key-does-not-exist-is-a-misconfiguration-not-an-error",
        "kms-key-state",
        "fail",
        replace(CMK, key=MISSING_KEY),
        says="does not exist",
    ),
    Case("sse-s3", "kms-key-state", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case("bucket-uses-no-key", "kms-key-state", "not-applicable", replace(CMK, encryption=AES)),
    Case("denied", "kms-key-state", "unknown", replace(CMK, key=KEY_DENIED)),
    Case("fault", "kms-key-state", "error", replace(CMK, key=KEY_FAULT)),
    Case("bucket-gone", "kms-key-state", "error", replace(CMK, encryption=GONE)),
    # kms-key-rotation
    Case("yearly", "kms-key-rotation", "pass", CMK),
    Case(
        "more-often-than-asked",
        "kms-key-rotation",
        "pass",
        replace(CMK, key=key(rotation_period_days=180)),
    ),
    Case("off", "kms-key-rotation", "fail", replace(CMK, key=key(rotation_enabled=False))),
    Case(
        "less-often-than-asked",
        "kms-key-rotation",
        "fail",
        replace(CMK, key=key(rotation_period_days=730)),
    ),
    Case(
        "period-in-range",
        "kms-key-rotation",
        "pass",
        replace(CMK, key=key(rotation_period_days=2000)),
        conf=config("sse-kms-cmk", key_rotation={"period_days_range": [90, 2560]}),
    ),
    Case(
        "period-out-of-range",
        "kms-key-rotation",
        "fail",
        replace(CMK, key=key(rotation_period_days=3000)),
        conf=config("sse-kms-cmk", key_rotation={"period_days_range": [90, 2560]}),
    ),
    Case(
        "period-not-reported-default-365",
        "kms-key-rotation",
        "pass",
        replace(CMK, key=key(rotation_period_days=None)),
    ),
    Case(
        "period-not-reported-custom-period",
        "kms-key-rotation",
        "warn",
        replace(CMK, key=key(rotation_period_days=None)),
        conf=config("sse-kms-cmk", key_rotation={"period_days": 90}),
    ),
    Case(
        "imported-is-not-applicable-not-fail",
        "kms-key-rotation",
        "not-applicable",
        compliant("sse-kms-imported"),
        "sse-kms-imported",
        says="imported",
    ),
    Case(
        "imported-under-a-rotation-requirement-is-still-not-applicable",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=key(origin="EXTERNAL", rotation_enabled=None)),
    ),
    Case(
        "cloudhsm-is-not-applicable-not-fail",
        "kms-key-rotation",
        "not-applicable",
        replace(
            CMK, key=key(origin="AWS_CLOUDHSM", custom_key_store_id="cks-1", rotation_enabled=None)
        ),
        says="CloudHSM",
    ),
    Case(
        "xks-is-not-applicable-not-fail",
        "kms-key-rotation",
        "not-applicable",
        replace(
            CMK,
            key=key(
                origin="EXTERNAL_KEY_STORE", custom_key_store_id="cks-2", rotation_enabled=None
            ),
        ),
        says="external",
    ),
    Case(
        "aws-managed-rotation-is-fixed",
        "kms-key-rotation",
        "not-applicable",
        compliant("sse-kms-aws-managed"),
        "sse-kms-aws-managed",
        says="every year",
    ),
    Case(
        "asymmetric-key",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=key(key_spec="RSA_2048", rotation_enabled=None)),
    ),
    Case("sse-s3", "kms-key-rotation", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case(
        "not-required-by-the-option",
        "kms-key-rotation",
        "pass",
        replace(compliant("sse-kms-imported"), key=key(rotation_enabled=False)),
        "sse-kms-imported",
    ),
    Case(
        "rotation-status-not-read",
        "kms-key-rotation",
        "unknown",
        replace(CMK, key=key(rotation_enabled=None)),
        says="kms:GetKeyRotationStatus",
    ),
    Case(
        "rotation-status-refused",
        "kms-key-rotation",
        "unknown",
        replace(
            CMK,
            key=key(
                rotation_enabled=None,
                rotation_problem=refused("kms:GetKeyRotationStatus", "AccessDenied", "no"),
            ),
        ),
        says="kms:GetKeyRotationStatus",
    ),
    Case("key-fault", "kms-key-rotation", "error", replace(CMK, key=KEY_FAULT)),
    Case(
        "disabled-key-is-not-judged-on-rotation",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=key(key_state="Disabled")),
        says="Disabled",
    ),
    Case(
        "disabled-key-with-rotation-off-is-not-a-rotation-failure",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=key(key_state="Disabled", rotation_enabled=False)),
    ),
    Case(
        "key-pending-deletion-is-not-judged-on-rotation",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=key(key_state="PendingDeletion")),
        says="PendingDeletion",
    ),
    Case(
        "missing-key-is-not-judged-on-rotation",
        "kms-key-rotation",
        "not-applicable",
        replace(CMK, key=MISSING_KEY),
    ),
    Case(
        "missing-key-has-no-manager-to-judge",
        "kms-key-manager",
        "not-applicable",
        replace(CMK, key=MISSING_KEY),
        says="does not exist",
    ),
    Case(
        "missing-key-has-no-origin-to-judge",
        "kms-key-origin",
        "not-applicable",
        replace(CMK, key=MISSING_KEY),
    ),
    # bucket-key
    Case("enabled-as-expected", "bucket-key", "pass", CMK),
    Case(
        "disabled-where-expected",
        "bucket-key",
        "fail",
        replace(CMK, encryption=rules(kms_rule(bucket_key_enabled=False))),
    ),
    Case(
        "not-reported-counts-as-disabled",
        "bucket-key",
        "fail",
        replace(CMK, encryption=rules(kms_rule(bucket_key_enabled=None))),
    ),
    Case(
        "off-for-per-object-audit",
        "bucket-key",
        "fail",
        CMK,
        conf=config(
            "sse-kms-cmk",
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        **config("sse-kms-cmk")["ServerSideEncryptionConfiguration"]["Rules"][0],
                        "BucketKeyEnabled": False,
                    }
                ]
            },
        ),
    ),
    Case("dsse-without", "bucket-key", "pass", compliant("dsse-kms"), "dsse-kms"),
    Case(
        "dsse-with",
        "bucket-key",
        "fail",
        replace(
            compliant("dsse-kms"),
            encryption=rules(kms_rule(sse_algorithm="aws:kms:dsse", bucket_key_enabled=True)),
        ),
        "dsse-kms",
        says="DSSE-KMS does not support",
    ),
    Case("sse-s3", "bucket-key", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case("denied", "bucket-key", "unknown", replace(CMK, encryption=DENIED)),
    Case("gone", "bucket-key", "error", replace(CMK, encryption=GONE)),
    # sse-c-blocked
    Case("blocked", "sse-c-blocked", "pass", CMK),
    Case(
        "not-blocked",
        "sse-c-blocked",
        "fail",
        replace(CMK, encryption=rules(kms_rule(blocked_encryption_types=["NONE"]))),
    ),
    Case(
        "absent-is-a-warning",
        "sse-c-blocked",
        "warn",
        replace(CMK, encryption=rules(kms_rule(blocked_encryption_types=None))),
        says="2026-04-06",
    ),
    Case(
        "no-explicit-config",
        "sse-c-blocked",
        "warn",
        replace(compliant("sse-s3"), encryption=rules(explicit=False)),
        "sse-s3",
    ),
    Case(
        "blocked-in-a-later-rule",
        "sse-c-blocked",
        "pass",
        replace(
            CMK,
            encryption=rules(kms_rule(blocked_encryption_types=None), blocks_sse_c()),
        ),
    ),
    Case("sse-c-unblocked", "sse-c-blocked", "pass", compliant("sse-c"), "sse-c"),
    Case(
        "sse-c-but-blocked",
        "sse-c-blocked",
        "fail",
        replace(compliant("sse-c"), encryption=AES),
        "sse-c",
        says="403",
    ),
    Case(
        "sse-c-absent",
        "sse-c-blocked",
        "warn",
        replace(compliant("sse-c"), encryption=rules(rule("AES256"))),
        "sse-c",
    ),
    Case("denied", "sse-c-blocked", "unknown", replace(CMK, encryption=DENIED)),
    Case("gone", "sse-c-blocked", "error", replace(CMK, encryption=GONE)),
    # encryption-enforced
    Case("kms-header-required", "encryption-enforced", "pass", CMK),
    Case(
        "cmk-pinned-by-key-id",
        "encryption-enforced",
        "pass",
        replace(
            CMK,
            policy=policy(
                {
                    "Statement": {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                        "Condition": {
                            "StringNotEquals": {
                                "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN
                            }
                        },
                    }
                }
            ),
        ),
    ),
    Case(
        "kms-header-only-under-a-customer-key-lets-writers-pick-aws-s3",
        "encryption-enforced",
        "warn",
        replace(
            CMK,
            policy=policy({"Statement": [tls_statement(), write_statement("aws:kms")]}),
        ),
        says="aws/s3",
    ),
    Case(
        "dsse-header-only-under-a-customer-key",
        "encryption-enforced",
        "warn",
        replace(
            compliant("dsse-kms"),
            policy=policy({"Statement": [tls_statement(), write_statement("aws:kms:dsse")]}),
        ),
        "dsse-kms",
        says="another account's",
    ),
    Case(
        "header-only-and-the-key-unidentified",
        "encryption-enforced",
        "warn",
        replace(
            CMK,
            key=KEY_DENIED,
            policy=policy({"Statement": [tls_statement(), write_statement("aws:kms")]}),
        ),
        says="could not be identified",
    ),
    Case(
        "kms-header-only-is-enough-for-the-aws-managed-key",
        "encryption-enforced",
        "pass",
        compliant("sse-kms-aws-managed"),
        "sse-kms-aws-managed",
    ),
    Case(
        "deny-on-one-character-keys-is-not-enforcement",
        "encryption-enforced",
        "fail",
        replace(
            CMK,
            policy=policy(
                {
                    "Statement": [
                        {**write_statement("aws:kms"), "Resource": f"arn:aws:s3:::{BUCKET}/?"},
                        {**key_statement(KEY_ARN), "Resource": f"arn:aws:s3:::{BUCKET}/?"},
                    ]
                }
            ),
        ),
    ),
    Case("sse-c-required", "encryption-enforced", "pass", compliant("sse-c"), "sse-c"),
    Case("dsse-required", "encryption-enforced", "pass", compliant("dsse-kms"), "dsse-kms"),
    Case("no-policy", "encryption-enforced", "fail", replace(CMK, policy=NO_POLICY)),
    Case(
        "wrong-header",
        "encryption-enforced",
        "fail",
        replace(CMK, policy=policy({"Statement": [write_statement("AES256")]})),
    ),
    Case(
        "header-presence-only",
        "encryption-enforced",
        "warn",
        replace(
            CMK,
            policy=policy(
                {
                    "Statement": [
                        {
                            **write_statement("aws:kms"),
                            "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
                        }
                    ]
                }
            ),
        ),
    ),
    Case("not-required", "encryption-enforced", "not-applicable", compliant("sse-s3"), "sse-s3"),
    Case(
        "policy-refused",
        "encryption-enforced",
        "unknown",
        replace(CMK, policy=POLICY_DENIED),
        says="s3:GetBucketPolicy",
    ),
    Case("bucket-gone", "encryption-enforced", "error", replace(CMK, policy=GONE)),
    # tls-only
    Case("denied-over-http", "tls-only", "pass", CMK),
    Case("sse-s3-too", "tls-only", "pass", compliant("sse-s3"), "sse-s3"),
    Case("no-policy", "tls-only", "fail", replace(CMK, policy=NO_POLICY)),
    Case(
        "reads-only",
        "tls-only",
        "fail",
        replace(CMK, policy=policy({"Statement": [{**tls_statement(), "Action": "s3:GetObject"}]})),
    ),
    Case(
        "not-required",
        "tls-only",
        "not-applicable",
        CMK,
        conf=config("sse-kms-cmk", bucket_policy={"deny_insecure_transport": False}),
    ),
    Case("policy-refused", "tls-only", "unknown", replace(CMK, policy=POLICY_DENIED)),
    Case("bucket-gone", "tls-only", "error", replace(CMK, policy=GONE)),
    # audit-trail
    Case("not-required", "audit-trail", "not-applicable", CMK),
    Case(
        "logging-trail",
        "audit-trail",
        "pass",
        CMK,
        trails=[trail("local", is_multi_region=False), GOOD_TRAIL],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "advanced-selectors",
        "audit-trail",
        "pass",
        CMK,
        trails=[trail("adv", selectors_kind="advanced")],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "excludes-kms",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("org-trail", excludes_kms=True)],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="excludes KMS events",
    ),
    Case(
        "not-logging",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("org-trail", is_logging=False)],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "single-region-of-unknown-region",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("local", is_multi_region=False)],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "single-region-in-the-keys-region-records-its-use",
        "audit-trail",
        "pass",
        CMK,
        trails=[trail("local", is_multi_region=False, home_region="eu-west-1")],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="single-Region, eu-west-1",
    ),
    Case(
        "single-region-elsewhere-does-not",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("virginia", is_multi_region=False, home_region="us-east-1")],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="the key is in eu-west-1",
    ),
    Case(
        "single-region-trail-and-a-multi-region-key",
        "audit-trail",
        "warn",
        replace(CMK, key=key(multi_region=True, related_regions=["ap-south-1", "us-east-1"])),
        trails=[trail("local", is_multi_region=False, home_region="eu-west-1")],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="ap-south-1, us-east-1",
    ),
    Case(
        "aws-managed-key-is-used-in-the-buckets-region",
        "audit-trail",
        "pass",
        replace(compliant("sse-kms-aws-managed"), region="us-east-1"),
        "sse-kms-aws-managed",
        trails=[trail("local", is_multi_region=False, home_region="us-east-1")],
        conf=config("sse-kms-aws-managed", require_audit_trail=True),
    ),
    Case(
        "one-unreadable-trail-does-not-hide-a-good-one",
        "audit-trail",
        "pass",
        CMK,
        trails=[UNREADABLE_TRAIL, GOOD_TRAIL],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "only-unreadable-trails",
        "audit-trail",
        "unknown",
        CMK,
        trails=[UNREADABLE_TRAIL],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="cloudtrail:GetEventSelectors",
    ),
    Case(
        "unreadable-trail-and-a-failing-one",
        "audit-trail",
        "unknown",
        CMK,
        trails=[UNREADABLE_TRAIL, trail("off", is_logging=False)],
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="off: not logging",
    ),
    Case(
        "no-management-events",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("data-only", management_events=False, selectors_kind="advanced")],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "write-only-misses-decrypt",
        "audit-trail",
        "fail",
        CMK,
        trails=[trail("writes", logs_read_events=False)],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "no-trail",
        "audit-trail",
        "fail",
        CMK,
        trails=[],
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "trails-refused",
        "audit-trail",
        "unknown",
        CMK,
        trails=TRAILS_DENIED,
        conf=config("sse-kms-cmk", require_audit_trail=True),
        says="cloudtrail:DescribeTrails",
    ),
    Case(
        "trails-not-collected",
        "audit-trail",
        "unknown",
        CMK,
        trails=None,
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    Case(
        "trails-throttled",
        "audit-trail",
        "error",
        CMK,
        trails=TRAILS_FAULT,
        conf=config("sse-kms-cmk", require_audit_trail=True),
    ),
    # object-sample
    Case("not-sampled", "object-sample", "not-applicable", CMK),
    Case("empty-sample", "object-sample", "not-applicable", replace(CMK, objects=[])),
    Case("kms-objects", "object-sample", "pass", replace(CMK, objects=[KMS_OBJECT])),
    Case(
        "old-sse-s3-object",
        "object-sample",
        "fail",
        replace(CMK, objects=[KMS_OBJECT, obj("old.csv", server_side_encryption="AES256")]),
        says="old.csv (AES256)",
    ),
    Case(
        "object-under-another-key",
        "object-sample",
        "fail",
        replace(
            CMK,
            objects=[obj("x", server_side_encryption="aws:kms", sse_kms_key_id=OTHER_KEY_ARN)],
        ),
    ),
    Case(
        "unencrypted-object",
        "object-sample",
        "fail",
        replace(CMK, objects=[obj("ancient.bin")]),
        says="ancient.bin (none)",
    ),
    Case(
        "sse-s3-objects",
        "object-sample",
        "pass",
        replace(compliant("sse-s3"), objects=[obj("a", server_side_encryption="AES256")]),
        "sse-s3",
    ),
    Case(
        "client-side-envelope",
        "object-sample",
        "pass",
        replace(
            compliant("client-side-kms"),
            objects=[obj("e", server_side_encryption="AES256", client_side_envelope=True)],
        ),
        "client-side-kms",
    ),
    Case(
        "client-side-missing-envelope",
        "object-sample",
        "fail",
        replace(
            compliant("client-side-own-keys"),
            objects=[obj("plain", server_side_encryption="AES256")],
        ),
        "client-side-own-keys",
    ),
    Case(
        "sse-c-objects",
        "object-sample",
        "pass",
        replace(compliant("sse-c"), objects=[obj("c", sse_customer_algorithm="AES256")]),
        "sse-c",
    ),
    Case(
        "sse-s3-object-where-sse-c-expected",
        "object-sample",
        "fail",
        replace(compliant("sse-c"), objects=[obj("c", server_side_encryption="AES256")]),
        "sse-c",
    ),
    Case(
        "head-object-refused",
        "object-sample",
        "unknown",
        replace(CMK, objects=LIST_DENIED),
        says="s3:GetObject",
    ),
    Case("throttled", "object-sample", "error", replace(CMK, objects=LIST_FAULT)),
]


def run(case: Case) -> Finding:
    """The case's check's finding."""
    findings = check_bucket(
        case.bucket,
        expected=case.conf if case.conf is not None else config(case.option),
        option=case.option,
        trails=case.trails,
    )
    (found,) = [f for f in findings if f.check == case.check]
    return found


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check}:{c.status}:{c.name}" for c in CASES])
def test_check_gives_status(case: Case) -> None:
    """Each check gives the stated status on the stated bucket."""
    found = run(case)
    assert found.status == case.status, found
    if case.says is not None:
        assert case.says in found.message, found.message
    assert found.remediation
    if found.status in ("fail", "warn", "unknown", "error"):
        assert found.remediation != NOTHING_TO_DO, found
    if found.status == "unknown":
        assert "missing permission" in found.message


# The check ids of CONTRACT.md's table, as published (contract data, not rules).
CONTRACT_CHECK_IDS = [
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
]


def test_check_ids_are_the_contracts() -> None:
    """The module reports exactly CONTRACT.md's check ids, in its order.

    Where the workspace's CONTRACT.md sits beside the checkout (as in CI), its table is read
    too, so a change to the contract shows up here.
    """
    assert list(CHECK_IDS) == CONTRACT_CHECK_IDS
    if CONTRACT.exists():
        table = CONTRACT.read_text(encoding="utf-8").split("| check | what it compares |", 1)[1]
        assert re.findall(r"^\| `([a-z-]+)` \|", table, flags=re.MULTILINE) == CONTRACT_CHECK_IDS


@pytest.mark.parametrize("check", CHECK_IDS)
def test_every_check_has_a_passing_and_a_non_passing_case(check: str) -> None:
    """Every check id is exercised with a pass and with something else (STYLE habit 3)."""
    statuses = {c.status for c in CASES if c.check == check}
    assert "pass" in statuses, f"{check} has no passing case"
    assert statuses - {"pass", "not-applicable"}, f"{check} has no non-passing case"


@pytest.mark.parametrize("option", sorted(RULESET.options))
def test_a_bucket_following_each_option_passes(option: str) -> None:
    """A bucket configured exactly as an option says has no failing or unknown finding."""
    conf = config(option, require_audit_trail=True)
    findings = check_bucket(compliant(option), expected=conf, option=option, trails=GOOD_TRAILS)
    assert [f.check for f in findings] == list(CHECK_IDS)
    assert bucket_status(findings) == "pass", [f for f in findings if f.status != "pass"]


@pytest.mark.parametrize("option", sorted(RULESET.options))
def test_an_unreadable_bucket_is_never_pass_or_fail(option: str) -> None:
    """With every fact refused, no finding passes or fails: all unknown or not applicable."""
    bucket = BucketFacts(
        name=BUCKET, encryption=DENIED, policy=POLICY_DENIED, key=KEY_DENIED, objects=LIST_DENIED
    )
    conf = config(option, require_audit_trail=True)
    findings = check_bucket(bucket, expected=conf, option=option, trails=TRAILS_DENIED)
    assert {f.status for f in findings} <= {"unknown", "not-applicable"}
    assert bucket_status(findings) == "unknown"


def test_gone_bucket_is_error() -> None:
    """A bucket deleted between listing and reading is an error, not a failure."""
    bucket = BucketFacts(name=BUCKET, encryption=GONE, policy=GONE)
    findings = check_bucket(bucket, expected=config("sse-kms-cmk"), option="sse-kms-cmk", trails=[])
    assert bucket_status(findings) == "error"
    assert "fail" not in {f.status for f in findings}


def finding(status: str) -> Finding:
    """A finding with only its status of interest."""
    return Finding("tls-only", status, "medium", "-", "-", "-", "-")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["pass", "fail", "error", "unknown", "warn"], "error"),
        (["pass", "unknown", "fail", "warn"], "fail"),
        (["pass", "warn", "unknown"], "unknown"),
        (["pass", "warn", "not-applicable"], "warn"),
        (["pass", "not-applicable"], "pass"),
        (["not-applicable", "not-applicable"], "pass"),
        ([], "pass"),
    ],
)
def test_bucket_status_is_the_worst_finding(statuses: list[str], expected: str) -> None:
    """error > fail > unknown > warn > pass; not-applicable never counts."""
    assert bucket_status([finding(s) for s in statuses]) == expected


def test_summary_counts_buckets_per_status() -> None:
    """The summary has CONTRACT.md's keys (plus warn) and counts every bucket once."""
    summary = summarize(["pass", "fail", "fail", "unknown", "error", "warn"])
    assert summary == {"buckets": 6, "pass": 1, "fail": 2, "unknown": 1, "error": 1, "warn": 1}
    assert summarize([]) == {
        "buckets": 0,
        "pass": 0,
        "fail": 0,
        "unknown": 0,
        "error": 0,
        "warn": 0,
    }


def test_finding_serialises_as_the_contract_shows() -> None:
    """to_dict gives exactly the probe JSON's finding keys."""
    (first, *_) = check_bucket(
        CMK, expected=config("sse-kms-cmk"), option="sse-kms-cmk", trails=None
    )
    assert list(first.to_dict()) == [
        "check",
        "status",
        "severity",
        "expected",
        "actual",
        "message",
        "remediation",
    ]


def test_failed_default_encryption_gives_a_cli_fix_from_the_rule_set() -> None:
    """The remediation is the put-bucket-encryption command with the expected rule."""
    found = run(Case("x", "default-encryption", "fail", replace(CMK, encryption=AES)))
    assert found.remediation.startswith(f"aws s3api put-bucket-encryption --bucket {BUCKET}")
    assert '"SSEAlgorithm":"aws:kms"' in found.remediation


def test_encryption_fix_keeps_the_buckets_own_key() -> None:
    """A fix to a customer-key bucket names its key, not the rule set's placeholder."""
    bucket = replace(CMK, encryption=rules(kms_rule(bucket_key_enabled=False)))
    found = run(Case("x", "bucket-key", "fail", bucket))
    assert KEY_ARN in found.remediation
    assert "<your key ARN>" not in found.remediation


def test_tls_fix_denies_plain_http_on_the_bucket_and_its_objects() -> None:
    """The tls-only fix names the bucket and its objects, as AWS's example does, and passes."""
    found = run(Case("x", "tls-only", "fail", replace(CMK, policy=NO_POLICY)))
    statement = json.loads(found.remediation.split("): ", 1)[1])
    assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    fixed = replace(CMK, policy=policy({"Version": "2012-10-17", "Statement": [statement]}))
    assert run(Case("x", "tls-only", "pass", fixed)).status == "pass"


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion", "PendingImport", "Unavailable"])
def test_an_unusable_key_fails_only_its_state(state: str) -> None:
    """kms-key-state carries the failure; rotation of a key that cannot be used is not judged."""
    findings = {
        f.check: f
        for f in check_bucket(
            replace(CMK, key=key(key_state=state)),
            expected=config("sse-kms-cmk"),
            option="sse-kms-cmk",
            trails=None,
        )
    }
    assert findings["kms-key-state"].status == "fail"
    assert findings["kms-key-rotation"].status == "not-applicable"


def test_a_bucket_whose_key_does_not_exist_fails_and_is_not_an_error() -> None:
    """Every write fails: that is a finding about the bucket, not a failure to look."""
    findings = check_bucket(
        replace(CMK, key=MISSING_KEY),
        expected=config("sse-kms-cmk"),
        option="sse-kms-cmk",
        trails=None,
    )
    assert bucket_status(findings) == "fail"
    state = next(f for f in findings if f.check == "kms-key-state")
    assert "does not exist" in state.message
    assert "check that the bucket exists" not in state.remediation.lower()
    assert KEY_ARN not in state.remediation  # the fix names another key, not the missing one


@pytest.mark.parametrize("logs_read_events", [True, False])
def test_a_trail_excluding_kms_events_is_said_to_exclude_them_not_to_be_write_only(
    logs_read_events: bool,
) -> None:
    """A trail of all management events but KMS misses key use because it excludes KMS."""
    excluding = trail("all-but-kms", excludes_kms=True, logs_read_events=logs_read_events)
    found = run(
        Case(
            "x",
            "audit-trail",
            "fail",
            CMK,
            trails=[excluding],
            conf=config("sse-kms-cmk", require_audit_trail=True),
        )
    )
    assert found.status == "fail"
    assert "excludes KMS events" in found.message
    assert "write-only" not in found.message
