"""What the checks read. The collectors' models (app/probe/models.py) map onto these one to one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


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
