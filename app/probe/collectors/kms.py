"""KMS: the key behind a bucket (DescribeKey), its rotation where it can rotate, a per-run cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

from app.probe.models import (
    KeyFacts,
    KeyNotFound,
    Problem,
    arn_region,
    key_region,
    supports_rotation,
)
from app.probe.session import Operation, fetch, policy_actions

OPERATIONS: tuple[Operation, ...] = (
    Operation("kms", "DescribeKey", "kms:DescribeKey"),
    Operation("kms", "GetKeyRotationStatus", "kms:GetKeyRotationStatus"),
)
IAM_ACTIONS: tuple[str, ...] = policy_actions(OPERATIONS)
__all__ = [
    "AWS_MANAGED_S3_ALIAS",
    "IAM_ACTIONS",
    "OPERATIONS",
    "KeyCache",
    "describe_key",
    "key_region",
]

AWS_MANAGED_S3_ALIAS = "alias/aws/s3"
NOT_FOUND = "NotFoundException"


def _arn_account(key_ref: str) -> str | None:
    """The account of a key or alias ARN ("arn:aws:kms:region:account:..."), else None."""
    parts = key_ref.split(":")
    return parts[4] if key_ref.startswith("arn:") and len(parts) > 5 else None


def _related_regions(meta: dict[str, Any]) -> list[str]:
    """The Regions of a multi-Region key's primary and replicas, other than its own."""
    config = meta.get("MultiRegionConfiguration") or {}
    own = arn_region(str(meta.get("Arn", "")))
    keys = [config.get("PrimaryKey") or {}, *(config.get("ReplicaKeys") or [])]
    return sorted({str(k["Region"]) for k in keys if k.get("Region") and k["Region"] != own})


def describe_key(
    client: BaseClient, key_ref: str | None, *, own_account: str | None = None
) -> KeyFacts | KeyNotFound | Problem:
    """Describe the key a bucket names, and read its rotation where the key type supports it.

    Args:
        client: A KMS client from make_client, in the bucket's Region.
        key_ref: A key ARN, key id, alias name or alias ARN; None (aws:kms without a key id)
            means the AWS managed key alias/aws/s3.
        own_account: The caller's account, to recognise keys owned by another account.

    Returns:
        KeyFacts; KeyNotFound when KMS says the key (or alias) does not exist; or a Problem:
        "unknown" naming the reason when a key of another account cannot be described (or
        DescribeKey is denied), "error" otherwise.
    """
    ref = key_ref or AWS_MANAGED_S3_ALIAS
    response = fetch(client, "describe_key", KeyId=ref)
    if isinstance(response, Problem):
        if response.code == NOT_FOUND:
            return KeyNotFound(ref=ref, message=response.message)
        owner = _arn_account(ref)
        if owner is not None and own_account is not None and owner != own_account:
            return Problem(
                status="unknown",
                action="kms:DescribeKey",
                code=response.code,
                message=(
                    f"key {ref} belongs to account {owner} and cannot be described from "
                    f"{own_account}: {response.message} (the key policy must allow "
                    "kms:DescribeKey to this account)"
                ),
            )
        return response
    meta = response["KeyMetadata"]
    facts = KeyFacts(
        key_id=str(meta["KeyId"]),
        arn=str(meta["Arn"]),
        account=str(meta.get("AWSAccountId") or _arn_account(str(meta["Arn"])) or ""),
        key_manager=str(meta.get("KeyManager", "")),
        origin=str(meta.get("Origin", "")),
        key_state=str(meta.get("KeyState", "")),
        key_spec=str(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or ""),
        custom_key_store_id=meta.get("CustomKeyStoreId"),
        multi_region=bool(meta.get("MultiRegion", False)),
        related_regions=_related_regions(meta),
    )
    if not supports_rotation(
        key_manager=facts.key_manager, key_spec=facts.key_spec, origin=facts.origin
    ):
        return facts  # imported, CloudHSM, XKS, asymmetric, AWS managed: rotation not applicable
    rotation = fetch(client, "get_key_rotation_status", KeyId=facts.arn)
    if isinstance(rotation, Problem):
        return facts.model_copy(update={"rotation_problem": rotation})
    enabled = bool(rotation.get("KeyRotationEnabled", False))
    period = rotation.get("RotationPeriodInDays")
    return facts.model_copy(
        update={
            "rotation_enabled": enabled,
            "rotation_period_days": int(period) if enabled and period is not None else None,
        }
    )


@dataclass
class _Entry:
    """One cache slot; its lock makes concurrent askers wait for a single DescribeKey."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    result: KeyFacts | KeyNotFound | Problem | None = None


class KeyCache:
    """Describes each key once per run, however many buckets (and threads) share it.

    A key named by ARN is cached under the ARN; an id or alias under (Region, ref), since
    `alias/aws/s3` is a different key in each Region. Once described, a key is also cached
    under its ARN and (Region, key id), so other spellings of it hit the cache. Problems are
    cached too: a denied key is asked about once.
    """

    def __init__(self, *, own_account: str | None = None) -> None:
        """Start empty; `own_account` marks keys of other accounts (see describe_key)."""
        self._own_account = own_account
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    @staticmethod
    def _slot(region: str, ref: str) -> tuple[str, str]:
        """The cache key of a reference as seen from `region`."""
        return ("", ref) if ref.startswith("arn:") else (region, ref)

    def describe(self, client: BaseClient, key_ref: str | None) -> KeyFacts | KeyNotFound | Problem:
        """The cached describe_key(client, key_ref), computed at most once per key.

        Args:
            client: A KMS client from make_client, in the bucket's Region.
            key_ref: As for describe_key.

        Returns:
            As describe_key.
        """
        region = str(client.meta.region_name or "")
        slot = self._slot(region, key_ref or AWS_MANAGED_S3_ALIAS)
        with self._lock:
            entry = self._entries.setdefault(slot, _Entry())
        with entry.lock:
            if entry.result is None:
                entry.result = describe_key(client, key_ref, own_account=self._own_account)
                if isinstance(entry.result, KeyFacts):
                    with self._lock:
                        for alias in (("", entry.result.arn), (region, entry.result.key_id)):
                            self._entries.setdefault(alias, entry)
            return entry.result
