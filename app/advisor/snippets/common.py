"""The configuration reading shared by the three snippets: key, rules, notes, policy (pure)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any

DEFAULT_ROTATION_DAYS = 365  # KMS's default automatic rotation period
TRAIL_LOG_BUCKET = "<your trail log bucket>"
READER_PLACEHOLDER = "<reader account id>"


@dataclass(frozen=True)
class _Key:
    """What the configuration says about the KMS key: who manages it, where it lives, rotation."""

    manager: str | None
    origin: str | None
    alias: str | None
    literal: str | None  # a KMSMasterKeyID that is an actual ARN or id, not a placeholder
    placeholder: str
    rotate: bool
    period: int
    period_range: tuple[int, int] | None
    on_demand: bool

    @property
    def customer(self) -> bool:
        """A customer managed key."""
        return self.manager == "CUSTOMER"

    @property
    def created(self) -> bool:
        """The snippets create the key (standard key store, AWS or imported material)."""
        return self.customer and self.literal is None and self.origin in ("AWS_KMS", "EXTERNAL")

    @property
    def custom_store(self) -> bool:
        """The key lives in a custom key store, created outside the snippets."""
        return self.customer and self.origin not in ("AWS_KMS", "EXTERNAL")

    @property
    def auto_rotation(self) -> bool:
        """Automatic rotation is configured by the snippets (origin AWS_KMS only)."""
        return self.customer and self.origin == "AWS_KMS" and self.rotate


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<") and value.endswith(">")


def _rules(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = configuration["ServerSideEncryptionConfiguration"]["Rules"]
    return rules


def _key(configuration: dict[str, Any]) -> _Key:
    kms = configuration.get("kms_key") or {}
    rotation = configuration.get("key_rotation") or {}
    ids = [
        r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        for r in _rules(configuration)
    ]
    given = [i for i in ids if i]
    span = rotation.get("period_days_range")
    return _Key(
        manager=kms.get("KeyManager"),
        origin=kms.get("Origin"),
        alias=kms.get("alias"),
        literal=next((i for i in given if not _is_placeholder(i)), None),
        placeholder=next((i for i in given if _is_placeholder(i)), "<your key ARN>"),
        rotate=bool(rotation.get("enabled")),
        period=int(rotation.get("period_days") or DEFAULT_ROTATION_DAYS),
        period_range=(int(span[0]), int(span[1])) if span else None,
        on_demand=bool(rotation.get("on_demand")),
    )


def _key_source(configuration: dict[str, Any], key: _Key) -> str | None:
    """Where a template takes the key ARN from: literal, resource, parameter, or nowhere."""
    if key.literal:
        return "literal"
    if key.created:
        return "resource"
    placeholders = any(
        _is_placeholder(r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID"))
        for r in _rules(configuration)
    )
    return "parameter" if key.custom_store or placeholders else None


def _notes(configuration: dict[str, Any], key: _Key) -> list[str]:
    """Remarks shared by the three snippets, one paragraph each (wrapped by _comment)."""
    notes: list[str] = []
    client = configuration.get("client_side")
    if client:
        text = f"Encryption happens in your application, before upload, with {client['library']}"
        if client.get("wrapping_key"):
            text += f"; its data keys are protected by: {client['wrapping_key']}"
        notes.append(text + ".")
        if client.get("envelope_metadata"):
            notes.append(
                f"Encrypted objects carry the metadata {', '.join(client['envelope_metadata'])}."
            )
        notes.append("Only the bucket's default (server-side) encryption is configured here.")
    if any(
        "NONE" in r.get("BlockedEncryptionTypes", {}).get("EncryptionType", [])
        for r in _rules(configuration)
    ):
        notes.append(
            "SSE-C is unblocked (BlockedEncryptionTypes NONE): S3 blocks SSE-C on new buckets "
            "by default, so writes with customer-provided keys need this setting."
        )
    if key.manager == "AWS":
        text = f"KMS key: the AWS managed key {key.alias or 'aws/s3'}; nothing to create."
        if key.rotate:
            text += f" AWS rotates it (every {key.period} days); nothing to configure."
        notes.append(text)
    if key.custom_store:
        notes.append(
            f"KMS key: origin {key.origin}, in a custom key store that you create and connect "
            "outside these snippets; pass the ARN of a key created in it."
        )
    if key.customer and key.origin == "EXTERNAL":
        notes.append(
            "KMS key: origin EXTERNAL (imported key material). After creating the key, import "
            "your material: aws kms get-parameters-for-import, then aws kms import-key-material."
        )
    if key.customer and not key.auto_rotation:
        notes.append(f"Automatic key rotation: not configured for this key (origin {key.origin}).")
    if key.auto_rotation and key.period_range:
        low, high = key.period_range
        notes.append(
            f"Choose a rotation period of {low} to {high} days ({key.period} until you do)."
        )
    if key.on_demand:
        notes.append("Rotate on demand whenever you decide, in addition to the schedule:")
        notes.append(f"aws kms rotate-key-on-demand --key-id {_sq(key.literal or key.placeholder)}")
    readers = _readers(configuration)
    if readers:
        who = ", ".join(readers)
        text = f"Other accounts read the objects ({who}): the bucket policy lets them get them"
        if key.customer:
            text += (
                ", and the key policy lets them use the key for kms:Decrypt only through S3 in "
                "the bucket's Region (kms:ViaService, kms:CallerAccount)"
            )
        notes.append(
            text + ". Each reader account must also allow its own users and roles s3:GetObject "
            "on the bucket" + (" and kms:Decrypt on the key" if key.customer else "") + " in "
            "their IAM policies."
        )
        if key.customer:
            notes.append(
                "From another account, name the key by its full key ARN, never by an alias or "
                "a key id: those resolve in the caller's own account."
            )
    policy = configuration.get("bucket_policy") or {}
    if policy.get("deny_unencrypted_writes") and _header(configuration) != "SSE-C":
        notes.append(
            "The bucket policy denies every PutObject that does not send the "
            "x-amz-server-side-encryption header (and, with a KMS key, the "
            "x-amz-server-side-encryption-aws-kms-key-id header): clients that rely on the "
            "bucket's default encryption fail with AccessDenied. To rely on the default "
            'instead, deny only a wrong header: add "Null": {"s3:x-amz-server-side-encryption": '
            '"false"} to the condition of DenyWritesWithoutRequiredEncryption'
            + (
                ' and "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"} to '
                "that of DenyWritesWithOtherKmsKey."
                if str(_header(configuration)).startswith("aws:kms")
                and _key_source(configuration, key)
                else "."
            )
        )
    if configuration.get("require_audit_trail"):
        notes.append(
            "Key-use audit is required: a logging, multi-Region CloudTrail trail with management "
            "events that does not exclude KMS events (kms.amazonaws.com). Its log bucket must "
            "exist and allow CloudTrail to write to it."
        )
    return notes


def _comment(lines: list[str]) -> list[str]:
    """Comment lines (`# `), long paragraphs wrapped at 96 columns."""
    out: list[str] = []
    for line in lines:
        out += [f"# {part}" for part in textwrap.wrap(line, 94, break_on_hyphens=False)]
    return out


def _readers(configuration: dict[str, Any]) -> list[str]:
    """The accounts that read the objects from other accounts (ids or placeholders)."""
    return [str(a) for a in configuration.get("cross_account_readers") or []]


def _header(configuration: dict[str, Any]) -> Any:
    """The encryption header the bucket policy requires on writes."""
    policy = configuration.get("bucket_policy") or {}
    return policy.get("required_encryption_header") or (
        _rules(configuration)[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
    )


def _reader_key_statement(readers: Any, *, via_service: Any) -> dict[str, Any]:
    """The key policy statement that lets the reader accounts decrypt through S3 only.

    `readers` is the accounts in the target's syntax (a list of ids, or a reference to one).
    """
    return {
        "Sid": "AllowReaderAccountsToDecryptThroughS3",
        "Effect": "Allow",
        "Principal": {"AWS": readers},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:ViaService": via_service, "kms:CallerAccount": readers}
        },
    }


def _is_account(value: str) -> bool:
    return len(value) == 12 and value.isascii() and value.isdigit()


def _reader_key_comment(readers: list[str], via_service: str) -> list[str]:
    """The reader statement as comment lines, for a key these snippets do not create."""
    grant = _reader_key_statement(readers, via_service=via_service)
    about = (
        "The key is not created here: add this statement to its key policy (aws kms "
        "get-key-policy, merge, aws kms put-key-policy --policy-name default):"
    )
    return ["", *_comment([about])] + [
        f"# {line}" for line in json.dumps(grant, indent=2).splitlines()
    ]


def _statements(
    configuration: dict[str, Any],
    *,
    bucket_arn: Any,
    objects_arn: Any,
    key_arn: Any,
    readers: Any = None,
) -> list[dict[str, Any]]:
    """The bucket policy statements of `bucket_policy`, with the ARNs in the target's syntax;
    with `readers` (the reader accounts in the target's syntax), the statement that lets them
    get the objects comes first."""
    policy = configuration.get("bucket_policy") or {}
    deny: dict[str, Any] = {"Effect": "Deny", "Principal": "*"}
    statements: list[dict[str, Any]] = []
    if readers is not None:
        statements.append(
            {"Sid": "AllowReaderAccountsToReadObjects", "Effect": "Allow"}
            | {"Principal": {"AWS": readers}, "Action": "s3:GetObject", "Resource": objects_arn}
        )
    if policy.get("deny_insecure_transport"):
        statements.append(
            {"Sid": "DenyInsecureTransport", **deny, "Action": "s3:*"}
            | {"Resource": [bucket_arn, objects_arn]}
            | {"Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        )
    if not policy.get("deny_unencrypted_writes"):
        return statements
    put: dict[str, Any] = {**deny, "Action": "s3:PutObject", "Resource": objects_arn}
    header = _header(configuration)
    if header == "SSE-C":
        condition = {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}
        return [*statements, {"Sid": "DenyWritesWithoutSSEC", **put, "Condition": condition}]
    condition = {"StringNotEquals": {"s3:x-amz-server-side-encryption": header}}
    statements.append({"Sid": "DenyWritesWithoutRequiredEncryption", **put, "Condition": condition})
    if key_arn is not None and str(header).startswith("aws:kms"):
        condition = {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}
        statements.append({"Sid": "DenyWritesWithOtherKmsKey", **put, "Condition": condition})
    return statements


def _sq(text: str) -> str:
    """Single-quote text for a POSIX shell."""
    return "'" + text.replace("'", "'\"'\"'") + "'"
