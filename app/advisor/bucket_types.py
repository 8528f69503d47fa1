"""What each kind of S3 bucket can hold in its default encryption configuration.

`rules check` applies every configuration patch to every option a bucket type admits and
refuses the rule set if one yields a configuration PutBucketEncryption would reject for that
bucket type; the advisor never hands out such a configuration.

Directory buckets (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-express-bucket-encryption.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ServerSideEncryptionRule.html): SSE-S3 or
SSE-KMS only; S3 Bucket Keys are always on for SSE-KMS and cannot be disabled; the KMS key is a
customer managed key named by key id or key ARN (no alias), one per bucket for its lifetime.
BlockedEncryptionTypes is a setting of general purpose buckets only
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_BlockedEncryptionTypes.html).
"""

from __future__ import annotations

from typing import Any

ALGORITHMS = {
    "general-purpose": frozenset({"AES256", "aws:kms", "aws:kms:dsse"}),
    "directory": frozenset({"AES256", "aws:kms"}),
}
BLOCKABLE = frozenset({"SSE-C", "NONE"})


def configuration_problems(config: dict[str, Any], bucket_type: str) -> list[str]:
    """Why PutBucketEncryption would refuse this configuration on this bucket type.

    Args:
        config: A recommendation's configuration (``ServerSideEncryptionConfiguration`` and
            the advisor's own keys beside it).
        bucket_type: ``general-purpose`` or ``directory``.

    Returns:
        One sentence per problem; empty when the bucket type can hold the configuration.
    """
    problems: list[str] = []
    if "ServerSideEncryptionConfiguration" not in config:
        return problems  # configures nothing that PutBucketEncryption would judge
    sse = config.get("ServerSideEncryptionConfiguration")
    rules = sse.get("Rules") if isinstance(sse, dict) else None
    if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], dict):
        return ["ServerSideEncryptionConfiguration.Rules must hold exactly one rule"]
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    key_id = default.get("KMSMasterKeyID")
    bucket_key = rule.get("BucketKeyEnabled")
    allowed = ALGORITHMS[bucket_type]
    if algorithm not in allowed:
        problems.append(
            f"SSEAlgorithm {algorithm!r} is not accepted by {bucket_type} buckets "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    if algorithm == "aws:kms:dsse" and bucket_key is True:
        problems.append("DSSE-KMS does not use S3 Bucket Keys: BucketKeyEnabled cannot be true")
    if algorithm not in ("aws:kms", "aws:kms:dsse") and key_id is not None:
        problems.append(f"KMSMasterKeyID is set but SSEAlgorithm is {algorithm!r}")
    blocked = rule.get("BlockedEncryptionTypes")
    if bucket_type == "general-purpose":
        if blocked is not None:
            types = blocked.get("EncryptionType") if isinstance(blocked, dict) else None
            if not isinstance(types, list) or not set(types) <= BLOCKABLE:
                problems.append("BlockedEncryptionTypes.EncryptionType must list SSE-C or NONE")
        return problems
    # Directory buckets.
    if blocked is not None:
        problems.append("BlockedEncryptionTypes is a setting of general purpose buckets only")
    if algorithm == "aws:kms":
        if bucket_key is not True:
            problems.append(
                "S3 Bucket Keys are always on for SSE-KMS in a directory bucket: "
                "BucketKeyEnabled must be true"
            )
        if not isinstance(key_id, str) or not key_id:
            problems.append(
                "a directory bucket's SSE-KMS needs a customer managed key (KMSMasterKeyID)"
            )
        elif key_id.startswith("alias/") or ":alias/" in key_id:
            problems.append(
                f"KMSMasterKeyID {key_id!r} names an alias: directory buckets take the key id or key ARN only"
            )
    return problems
